import type { Catalog } from '../../catalog/load.js';
import { normalizeId } from '../../schemas/identifiers.js';
import { normalizeName } from '../match/name.js';

/**
 * Which catalog department a record (or a rejected row) came from, from what it carries: the source unit's
 * credit code (the resource's `departmentCodeField`, e.g. CF_SJLYDM) and its name as written (the
 * `departmentField`, e.g. CF_SJLY).
 *
 * 1. The credit code, when it is one of a department's `uscc` (after `normalizeId`: trimmed, half-width,
 *    upper case) — whatever the name says, so a misspelt name still finds its department.
 * 2. Else the name, when it equals a department's name or one of its aliases after `normalizeName` (the
 *    normalisation matching compares enterprise names with). Never a substring: 阜阳市市场监督管理局 (the
 *    prefecture's regulator) is not the city's 界首市市场监督管理局, and 市场监督管理局 is only the alias it is.
 * 3. Else the department is unresolved and is reported as such, under the name it gave (trimmed; the code it
 *    gave when it gave no name; '' when it gave neither).
 *
 * The resolver returns the catalog's department code or, unresolved, that text: {@link isCatalogDepartment}
 * tells the two apart.
 */
export type DepartmentResolver = (name: string | null, uscc?: string | null) => string;

export function departmentResolver(catalog: Catalog): DepartmentResolver {
  const byUscc = new Map<string, string>();
  const byName = new Map<string, string>();
  for (const d of catalog.departments) {
    for (const code of d.uscc ?? []) byUscc.set(normalizeId(code), d.code);
    for (const name of [d.name, ...(d.aliases ?? [])]) {
      const key = normalizeName(name);
      // `catalog validate` refuses a name two departments share; should one slip through, the first keeps it
      if (key !== null && !byName.has(key)) byName.set(key, d.code);
    }
  }
  const cache = new Map<string, string>();
  return (name, uscc) => {
    const given = (name ?? '').trim();
    const code = normalizeId(uscc ?? '');
    const key = `${code}\u0000${given}`;
    let department = cache.get(key);
    if (department === undefined) {
      department =
        (code === '' ? undefined : byUscc.get(code)) ??
        byName.get(normalizeName(given) ?? '') ??
        (given !== '' ? given : code);
      cache.set(key, department);
    }
    return department;
  };
}

/** Whether a department as the metrics keep it is a catalog department (resolved) rather than a name as given. */
export function isCatalogDepartment(catalog: Catalog, department: string): boolean {
  return catalog.departments.some((d) => d.code === department);
}

const creditCodes = new WeakMap<Catalog, (name: string) => string | undefined>();

/**
 * The credit code of the department a name resolves to (exactly, as {@link departmentResolver} resolves names:
 * its name or an alias after `normalizeName`, never a substring), the first of its `uscc`; undefined when the
 * name is no department's or the department has no code. The 2016 field sets name the authority without its
 * code: their upgrade takes it from here.
 */
export function departmentCreditCode(catalog: Catalog, name: string): string | undefined {
  let lookup = creditCodes.get(catalog);
  if (!lookup) {
    const resolve = departmentResolver(catalog);
    const byCode = new Map(catalog.departments.map((d) => [d.code, d.uscc?.[0]]));
    lookup = (text) => byCode.get(resolve(text));
    creditCodes.set(catalog, lookup);
  }
  return lookup(name);
}

/**
 * The catalog department `text` names exactly — its full name or one of its aliases after `normalizeName`,
 * never a substring, never a credit code — or undefined.
 */
export function departmentNamed(catalog: Catalog, text: string): string | undefined {
  const code = departmentResolver(catalog)(text);
  return isCatalogDepartment(catalog, code) ? code : undefined;
}

/** The resource a word names exactly: its id (`xzcf`), its name (`行政处罚信息`) or its name without 信息. */
export function resourceNamed(catalog: Catalog, word: string): string | undefined {
  const w = word.trim();
  for (const r of catalog.resources.values()) {
    if (w === r.id || w === r.name || (r.name.endsWith('信息') && w === r.name.slice(0, -2))) return r.id;
  }
  return undefined;
}

/** What a drop file's name tells of where it came from; each part undefined when it cannot be told. */
export interface FileOrigin {
  department?: string;
  resource?: string;
}

/**
 * The drops' file-name convention (README "Drops"): `<部门名称或简称>_<信息类别>_<日期>.xlsx`, e.g.
 * `界首市市场监督管理局_行政处罚_202403.xlsx` or `市场监管局_xzcf_2024-03.csv`. The name without its extension is
 * cut at `_`, `-`, `－`, `—` and spaces; a part that is exactly a department's name or alias tells the
 * department, a part that is exactly a resource's id or name (with or without 信息) tells the resource. A
 * name whose parts tell two departments (or two resources) tells none of them.
 */
export function originOfFileName(catalog: Catalog, fileName: string): FileOrigin {
  const base = fileName.replace(/^.*[/\\]/, '').replace(/\.[^.]*$/, '');
  const parts = base.split(/[_\-－—\s]+/).filter((p) => p !== '');
  const only = (found: (string | undefined)[]) => {
    const distinct = [...new Set(found.filter((x): x is string => x !== undefined))];
    return distinct.length === 1 ? distinct[0] : undefined;
  };
  const department = only(parts.map((p) => departmentNamed(catalog, p)));
  const resource = only(parts.map((p) => resourceNamed(catalog, p)));
  return { ...(department ? { department } : {}), ...(resource ? { resource } : {}) };
}
