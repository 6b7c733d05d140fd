import type { Catalog, FieldDef, Resource } from './load.js';

/** What changed in one field between two catalogs. */
export interface FieldChange {
  field: string;
  changes: string[];
}

export interface ResourceDiff {
  resource: string;
  name: string;
  addedFields: string[];
  removedFields: string[];
  changedFields: FieldChange[];
  /** Resource-level changes: versions, key, disclosure, deadlines… */
  changes: string[];
}

export interface CatalogDiff {
  from: string;
  to: string;
  addedResources: string[];
  removedResources: string[];
  changedResources: ResourceDiff[];
}

const FIELD_PROPERTIES: (keyof FieldDef)[] = [
  'title',
  'kind',
  'required',
  'maxLength',
  'format',
  'sensitive',
  'legalRepresentative',
  'codeList',
  'multi',
  'severity',
];

const show = (value: unknown) => (value === undefined ? '—' : JSON.stringify(value));

/** Added, removed and changed resources and fields (of each resource's current version) between two catalogs. */
export function diffCatalogs(from: Catalog, to: Catalog): CatalogDiff {
  const ids = (c: Catalog) => [...c.resources.keys()].sort();
  const diff: CatalogDiff = {
    from: from.version,
    to: to.version,
    addedResources: ids(to).filter((id) => !from.resources.has(id)),
    removedResources: ids(from).filter((id) => !to.resources.has(id)),
    changedResources: [],
  };
  for (const id of ids(to)) {
    const a = from.resources.get(id);
    const b = to.resources.get(id) as Resource;
    if (!a) continue;
    const changed = diffResource(a, b);
    if (
      changed.addedFields.length ||
      changed.removedFields.length ||
      changed.changedFields.length ||
      changed.changes.length
    ) {
      diff.changedResources.push(changed);
    }
  }
  return diff;
}

function diffResource(a: Resource, b: Resource): ResourceDiff {
  const before = new Map(a.current.fields.map((f) => [f.code, f]));
  const after = new Map(b.current.fields.map((f) => [f.code, f]));
  const changedFields: FieldChange[] = [];
  for (const [code, field] of after) {
    const old = before.get(code);
    if (!old) continue;
    const changes = FIELD_PROPERTIES.filter((p) => JSON.stringify(old[p]) !== JSON.stringify(field[p])).map(
      (p) => `${p}: ${show(old[p])} → ${show(field[p])}`,
    );
    const addedAliases = field.aliases.filter((x) => !old.aliases.includes(x));
    const removedAliases = old.aliases.filter((x) => !field.aliases.includes(x));
    if (addedAliases.length) changes.push(`aliases added: ${addedAliases.join(', ')}`);
    if (removedAliases.length) changes.push(`aliases removed: ${removedAliases.join(', ')}`);
    if (changes.length) changedFields.push({ field: code, changes });
  }
  const changes: string[] = [];
  const versions = (r: Resource) =>
    r.versions.map((v) => `${v.version}@${v.from}${v.to ? `..${v.to}` : ''}`).join(', ');
  for (const [label, x, y] of [
    ['versions', versions(a), versions(b)],
    ['natural key', a.naturalKey.join(' + '), b.naturalKey.join(' + ')],
    ['disclosure', a.disclosure, b.disclosure],
    ['produced date', a.producedDate, b.producedDate],
    ['deadlines', JSON.stringify(a.deadlines), JSON.stringify(b.deadlines)],
    ['departments', a.departments.join(','), b.departments.join(',')],
    ['rules', JSON.stringify(a.rules), JSON.stringify(b.rules)],
    ['checks', JSON.stringify(a.checks ?? {}), JSON.stringify(b.checks ?? {})],
  ] as const) {
    if (x !== y) changes.push(`${label}: ${x} → ${y}`);
  }
  return {
    resource: b.id,
    name: b.name,
    addedFields: [...after.keys()].filter((c) => !before.has(c)),
    removedFields: [...before.keys()].filter((c) => !after.has(c)),
    changedFields,
    changes,
  };
}

export function formatDiff(diff: CatalogDiff): string {
  const lines = [`catalog ${diff.from} → ${diff.to}`];
  for (const id of diff.addedResources) lines.push(`+ resource ${id}`);
  for (const id of diff.removedResources) lines.push(`- resource ${id}`);
  for (const r of diff.changedResources) {
    lines.push(`~ resource ${r.resource} (${r.name})`);
    for (const c of r.changes) lines.push(`    ${c}`);
    for (const f of r.addedFields) lines.push(`  + field ${f}`);
    for (const f of r.removedFields) lines.push(`  - field ${f}`);
    for (const f of r.changedFields) lines.push(`  ~ field ${f.field}: ${f.changes.join('; ')}`);
  }
  if (lines.length === 1) lines.push('no differences');
  return lines.join('\n');
}
