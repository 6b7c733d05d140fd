import { describe, expect, it } from 'vitest';
import { loadCatalog } from '../catalog/load.js';
import { loadConfig } from '../lib/config.js';
import { PENALTY_HEADER } from '../pipelines/demo/generate.js';
import { buildHeaderIndex, findHeaderRow, headerKey, matchHeader } from '../pipelines/normalize/headers.js';

const config = loadConfig({ env: {} });
const catalog = loadCatalog(config.catalogDir, config.schemasDir);
const index = buildHeaderIndex(catalog);

const LICENCE_CODES = [
  'XK_XDR_MC',
  'XK_XDR_LB',
  'XK_XDR_SHXYM',
  'XK_FRDB',
  'XK_XKWS',
  'XK_WSH',
  'XK_XKLB',
  'XK_NR',
  'XK_JDRQ',
  'XK_YXQZ',
  'XK_YXQZI',
  'XK_XKJG',
  'XK_XKJGDM',
  'XK_ZT',
  'XK_LYDW',
  'XK_LYDWDM',
];

describe('header recognition', () => {
  it('folds full-width brackets, case, spaces and required marks', () => {
    expect(headerKey(' *罚款金额（万元） ')).toBe('罚款金额(万元)');
    expect(headerKey('XK_XDR_MC')).toBe(headerKey('xk_xdr_mc'));
  });

  it.each([
    ['Chinese titles', ['行政相对人名称', '统一社会信用代码']],
    ['upper-case field codes', ['XK_XDR_MC', 'XK_XDR_SHXYM']],
    ['lower-case field codes', ['xk_xdr_mc', 'xk_xdr_shxym']],
    ['prefixed titles with full-width brackets', ['行政相对人名称', '行政相对人代码_1（统一社会信用代码）']],
    ['a platform warehouse column name', ['xk_xdr_mc', 'uni_social_crd_cd']],
  ])('maps %s to the same fields', (_name, [nameTitle, codeTitle]) => {
    const header = [nameTitle!, codeTitle!, ...LICENCE_CODES.slice(3)];
    const match = matchHeader(index, header);
    expect(match?.resource.id).toBe('xzxk');
    expect(match?.columns[0]?.code).toBe('XK_XDR_MC');
    expect(match?.columns[1]?.code).toBe('XK_XDR_SHXYM');
  });

  it('recognises the resource from the headers and skips title rows above them', () => {
    const found = findHeaderRow(index, [['行政处罚信息报送表'], [], PENALTY_HEADER, ['x']]);
    expect(found?.rowIndex).toBe(2);
    expect(found?.match.resource.id).toBe('xzcf');
    expect(found?.match.missing).toEqual([]);
    expect(found?.match.columns.every((c) => c !== null)).toBe(true);
  });

  it('reports unknown columns and missing required fields, and refuses a header that explains too little', () => {
    const match = matchHeader(index, [...PENALTY_HEADER.filter((h) => h !== '处罚依据'), '内部编号']);
    expect(match?.unknown).toEqual(['内部编号']);
    expect(match?.missing.map((f) => f.code)).toEqual(['CF_YJ']);
    expect(matchHeader(index, ['姓名', '年龄', '统一社会信用代码'])).toBeNull();
  });
});
