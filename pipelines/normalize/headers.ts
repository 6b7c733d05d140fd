import { headerKey } from '../../catalog/header-key.js';
import type { Catalog, FieldDef, Resource, ResourceVersion } from '../../catalog/load.js';
import type { CellValue } from '../../lib/types.js';

export { headerKey };

/** The keys a header may be known by: itself, without its bracketed suffix, and what the brackets hold. */
function candidateKeys(header: string): string[] {
  const key = headerKey(header);
  const keys = [key];
  const bracket = /^(.*?)[([](.+)[)\]]$/.exec(key);
  if (bracket?.[1]) keys.push(bracket[1]);
  if (bracket?.[2]) keys.push(bracket[2]);
  return keys;
}

export interface HeaderIndexEntry {
  resource: Resource;
  version: ResourceVersion;
  byKey: Map<string, FieldDef>;
  /** The fields the header is scored by: the required ones (for the register, see `recognisedBy`). */
  required: FieldDef[];
  /** The register: any of its columns counts towards the score, not only those of `required`. */
  anyColumnCounts: boolean;
}

export function buildHeaderIndex(catalog: Catalog): HeaderIndexEntry[] {
  const entries: HeaderIndexEntry[] = [];
  for (const resource of catalog.resources.values()) {
    for (const version of resource.versions) {
      const byKey = new Map<string, FieldDef>();
      for (const field of version.fields) {
        for (const name of [field.code, field.title, ...field.aliases]) {
          const key = headerKey(name);
          if (!byKey.has(key)) byKey.set(key, field);
        }
        // "罚款金额（万元）" is also known as "罚款金额"
        const short = /^(.*?)[([].*[)\]]$/.exec(headerKey(field.title))?.[1];
        if (short && !byKey.has(short)) byKey.set(short, field);
      }
      entries.push({
        resource,
        version,
        byKey,
        required: recognisedBy(resource, version),
        anyColumnCounts: resource.register !== undefined && version === resource.current,
      });
    }
  }
  return entries;
}

/**
 * The fields a header row is recognised by: the required ones, and for the register the columns that fill the
 * enterprises table too. The register requires only the credit code and the name, which penalty and licence
 * files also carry (企业名称, 统一社会信用代码): recognised by those two alone it would claim such a file that
 * lacks one of its own required columns. Any register column counts towards the register's score (登记机关,
 * 核准日期… too), so a register of the credit code, the name and three other columns of its own is recognised.
 */
function recognisedBy(resource: Resource, version: ResourceVersion): FieldDef[] {
  const wanted = new Set(version.fields.filter((f) => f.required).map((f) => f.code));
  if (resource.register && version === resource.current) {
    wanted.add(resource.subject.uscc);
    for (const code of Object.values(resource.register)) if (code) wanted.add(code);
  }
  return version.fields.filter((f) => wanted.has(f.code));
}

export interface HeaderMatch {
  resource: Resource;
  version: ResourceVersion;
  /** For each column, the field it holds, or null for a column the resource does not know. */
  columns: (FieldDef | null)[];
  /** Column titles no field claimed (kept in provenance, reported as extra cells). */
  unknown: string[];
  /** Required fields with no column. */
  missing: FieldDef[];
  /** Share of the required fields present, 0–1. */
  score: number;
}

/** The resource whose fields best explain a header row, or null when none explains at least 60% of its required fields. */
export function matchHeader(
  index: readonly HeaderIndexEntry[],
  header: readonly CellValue[],
): HeaderMatch | null {
  let best: HeaderMatch | null = null;
  let bestMapped = 0;
  for (const entry of index) {
    const used = new Set<string>();
    const unknown: string[] = [];
    const columns = header.map((cell) => {
      const text = cell === null ? '' : String(cell).trim();
      if (!text) return null;
      for (const key of candidateKeys(text)) {
        const field = entry.byKey.get(key);
        if (field && !used.has(field.code)) {
          used.add(field.code);
          return field;
        }
      }
      unknown.push(text);
      return null;
    });
    const missing = entry.required.filter((f) => !used.has(f.code));
    let score = entry.required.length ? 1 - missing.length / entry.required.length : 0;
    if (entry.anyColumnCounts && entry.required.length)
      score = Math.max(score, Math.min(1, used.size / entry.required.length));
    if (score < 0.6) continue;
    if (!best || score > best.score || (score === best.score && used.size > bestMapped)) {
      best = { resource: entry.resource, version: entry.version, columns, unknown, missing, score };
      bestMapped = used.size;
    }
  }
  return best;
}

/** Looks for the header row among the first rows (title rows above it are skipped). */
export function findHeaderRow(
  index: readonly HeaderIndexEntry[],
  rows: readonly (readonly CellValue[])[],
): { rowIndex: number; match: HeaderMatch } | null {
  let found: { rowIndex: number; match: HeaderMatch } | null = null;
  rows.forEach((row, rowIndex) => {
    const match = matchHeader(index, row);
    if (match && (!found || match.score > found.match.score)) found = { rowIndex, match };
  });
  return found;
}
