const persistence = await createPostgresPersistence({ pool, schema: 'entelix', migrate: 'verify' });

export {};
