import type { Catalog, FieldDef, Resource, ResourceVersion } from '../../catalog/load.js';

/** A copy of the catalog whose resource `id` has a new current version with the fields `change` makes. */
export function withNewVersion(
  base: Catalog,
  id: string,
  version: string,
  change: (fields: FieldDef[]) => FieldDef[],
): Catalog {
  const resource = base.resources.get(id)!;
  const next: ResourceVersion = {
    ...resource.current,
    version,
    from: '2027-01-01',
    fields: change([...resource.current.fields]),
  };
  const changed: Resource = { ...resource, versions: [...resource.versions, next], current: next };
  return { ...base, resources: new Map([...base.resources, [id, changed]]) };
}

/** The same catalog with one resource's current field set replaced in place (no new version). */
export function withFields(base: Catalog, id: string, change: (fields: FieldDef[]) => FieldDef[]): Catalog {
  const resource = base.resources.get(id)!;
  const current = { ...resource.current, fields: change([...resource.current.fields]) };
  const changed: Resource = { ...resource, current, versions: [...resource.versions.slice(0, -1), current] };
  return { ...base, resources: new Map([...base.resources, [id, changed]]) };
}

/** A field a later version of xzcf might add. */
export const EXTRA_FIELD: FieldDef = {
  code: 'CF_ZXJE',
  title: '已执行罚款金额（万元）',
  kind: 'amount',
  required: false,
  aliases: [],
  sensitive: false,
  multi: false,
  severity: 'warn',
};
