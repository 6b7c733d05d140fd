import { describe, expect, it } from 'vitest';
import { loadCatalog } from '../catalog/load.js';
import { loadConfig } from '../lib/config.js';
import { AUTHORITIES } from '../pipelines/demo/generate.js';
import {
  departmentResolver,
  isCatalogDepartment,
  originOfFileName,
} from '../pipelines/quality/departments.js';
import { templateDepartmentText } from '../pipelines/template/workbook.js';
import { checkUscc, makeOrgCode, makeUscc } from '../schemas/identifiers.js';

const config = loadConfig({ env: {} });
const catalog = loadCatalog(config.catalogDir, config.schemasDir);
const usccOf = (code: string) => catalog.departments.find((d) => d.code === code)?.uscc?.[0] as string;

/** Credit codes of organs the catalog does not know: the prefecture's and the province's regulators. */
const FUYANG_SCJGJ = makeUscc(`11341200${makeOrgCode('10324679')}`);
const ANHUI_SCJGJ = makeUscc(`11340000${makeOrgCode('10332598')}`);

describe('departments by code, then exact name or alias', () => {
  const resolve = departmentResolver(catalog);

  it('files the names the issue lists where they belong, never by substring', () => {
    // the prefecture's and the province's regulators are not the city's
    expect(resolve('阜阳市市场监督管理局')).toBe('阜阳市市场监督管理局');
    expect(resolve('安徽省市场监督管理局')).toBe('安徽省市场监督管理局');
    // the prefecture's intermediate court is not the city court
    expect(resolve('阜阳市中级人民法院')).toBe('阜阳市中级人民法院');
    // the ecology department's short name is an alias of it
    expect(resolve('界首市生态环境分局')).toBe('sthjj');
    for (const name of ['阜阳市市场监督管理局', '安徽省市场监督管理局', '阜阳市中级人民法院'])
      expect(isCatalogDepartment(catalog, resolve(name)), name).toBe(false);
    expect(isCatalogDepartment(catalog, 'sthjj')).toBe(true);
  });

  it('resolves by the source unit’s credit code first, whatever the name says', () => {
    // misspelt name, the city regulator's code
    expect(resolve('界首市市场监管督理局', usccOf('scjgj'))).toBe('scjgj');
    // the code as a clerk types it: spaces, lower case, full-width digits
    const typed = ` ${usccOf('sthjj')
      .toLowerCase()
      .replace(/[0-9]/g, (c) => String.fromCharCode(c.charCodeAt(0) + 0xfee0))} `;
    expect(resolve(null, typed)).toBe('sthjj');
    // the code wins over a name of another department
    expect(resolve('界首市应急管理局', usccOf('swj'))).toBe('swj');
    // an unknown code falls back to the exact name, and an unknown name to the name given
    expect(resolve('界首市应急管理局', FUYANG_SCJGJ)).toBe('yjj');
    expect(resolve('阜阳市市场监督管理局', FUYANG_SCJGJ)).toBe('阜阳市市场监督管理局');
    expect(resolve('安徽省市场监督管理局', ANHUI_SCJGJ)).toBe('安徽省市场监督管理局');
  });

  it('matches names and aliases exactly after the name normalisation, never a part of a longer name', () => {
    expect(resolve('界首市市场监督管理局')).toBe('scjgj');
    expect(resolve(' 界首市 市场监督管理局（ ）')).toBe('scjgj');
    expect(resolve('市场监管局')).toBe('scjgj');
    // a catalog name inside a longer one, or a longer one inside a catalog name: neither matches
    expect(resolve('界首市市场监督管理局颍南市场监督管理所')).toBe('界首市市场监督管理局颍南市场监督管理所');
    expect(resolve('界首市人民法院执行局')).toBe('界首市人民法院执行局');
    expect(resolve('监督管理局')).toBe('监督管理局');
    expect(resolve('法院')).toBe('fy');
  });

  it('reports an unresolved department under the name it gave, its code when it gave no name', () => {
    expect(resolve('  某某局 ')).toBe('某某局');
    expect(resolve(null, FUYANG_SCJGJ)).toBe(FUYANG_SCJGJ);
    expect(resolve(null, null)).toBe('');
    expect(resolve('', '')).toBe('');
  });

  it('gives every department valid credit codes; the demo’s authorities carry the catalog’s', () => {
    for (const d of catalog.departments) {
      expect(d.uscc?.length, d.code).toBeGreaterThan(0);
      for (const code of d.uscc ?? []) expect(checkUscc(code).valid, `${d.code} ${code}`).toBe(true);
    }
    for (const a of AUTHORITIES) {
      const d = catalog.departments.find((x) => x.name === a.name);
      expect(d, a.name).toBeDefined();
      expect(d?.uscc).toContain(a.uscc);
      expect(resolve(a.name, a.uscc)).toBe(d?.code);
    }
    // the city's organs are of division 341282
    expect(usccOf('scjgj').slice(2, 8)).toBe('341282');
  });
});

describe('whose file it was: the drops file-name convention and the template’s 报送单位', () => {
  it('tells the department by an exact name or alias part of the name, the resource by its id or name', () => {
    expect(originOfFileName(catalog, '界首市市场监督管理局_行政处罚_202403.xlsx')).toEqual({
      department: 'scjgj',
      resource: 'xzcf',
    });
    expect(originOfFileName(catalog, '市场监管局_xzcf_2024-03.csv')).toEqual({
      department: 'scjgj',
      resource: 'xzcf',
    });
    expect(originOfFileName(catalog, '行政许可信息-界首市生态环境分局.xlsx')).toEqual({
      department: 'sthjj',
      resource: 'xzxk',
    });
    expect(originOfFileName(catalog, '税务局 三月.csv')).toEqual({ department: 'swj' });
    // the demo's damaged file: its short name is sthjj's alias
    expect(originOfFileName(catalog, '行政处罚_生态环境分局_0101.xlsx')).toEqual({
      department: 'sthjj',
      resource: 'xzcf',
    });
  });

  it('never by substring, and not when the parts name two departments', () => {
    expect(originOfFileName(catalog, '界首市市场监督管理局颍南所_xzcf_202403.csv')).toEqual({
      resource: 'xzcf',
    });
    expect(originOfFileName(catalog, '阜阳市市场监督管理局_行政处罚.xlsx')).toEqual({ resource: 'xzcf' });
    expect(originOfFileName(catalog, '法院_税务局_xzcf.csv')).toEqual({ resource: 'xzcf' });
    expect(originOfFileName(catalog, '2024年3月处罚数据.xlsx')).toEqual({});
  });

  it('reads the department a template’s title names', () => {
    expect(
      templateDepartmentText('界首市 行政处罚信息 报送模板（2019）　报送单位：界首市市场监督管理局'),
    ).toBe('界首市市场监督管理局');
    expect(templateDepartmentText('报送单位: 税务局，联系人 张三')).toBe('税务局');
    expect(templateDepartmentText('行政处罚信息')).toBeUndefined();
  });
});
