/** Number formatting shared by the CLI, the benchmarks and the browser page. */

/** `part` as a percentage of `whole`, e.g. `97.70`. */
export function percent(part: number, whole: number, digits = 2): string {
  return whole === 0 ? (0).toFixed(digits) : ((100 * part) / whole).toFixed(digits);
}

/** `1234567` → `1,234,567`, as the seed prints samples per second. */
export function grouped(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}

const NAMED_ESCAPES: Record<string, string> = { '\n': '\\n', '\r': '\\r', '\t': '\\t' };

/**
 * `text` safe to echo on a terminal: control characters (C0, DEL, C1) and the Unicode marks that
 * break or reorder lines are shown as escapes (`\n`, `\x1b`, `\u202e`), so that text from a file
 * cannot move the cursor, recolour the terminal or forge lines of output.
 */
export function printable(text: string): string {
  return text.replace(/[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g, (c) => {
    const code = c.charCodeAt(0);
    return NAMED_ESCAPES[c] ?? (code < 0x100 ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16)}`);
  });
}
