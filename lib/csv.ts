/** One CSV field: quoted (inner quotes doubled) when it holds the delimiter, a quote or a line break (RFC 4180). */
export function csvField(value: string, delimiter = ','): string {
  return value.includes(delimiter) || value.includes('"') || value.includes('\n') || value.includes('\r')
    ? `"${value.replaceAll('"', '""')}"`
    : value;
}
