import { PGlite } from '@electric-sql/pglite';
import { createPostgresPersistence } from '@entelix/postgres';

const pglite = await PGlite.create('./data/entelix'); // or no argument: in memory
const persistence = await createPostgresPersistence({ pglite });

// Or let the factory create (and later close) an in-memory PGlite:
const scratch = await createPostgresPersistence();

export {};
