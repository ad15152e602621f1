/** Minimal, dependency-free terminal formatting for the demo transcript. */

const useColor = process.stdout.isTTY && process.env.NO_COLOR === undefined;
const paint = (code: number) => (text: string) =>
  useColor ? `\u001b[${code}m${text}\u001b[0m` : text;
export const bold = paint(1);
export const dim = paint(2);
export const green = paint(32);
export const red = paint(31);
export const cyan = paint(36);

export function heading(text: string): void {
  console.log(`\n${bold(cyan(`== ${text}`))}`);
}

export function line(text: string): void {
  console.log(`   ${text}`);
}

/** Print rows as an aligned table with a header. */
export function table(header: string[], rows: string[][]): void {
  const widths = header.map((title, i) =>
    Math.max(title.length, ...rows.map((row) => (row[i] ?? '').length)),
  );
  const render = (cells: string[]) =>
    cells
      .map((cell, i) => cell.padEnd(widths[i] ?? 0))
      .join('  ')
      .trimEnd();
  console.log(`   ${bold(render(header))}`);
  for (const row of rows) console.log(`   ${render(row)}`);
}

/**
 * The last 8 hex digits of a checkpoint id: its random part, enough to tell checkpoints
 * apart on screen (the leading digits of a UUIDv7 are a shared timestamp).
 */
export function shortId(id: string | null): string {
  return id === null ? '-' : `…${id.slice(-8)}`;
}
