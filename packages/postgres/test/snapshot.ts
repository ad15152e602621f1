/** Run one statement and hand back its rows (a `pg` pool or a PGlite transaction). */
export type RowReader = (text: string, params?: unknown[]) => Promise<{ rows: any[] }>;

// Every table of the schema (so a table added by a later migration is covered too),
// with its primary-key columns in key order.
const TABLES_SQL = `
SELECT c.relname AS name,
       array(SELECT quote_ident(a.attname)
               FROM unnest(i.indkey) WITH ORDINALITY AS k(attnum, position)
               JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = k.attnum
              ORDER BY k.position) AS key_columns
  FROM pg_class c
  JOIN pg_namespace n ON n.oid = c.relnamespace
  JOIN pg_index i ON i.indrelid = c.oid AND i.indisprimary
 WHERE n.nspname = $1 AND c.relkind = 'r'
 ORDER BY c.relname COLLATE "C"`;

/**
 * A deterministic text dump of every table of `schema`: one `row_to_json` line per
 * row (the text columns as stored, byte for byte), in primary-key order. Run it as a
 * role that bypasses row-level security, or it sees only what no tenant sees: nothing.
 */
export async function dumpSchema(read: RowReader, schema: string): Promise<string> {
  const tables = (await read(TABLES_SQL, [schema])).rows as {
    name: string;
    key_columns: string[];
  }[];
  const parts: string[] = [];
  for (const table of tables) {
    const { rows } = await read(
      `SELECT row_to_json(t)::text AS line FROM "${schema}".${JSON.stringify(table.name)} t
        ORDER BY ${table.key_columns.map((column) => `t.${column}`).join(', ')}`,
    );
    parts.push(`-- ${table.name}`, ...rows.map((row) => row.line as string));
  }
  return parts.join('\n');
}
