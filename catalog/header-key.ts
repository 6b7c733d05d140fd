/**
 * Column titles come as the standard's Chinese names (often with full-width brackets, a `*` required mark or a
 * `行政相对人代码_1(…)` prefix), as field codes in either case, or as a platform's own English names. Each is
 * folded to one key: NFKC (full-width → half-width), lower case, no spaces, quotes or required marks.
 *
 * Lives in catalog/ because `catalog validate` checks that a resource's names stay distinct under this folding;
 * pipelines/normalize/headers.ts re-exports it.
 */
export function headerKey(header: string): string {
  return header
    .normalize('NFKC')
    .toLowerCase()
    .replace(/[\s\u200b\ufeff"'“”*＊]/g, '');
}
