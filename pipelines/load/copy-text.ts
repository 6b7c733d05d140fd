/**
 * PostgreSQL COPY text format: columns separated by tabs, rows by newlines, NULL as \N, and backslash, tab,
 * newline and carriage return escaped. Fast path: most values need no escaping at all.
 */
const NEEDS_ESCAPE = /[\\\t\n\r]/;

export function copyValue(value: string | number | null | undefined): string {
  if (value === null || value === undefined) return '\\N';
  const text = typeof value === 'string' ? value : String(value);
  if (!NEEDS_ESCAPE.test(text)) return text;
  return text.replace(/[\\\t\n\r]/g, (ch) =>
    ch === '\\' ? '\\\\' : ch === '\t' ? '\\t' : ch === '\n' ? '\\n' : '\\r',
  );
}

/** A JSON text as a COPY value: JSON writes tabs and line breaks as escapes, so only backslashes are doubled. */
export function copyJson(json: string): string {
  return json.includes('\\') ? json.replaceAll('\\', '\\\\') : json;
}
