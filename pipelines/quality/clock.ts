/**
 * The timeliness clock (README "Quality reports"): it runs from a record's produced date to its delivery —
 * `delivered_at`, the platform's receipt or update time of a platform record, the time guiji first saw the file
 * in incoming/ for a drop file's record — never to the time of a later load or rerun. Only a record whose
 * delivery is unknown (a platform row with neither SJC nor CREATE_DATE, a record loaded before guiji kept
 * delivery times) falls back to the time it was loaded, `received_at`.
 */

/** The China date a record of `alias` (a table alias of the caller's code, never input) was delivered. */
export function deliveredDaySql(alias: string): string {
  if (!/^[a-z_][a-z0-9_]*$/.test(alias)) throw new Error(`not a table alias: ${alias}`);
  return `(coalesce(${alias}.delivered_at, ${alias}.received_at) AT TIME ZONE 'Asia/Shanghai')::date`;
}
