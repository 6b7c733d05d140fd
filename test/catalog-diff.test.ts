import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { diffCatalogs, formatDiff } from '../catalog/diff.js';
import { loadCatalog } from '../catalog/load.js';
import { loadConfig } from '../lib/config.js';
import { runCli } from './helpers/cli.js';

const config = loadConfig({ env: {} });
const dir = mkdtempSync(join(tmpdir(), 'guiji-catalog-diff-'));
cpSync(config.catalogDir, join(dir, 'catalog'), { recursive: true });
cpSync(config.schemasDir, join(dir, 'schemas'), { recursive: true });

// the "older" catalog: one resource fewer, one field fewer, a title and a key that differ
const schemaPath = join(dir, 'schemas', 'xzcf', '2019.json');
const schema = JSON.parse(readFileSync(schemaPath, 'utf8'));
delete schema.properties.CF_GSJZQ;
schema.properties.CF_SY.title = '违法事实（旧）';
schema.properties.CF_OLD = { title: '旧字段', type: 'string', 'x-guiji': { kind: 'text', severity: 'warn' } };
writeFileSync(schemaPath, JSON.stringify(schema));
rmSync(join(dir, 'catalog', 'resources', 'ry.json'));
// an older catalog has no publication rules (they came with issue 14; they name CF_GSJZQ and ry)
rmSync(join(dir, 'catalog', 'publication.json'));
// a consistent older catalog: its departments do not deliver the resource it does not have
const cataloguePath = join(dir, 'catalog', 'catalog.json');
const catalogue = JSON.parse(readFileSync(cataloguePath, 'utf8'));
for (const d of catalogue.departments) d.resources = d.resources?.filter((r: string) => r !== 'ry');
writeFileSync(cataloguePath, JSON.stringify(catalogue));
const xzxkPath = join(dir, 'catalog', 'resources', 'xzxk.json');
const xzxk = JSON.parse(readFileSync(xzxkPath, 'utf8'));
xzxk.naturalKey = ['XK_XKJGDM', 'XK_WSH'];
writeFileSync(xzxkPath, JSON.stringify(xzxk));

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('catalog diff', () => {
  it('lists added and removed resources and fields, and what changed in a field and a resource', () => {
    const older = loadCatalog(join(dir, 'catalog'), join(dir, 'schemas'));
    const newer = loadCatalog(config.catalogDir, config.schemasDir);
    const diff = diffCatalogs(older, newer);
    expect(diff.addedResources).toEqual(['ry']);
    expect(diff.removedResources).toEqual([]);
    const xzcf = diff.changedResources.find((r) => r.resource === 'xzcf')!;
    expect(xzcf.addedFields).toEqual(['CF_GSJZQ']);
    expect(xzcf.removedFields).toEqual(['CF_OLD']);
    expect(xzcf.changedFields).toEqual([
      { field: 'CF_SY', changes: ['title: "违法事实（旧）" → "违法事实"'] },
    ]);
    const licences = diff.changedResources.find((r) => r.resource === 'xzxk')!;
    expect(licences.changes).toEqual(['natural key: XK_XKJGDM + XK_WSH → XK_XKJGDM + XK_WSH + $subject']);
    expect(formatDiff(diff)).toContain('+ resource ry');
    expect(diffCatalogs(newer, newer).changedResources).toEqual([]);
  });

  it('is a command with --json', async () => {
    const result = await runCli(['catalog', 'diff', join(dir, 'catalog'), '--json'], {});
    expect(result.code, result.stderr).toBe(0);
    expect(JSON.parse(result.stdout).addedResources).toEqual(['ry']);
  });
});

describe('catalog validate, upgrades', () => {
  it('names an upgrade mapping to or from a field that does not exist', async () => {
    const { validateCatalog } = await import('../catalog/validate.js');
    const bad = mkdtempSync(join(tmpdir(), 'guiji-catalog-upgrade-'));
    cpSync(config.catalogDir, join(bad, 'catalog'), { recursive: true });
    cpSync(config.schemasDir, join(bad, 'schemas'), { recursive: true });
    const path = join(bad, 'catalog', 'resources', 'xzcf.json');
    const resource = JSON.parse(readFileSync(path, 'utf8'));
    resource.versions[0].upgrade.fields.CF_NOPE = 'CF_WSH';
    resource.versions[0].upgrade.fields.CF_SY = 'CF_GONE';
    writeFileSync(path, JSON.stringify(resource));
    const result = validateCatalog(join(bad, 'catalog'), join(bad, 'schemas'));
    rmSync(bad, { recursive: true, force: true });
    expect(result.ok).toBe(false);
    expect(result.problems.map((p) => `${p.path}: ${p.message}`).sort()).toEqual([
      '$.versions[0].upgrade.fields.CF_NOPE: "CF_NOPE" is not a field of the current version',
      '$.versions[0].upgrade.fields.CF_SY: "CF_GONE" is not a field of this version',
    ]);
  });
});
