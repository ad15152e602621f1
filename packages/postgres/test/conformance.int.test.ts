import { runConformance } from '@entelix/conformance';
import pg from 'pg';
import { describeWithService } from '../../../test-support/services.js';
import { createPostgresPersistence } from '../src/index.js';
import { createTestSchema, type TestSchema } from './pg-support.js';
import { dumpSchema } from './snapshot.js';

describeWithService('DATABASE_URL', 'postgres conformance (application role)', (url) => {
  // A fresh schema per run, migrated by the owner; the suite itself connects as a
  // non-superuser application role so forced row-level security is really in force.
  let setup: Promise<{ schema: TestSchema; appPool: pg.Pool }> | undefined;
  const open = () => {
    setup ??= createTestSchema(url).then((schema) => ({
      schema,
      appPool: new pg.Pool({ connectionString: schema.appUrl, max: 10 }),
    }));
    return setup;
  };

  runConformance({
    name: 'postgres',
    async create() {
      const { schema, appPool } = await open();
      return createPostgresPersistence({ pool: appPool, schema: schema.schema, migrate: 'verify' });
    },
    // Read as the owner (a superuser here), which row-level security does not bind, so
    // the dump holds every tenant's rows.
    async snapshot() {
      const { schema } = await open();
      return dumpSchema((text, params) => schema.ownerPool.query(text, params), schema.schema);
    },
    async teardown() {
      if (setup === undefined) return;
      const { schema, appPool } = await setup;
      await appPool.end();
      await schema.drop();
    },
  });
});
