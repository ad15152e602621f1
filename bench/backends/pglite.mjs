// PGlite in this process: the Entelix bundle and raw statements on the same instance.
// PGlite runs as its superuser, which row-level security does not restrict.

import { PGlite } from '@electric-sql/pglite';
import { createPostgresPersistence } from '@entelix/postgres';
import { fixturesSql, rawSchemaSql, sqlCases } from './sql.mjs';

export async function openPglite({ state }) {
  const pglite = await PGlite.create();
  const schema = 'entelix_bench';
  const persistence = await createPostgresPersistence({ pglite, schema });
  const { raw, sql } = rawSchemaSql(schema);
  await pglite.exec(`${sql} ${fixturesSql({ schema, raw, state, growth: false })}`);
  const query = (text, params) => pglite.query(text, params);
  return {
    name: 'pglite',
    cases: await sqlCases({ persistence, query, raw, state }),
    async close() {
      await persistence.close();
      await pglite.close();
    },
  };
}
