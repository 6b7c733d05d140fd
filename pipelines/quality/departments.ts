import type { Catalog } from '../../catalog/load.js';

/**
 * Records name their providing department as the department wrote it ("界首市市场监督管理局", "市场监管局"). The
 * metrics file each under the catalog's department code when the text is, or contains, the department's name
 * or one of its aliases (the longest such name wins); otherwise under the text itself, so nothing is lost.
 * '' stands for "not given".
 */
export function departmentResolver(catalog: Catalog): (text: string | null) => string {
  const names: { name: string; code: string }[] = [];
  for (const d of catalog.departments) {
    for (const name of [d.name, ...(d.aliases ?? [])]) names.push({ name: fold(name), code: d.code });
  }
  names.sort((a, b) => b.name.length - a.name.length);
  const cache = new Map<string, string>();
  return (text) => {
    const raw = (text ?? '').trim();
    if (raw === '') return '';
    let code = cache.get(raw);
    if (code === undefined) {
      const folded = fold(raw);
      code =
        names.find((n) => folded === n.name)?.code ?? names.find((n) => folded.includes(n.name))?.code ?? raw;
      cache.set(raw, code);
    }
    return code;
  };
}

function fold(text: string): string {
  return text.normalize('NFKC').replace(/\s+/g, '');
}
