import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadCatalog } from '../catalog/load.js';
import { validateCatalog } from '../catalog/validate.js';
import { loadConfig } from '../lib/config.js';
import { buildHeaderIndex, matchHeader } from '../pipelines/normalize/headers.js';
import { normalizeCodeList } from '../pipelines/normalize/values.js';
import { departmentCreditCode } from '../pipelines/quality/departments.js';
import { upgradeRecord } from '../pipelines/validate/row-validator.js';
import { makeUscc } from '../schemas/identifiers.js';

const config = loadConfig({ env: {} });
const catalog = loadCatalog(config.catalogDir, config.schemasDir);
const cflb = catalog.codeLists.cflb!;
const kinds = (v: string) => normalizeCodeList(v, cflb, { multi: true });

const temps: string[] = [];
afterAll(() => {
  for (const dir of temps) rmSync(dir, { recursive: true, force: true });
});

describe('处罚类别: the kind before the 2021 law', () => {
  it('keeps 暂扣或者吊销许可证、暂扣或者吊销执照 as itself, not as 吊销许可证 (05)', () => {
    const combined = '暂扣或者吊销许可证、暂扣或者吊销执照';
    expect(kinds(combined)).toEqual({ ok: true, value: combined });
    expect(kinds('暂扣或吊销许可证、暂扣或吊销执照')).toEqual({ ok: true, value: combined });
    expect(kinds(`罚款;${combined}`)).toEqual({ ok: true, value: `罚款;${combined}` });
    // the provincial codes still mean what they say
    expect(kinds('05')).toEqual({ ok: true, value: '吊销许可证' });
    expect(kinds('11')).toEqual({ ok: true, value: '暂扣许可证' });
    expect(kinds('吊销许可证件')).toEqual({ ok: true, value: '吊销许可证' });
    expect(kinds('暂扣许可证件')).toEqual({ ok: true, value: '暂扣许可证' });
  });

  it('still asks for 暂扣或吊销证照名称及编号 when the kind is the combined one', () => {
    const rule = catalog.resources.get('xzcf')!.rules.find((r) => r.require === 'CF_NR_ZKDX');
    expect(rule?.when.includesAny).toContain('暂扣或者吊销许可证、暂扣或者吊销执照');
  });
});

describe('the register of seven columns', () => {
  const index = buildHeaderIndex(catalog);
  const register = ['统一社会信用代码', '企业名称', '注册号', '法定代表人', '成立日期', '登记状态', '住所'];

  it('requires only the credit code and the name', () => {
    const fields = catalog.resources.get('enterprise')!.current.fields;
    expect(fields.filter((f) => f.required).map((f) => f.code)).toEqual(['QY_SHXYM', 'QY_MC']);
    // the other fields keep their format checks
    expect(fields.find((f) => f.code === 'QY_ZCH')?.format).toBe('regno');
    expect(fields.find((f) => f.code === 'QY_CLRQ')?.kind).toBe('date');
  });

  it('is recognised as the register, every column claimed', () => {
    const match = matchHeader(index, register);
    expect(match?.resource.id).toBe('enterprise');
    expect(match?.columns.every((c) => c !== null)).toBe(true);
    expect(match?.score).toBe(1);
    // nor only by the seven: the credit code, the name and three other register columns are a register
    expect(
      matchHeader(index, ['统一社会信用代码', '企业名称', '登记机关', '核准日期', '成立日期'])?.resource.id,
    ).toBe('enterprise');
    // the credit code and the name alone are not a register
    expect(matchHeader(index, ['统一社会信用代码', '企业名称'])?.resource.id).not.toBe('enterprise');
  });

  it('does not claim a penalty file that lacks some of its own columns', () => {
    const penalty = catalog.resources.get('xzcf')!.current.fields;
    const header = penalty
      .filter((f) => !['CF_CFJGDM', 'CF_SJLYDM', 'CF_YXQ'].includes(f.code))
      .map((f) => (f.code === 'CF_XDR_MC' ? '企业名称' : f.title));
    expect(matchHeader(index, header)?.resource.id).toBe('xzcf');
  });
});

describe('the 2016 → 2019 upgrade', () => {
  const regulator = makeUscc('11341282000000011');

  it('carries the state over, translated, and leaves out a state 2019 has no value for', () => {
    const fields = catalog.resources.get('xzxk')!.versions[0]!.upgrade!.fields;
    expect(upgradeRecord({ XK_WSH: 'a', XK_ZT: '撤销' }, fields).XK_ZT).toBe('2');
    expect(upgradeRecord({ XK_WSH: 'a', XK_ZT: '正常' }, fields).XK_ZT).toBe('1');
    expect(upgradeRecord({ XK_WSH: 'a', XK_ZT: '异常' }, fields).XK_ZT).toBeUndefined();
    const penalty = catalog.resources.get('xzcf')!.versions[0]!.upgrade!.fields;
    expect(upgradeRecord({ CF_WSH: 'a', CF_ZT: '撤销' }, penalty).CF_ZT).toBe('2');
  });

  it('takes the authority code from the department the 2016 authority name names exactly', () => {
    const fields = catalog.resources.get('xzcf')!.versions[0]!.upgrade!.fields;
    const byName = (name: string) => (name === '界首市工商行政管理局' ? regulator : undefined);
    const out = upgradeRecord({ CF_WSH: 'a', CF_XZJG: '界首市工商行政管理局' }, fields, byName);
    expect(out).toMatchObject({
      CF_CFJG: '界首市工商行政管理局',
      CF_CFJGDM: regulator,
      CF_SJLYDM: regulator,
    });
    expect(upgradeRecord({ CF_WSH: 'a', CF_XZJG: '某某局' }, fields, byName).CF_CFJGDM).toBeUndefined();
  });

  it('resolves a department credit code by exact name or alias, never by a part of a name', () => {
    const regulatorCode = catalog.departments.find((d) => d.code === 'scjgj')!.uscc![0]!;
    expect(departmentCreditCode(catalog, '界首市工商行政管理局')).toBe(regulatorCode);
    expect(departmentCreditCode(catalog, ' 界首市市场监督管理局 ')).toBe(regulatorCode);
    expect(departmentCreditCode(catalog, '阜阳市市场监督管理局')).toBeUndefined();
    expect(departmentCreditCode(catalog, '阜阳市工商行政管理局')).toBeUndefined();
  });

  it('catalog validate checks the new upgrade sources', () => {
    const root = mkdtempSync(join(tmpdir(), 'guiji-catalog-'));
    temps.push(root);
    const catalogDir = join(root, 'catalog');
    cpSync(config.catalogDir, catalogDir, { recursive: true });
    // biome-ignore lint/suspicious/noExplicitAny: the test reaches into arbitrary catalog JSON
    const edit = (file: string, change: (json: Record<string, any>) => void) => {
      const json = JSON.parse(readFileSync(file, 'utf8'));
      change(json);
      writeFileSync(file, JSON.stringify(json, null, 2));
    };
    edit(join(catalogDir, 'resources/xzcf.json'), (r) => {
      r.versions[0].upgrade.fields.CF_ZT = { from: 'CF_NOPE', values: { 正常: '1' } };
      r.versions[0].upgrade.fields.CF_CFJGDM = { nameOf: 'CF_XZJG' };
    });
    const problems = validateCatalog(catalogDir, config.schemasDir).problems.map(
      (p) => `${p.path} ${p.message}`,
    );
    expect(problems).toEqual([
      expect.stringMatching(/^\$\.versions\[0\]\.upgrade\.fields\.CF_CFJGDM an upgrade source is/),
      expect.stringMatching(
        /^\$\.versions\[0\]\.upgrade\.fields\.CF_ZT "CF_NOPE" is not a field of this version/,
      ),
    ]);
  });
});
