import { describe, expect, it } from 'vitest';
import { type Catalog, loadCatalog, type Resource } from '../catalog/load.js';
import { loadConfig } from '../lib/config.js';
import { compileRowValidator } from '../pipelines/validate/row-validator.js';
import { createAjv } from '../schemas/ajv.js';
import { enterprise, PENALTY_2019_HEADER, penalty2019 } from './fixtures/match/data.js';

const config = loadConfig({ env: {} });
const catalog = loadCatalog(config.catalogDir, config.schemasDir);
const ajv = createAjv();
const subject = enterprise('界首市规则测试有限公司');

/** The catalog with xzcf's rules and date checks of the severity given. */
function withRuleSeverity(severity: 'reject' | 'warn'): Catalog {
  const xzcf = catalog.resources.get('xzcf') as Resource;
  const changed: Resource = {
    ...xzcf,
    rules: xzcf.rules.map((r) => ({ ...r, severity })),
    checks: { ...xzcf.checks, severity: { order: severity, notFuture: severity } },
  };
  return { ...catalog, resources: new Map([...catalog.resources, ['xzcf', changed]]) };
}

/** Validates one penalty row (2019 field set) of the given catalog, `edit` applied to its cells by field code. */
function validate(of: Catalog, edit: (set: (code: string, value: string) => void) => void) {
  const resource = of.resources.get('xzcf') as Resource;
  const header = [...PENALTY_2019_HEADER, 'CF_GSJZQ'];
  const columns = header.map((code) => resource.current.fields.find((f) => f.code === code) ?? null);
  const cells = [...penalty2019('901', subject), ''];
  edit((code, value) => {
    cells[header.indexOf(code)] = value;
  });
  return compileRowValidator(ajv, of, resource, resource.current, columns, { today: '2024-06-01' })(cells);
}

describe('severity of rules and date checks', () => {
  const fineWithoutAmount = (set: (code: string, value: string) => void) => set('CF_CFLB', '罚款');
  const validityBeforeDecision = (set: (code: string, value: string) => void) => set('CF_YXQ', '2024-01-01');

  it('rejects a row breaking a rule or a date check of severity reject (the bundled catalog)', () => {
    for (const edit of [fineWithoutAmount, validityBeforeDecision]) {
      const result = validate(catalog, edit);
      expect(result.ok).toBe(false);
      if (!result.ok) expect(result.issues.map((i) => i.type)).toEqual(['rule-error']);
    }
  });

  it('loads a row breaking a rule or a date check of severity warn, with the finding as its warning', () => {
    const warnCatalog = withRuleSeverity('warn');
    const rule = validate(warnCatalog, fineWithoutAmount);
    expect(rule.ok && rule.value.warnings).toEqual([
      expect.objectContaining({
        type: 'rule-error',
        field: 'CF_NR_FK',
        messageZh: expect.stringMatching(/罚款/),
      }),
    ]);
    const order = validate(warnCatalog, validityBeforeDecision);
    expect(order.ok && order.value.data.CF_YXQ).toBe('2024-01-01');
    expect(order.ok && order.value.warnings).toEqual([
      expect.objectContaining({ type: 'rule-error', field: 'CF_YXQ', value: '2024-01-01' }),
    ]);
  });

  it('keeps a warned value out of the record, and hashes the warnings with it', () => {
    const clean = validate(catalog, () => {});
    const warned = validate(catalog, (set) => set('CF_GSJZQ', '2024-02-30'));
    const otherWarned = validate(catalog, (set) => set('CF_GSJZQ', '2024-02-31'));
    if (!clean.ok || !warned.ok || !otherWarned.ok) throw new Error('expected the three rows to load');
    expect(clean.value.warnings).toBeUndefined();
    expect(warned.value.data).toEqual(clean.value.data);
    expect(warned.value.json).toBe(clean.value.json);
    expect(warned.value.warnings?.[0]?.messageZh).toMatch(/^“公示截止期”：/);
    // a resend whose warnings differ is a new version carrying them; one without warnings hashes as before
    expect(warned.value.contentHash).not.toBe(clean.value.contentHash);
    expect(otherWarned.value.contentHash).not.toBe(warned.value.contentHash);
  });

  it('quarantines a row with a reject finding, its warnings listed after the reasons', () => {
    const result = validate(catalog, (set) => {
      set('CF_GSJZQ', '2024-02-30');
      set('CF_WSH', '');
    });
    expect(result.ok).toBe(false);
    if (!result.ok)
      expect(result.issues.map((i) => [i.type, i.field])).toEqual([
        ['missing-cell', 'CF_WSH'],
        ['type-error', 'CF_GSJZQ'],
      ]);
  });
});
