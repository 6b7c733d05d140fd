import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { type FieldDef, loadCatalog } from '../catalog/load.js';
import {
  type CatalogProblem,
  describeResource,
  listResources,
  validateCatalog,
} from '../catalog/validate.js';
import { loadConfig } from '../lib/config.js';
import { registerCatalogCommands } from '../pipelines/commands/catalog.js';
import { buildHeaderIndex, matchHeader } from '../pipelines/normalize/headers.js';
import { compileRowValidator } from '../pipelines/validate/row-validator.js';
import { createAjv } from '../schemas/ajv.js';
import { makeUscc } from '../schemas/identifiers.js';

const config = loadConfig({ env: {} });
const catalog = loadCatalog(config.catalogDir, config.schemasDir);
const index = buildHeaderIndex(catalog);

/** The resources of issue 3 beyond the foundation's enterprise / xzxk / xzcf. */
const NEW_RESOURCES = [
  'dcdy',
  'gqcz',
  'zscq',
  'sbzc',
  'jyyc',
  'yzwf',
  'ccjc',
  'lhcj',
  'sxbzxr',
  'gqdj',
  'ry',
  'nsxx',
  'xjcl',
  'sg',
  'jjgz',
  'jyxcf',
  'xzqz',
  'hyjr',
];

const temps: string[] = [];
afterAll(() => {
  for (const dir of temps) rmSync(dir, { recursive: true, force: true });
});

// biome-ignore lint/suspicious/noExplicitAny: the tests reach into arbitrary catalog JSON
type Json = Record<string, any>;

/** A copy of the bundled catalog and schemas in a temp dir, with `edit` applied. */
function brokenCatalog(edit: (dirs: { catalogDir: string; schemasDir: string }) => void) {
  const root = mkdtempSync(join(tmpdir(), 'guiji-catalog-'));
  temps.push(root);
  const dirs = { catalogDir: join(root, 'catalog'), schemasDir: join(root, 'schemas') };
  cpSync(config.catalogDir, dirs.catalogDir, { recursive: true });
  cpSync(config.schemasDir, dirs.schemasDir, { recursive: true });
  edit(dirs);
  return { ...dirs, result: validateCatalog(dirs.catalogDir, dirs.schemasDir) };
}

function editJson(file: string, edit: (json: Json) => void): void {
  const json = JSON.parse(readFileSync(file, 'utf8')) as Json;
  edit(json);
  writeFileSync(file, JSON.stringify(json, null, 2));
}

function only(problems: CatalogProblem[], fileEnd: string): CatalogProblem[] {
  return problems.filter((p) => p.file.replaceAll('\\', '/').endsWith(fileEnd));
}

describe('catalog validate', () => {
  it('passes the bundled catalog with no problem', () => {
    const result = validateCatalog(config.catalogDir, config.schemasDir);
    expect(result.problems).toEqual([]);
    expect(result.ok).toBe(true);
  });

  it('covers the 15 categories of the seed', () => {
    const categories = new Set([...catalog.resources.values()].map((r) => r.category));
    for (const c of ['public-1', 'public-2', 'public-3', 'public-4', 'public-5', 'public-6'])
      expect(categories).toContain(c);
    for (let i = 1; i <= 8; i++) expect(categories).toContain(`other-${i}`);
    for (const id of NEW_RESOURCES) expect(catalog.resources.has(id), id).toBe(true);
    expect(catalog.resources.get('nsxx')?.disclosure).toBe('shared');
    expect(catalog.resources.get('nsxx')?.current.fields.some((f) => f.sensitive)).toBe(true);
  });

  it('catches an alias that is already another field’s title', () => {
    const { result } = brokenCatalog(({ schemasDir }) =>
      editJson(join(schemasDir, 'xzcf/2019.json'), (s) => {
        s.properties.CF_WFXW['x-guiji'].aliases.push('＊ 处罚决定书文号');
      }),
    );
    expect(result.ok).toBe(false);
    const [problem] = only(result.problems, 'schemas/xzcf/2019.json');
    expect(problem?.path).toBe('$.properties.CF_WFXW["x-guiji"].aliases[1]');
    expect(problem?.message).toMatch(/CF_WFXW.*already a name of field CF_WSH/);
    expect(result.problems).toHaveLength(1);
  });

  it('catches a title repeated after folding (full-width, case, spaces)', () => {
    const { result } = brokenCatalog(({ schemasDir }) =>
      editJson(join(schemasDir, 'jyyc/1.json'), (s) => {
        s.properties.JYYC_YCRQ.title = ' 列入经营异常名录日期 ';
      }),
    );
    expect(only(result.problems, 'schemas/jyyc/1.json')[0]?.message).toMatch(/JYYC_YCRQ.*JYYC_LRRQ/);
  });

  it('catches an unknown code list', () => {
    const { result } = brokenCatalog(({ schemasDir }) =>
      editJson(join(schemasDir, 'xzcf/2019.json'), (s) => {
        s.properties.CF_CFLB['x-guiji'].codeList = 'cflb2021';
      }),
    );
    expect(result.problems).toHaveLength(1);
    expect(result.problems[0]).toMatchObject({ path: '$.properties.CF_CFLB["x-guiji"].codeList' });
    expect(result.problems[0]?.file).toMatch(/schemas[/\\]xzcf[/\\]2019\.json$/);
    expect(result.problems[0]?.message).toContain('"cflb2021"');
  });

  it('catches a code list with a repeated code or label, or an alias meaning two entries', () => {
    const { result } = brokenCatalog(({ catalogDir }) =>
      editJson(join(catalogDir, 'catalog.json'), (c) => {
        c.codeLists.cflb.push({ code: '02', label: '警告' });
        c.codeLists.xklb[0].aliases = ['特许'];
      }),
    );
    const messages = only(result.problems, 'catalog.json').map((p) => `${p.path} ${p.message}`);
    expect(messages).toEqual([
      expect.stringMatching(/^\$\.codeLists\.xklb\[0\]\.aliases\[0\] alias "特许"/),
      expect.stringMatching(/^\$\.codeLists\.cflb\[15\]\.code code "02"/),
      expect.stringMatching(/^\$\.codeLists\.cflb\[15\]\.label label "警告"/),
    ]);
  });

  it('catches a natural-key field that is not in the schema', () => {
    const { result } = brokenCatalog(({ catalogDir }) =>
      editJson(join(catalogDir, 'resources/xzcf.json'), (r) => {
        r.naturalKey = ['CF_CFJGDM', 'CF_JDSWH', '$subject'];
      }),
    );
    expect(result.problems).toEqual([
      {
        file: expect.stringMatching(/resources[/\\]xzcf\.json$/),
        path: '$.naturalKey[1]',
        message: expect.stringContaining('"CF_JDSWH" is not in the current version'),
      },
    ]);
  });

  it('catches subject, produced-date, department and rule fields that do not exist', () => {
    const { result } = brokenCatalog(({ catalogDir }) =>
      editJson(join(catalogDir, 'resources/sxbzxr.json'), (r) => {
        r.subject.name = 'SX_XM';
        r.producedDate = 'SX_AH';
        r.departmentField = 'SX_FY';
        r.rules = [
          { when: { field: 'SX_LXQK', includes: '全部未履行' }, require: 'SX_WLXBF', severity: 'reject' },
        ];
      }),
    );
    expect(result.problems.map((p) => p.path)).toEqual([
      '$.subject.name',
      '$.producedDate',
      '$.departmentField',
      '$.rules[0].require',
    ]);
    expect(result.problems[1]?.message).toContain('not a date');
  });

  it('catches a natural-person category that is not a value of its field, or given without its field', () => {
    const { result } = brokenCatalog(({ catalogDir, schemasDir }) => {
      editJson(join(catalogDir, 'resources/xzcf.json'), (r) => {
        r.subject.naturalPerson = '个人';
      });
      editJson(join(catalogDir, 'resources/xzxk.json'), (r) => {
        delete r.subject.category;
      });
      editJson(join(schemasDir, 'lhcj/1.json'), (s) => {
        s.properties.LHCJ_FRDB['x-guiji'].legalRepresentative = 'yes';
      });
    });
    expect(result.problems.map((p) => p.path)).toEqual([
      '$.properties.LHCJ_FRDB["x-guiji"].legalRepresentative',
      '$.subject.naturalPerson',
      '$.subject.category',
    ]);
    expect(result.problems[1]?.message).toContain('"个人" is not a label of code list "xdrlb"');
  });

  it('catches versions out of order, overlapping, or ending before they start', () => {
    const { result } = brokenCatalog(({ catalogDir, schemasDir }) => {
      editJson(join(schemasDir, 'xzcf/2019.json'), (s) => {
        s.$id = 'guiji:xzcf/2016';
        writeFileSync(join(schemasDir, 'xzcf/2016.json'), JSON.stringify(s));
      });
      editJson(join(schemasDir, 'xzcf/2016.json'), () => {});
      editJson(join(schemasDir, 'xzcf/2019.json'), (s) => {
        s.$id = 'guiji:xzcf/2019';
      });
      editJson(join(catalogDir, 'resources/xzcf.json'), (r) => {
        r.versions = [
          {
            version: '2019',
            from: '2019-01-01',
            schema: 'xzcf/2019.json',
            upgrade: { to: '2016', fields: {} },
          },
          { version: '2016', from: '2016-01-01', schema: 'xzcf/2016.json' },
        ];
      });
      editJson(join(catalogDir, 'resources/xzxk.json'), (r) => {
        r.versions = [
          {
            version: '2016',
            from: '2016-01-01',
            to: '2019-06-30',
            schema: 'xzxk/2019.json',
            upgrade: { to: '2019', fields: {} },
          },
          { version: '2019', from: '2019-01-01', schema: 'xzxk/2019.json' },
        ];
      });
      editJson(join(catalogDir, 'resources/enterprise.json'), (r) => {
        r.versions[0].to = '2014-09-30';
      });
    });
    const xzcf = only(result.problems, 'resources/xzcf.json');
    expect(xzcf).toEqual([
      expect.objectContaining({ path: '$.versions[1].from', message: expect.stringContaining('ordered') }),
    ]);
    const xzxk = only(result.problems, 'resources/xzxk.json');
    expect(xzxk).toEqual([
      expect.objectContaining({ path: '$.versions[1].from', message: expect.stringContaining('2019-06-30') }),
    ]);
    // the schema reused for version 2016 carries the $id of 2019
    expect(only(result.problems, 'schemas/xzxk/2019.json')[0]?.path).toBe('$.$id');
    const enterprise = only(result.problems, 'resources/enterprise.json');
    expect(enterprise).toEqual([
      expect.objectContaining({ path: '$.versions[0].to', message: expect.stringContaining('before') }),
    ]);
  });

  it('catches a schema that does not compile', () => {
    const { result } = brokenCatalog(({ schemasDir }) =>
      editJson(join(schemasDir, 'xzxk/2019.json'), (s) => {
        s.properties.XK_WSH.maxLength = 'sixty-four';
      }),
    );
    expect(result.problems).toEqual([
      {
        file: expect.stringMatching(/schemas[/\\]xzxk[/\\]2019\.json$/),
        path: '$',
        message: expect.stringContaining('does not compile'),
      },
    ]);
  });

  it('catches a file that is not JSON, and a missing schema file', () => {
    const { result } = brokenCatalog(({ catalogDir, schemasDir }) => {
      writeFileSync(join(schemasDir, 'ry/1.json'), '{ "title": ');
      editJson(join(catalogDir, 'resources/sg.json'), (r) => {
        r.versions[0].schema = 'sg/2.json';
      });
    });
    expect(only(result.problems, 'schemas/ry/1.json')[0]?.message).toMatch(/not valid JSON/);
    expect(only(result.problems, 'resources/sg.json')[0]).toMatchObject({
      path: '$.versions[0].schema',
      message: expect.stringContaining('does not exist'),
    });
  });

  it('catches an unknown department, disclosure, path, kind and an id that does not match the file', () => {
    const { result } = brokenCatalog(({ catalogDir, schemasDir }) => {
      editJson(join(catalogDir, 'resources/xzxk.json'), (r) => {
        r.departments.push('jyj');
        r.disclosure = 'internal';
        r.paths.push('email');
        r.id = 'xk';
      });
      editJson(join(schemasDir, 'xzxk/2019.json'), (s) => {
        s.properties.XK_NR['x-guiji'].kind = 'longtext';
      });
    });
    const resource = only(result.problems, 'resources/xzxk.json').map((p) => p.path);
    expect(resource).toEqual(['$.id', '$.disclosure', '$.departments[4]', '$.paths[3]']);
    expect(only(result.problems, 'resources/xzxk.json')[2]?.message).toBe(
      'department "jyj" is not in catalog.json\'s departments',
    );
    expect(only(result.problems, 'schemas/xzxk/2019.json')).toEqual([
      expect.objectContaining({ path: '$.properties.XK_NR["x-guiji"].kind' }),
    ]);
  });

  it('refuses a severity that is unknown or missing, and a key field that only warns', () => {
    const { result } = brokenCatalog(({ catalogDir, schemasDir }) => {
      editJson(join(schemasDir, 'xzcf/2019.json'), (s) => {
        s.properties.CF_GSJZQ['x-guiji'].severity = 'block';
        delete s.properties.BZ['x-guiji'].severity;
        s.properties.CF_WSH['x-guiji'].severity = 'warn';
      });
      editJson(join(catalogDir, 'resources/xzcf.json'), (r) => {
        r.rules[0].severity = 'fatal';
        delete r.checks.severity.order;
      });
    });
    expect(result.ok).toBe(false);
    const schema = only(result.problems, 'schemas/xzcf/2019.json');
    expect(schema.map((p) => p.path)).toEqual([
      '$.properties.CF_GSJZQ["x-guiji"].severity',
      '$.properties.BZ["x-guiji"].severity',
    ]);
    expect(schema[0]?.message).toMatch(/"block".*reject, warn/);
    expect(schema[1]?.message).toMatch(/needs a "severity"/);
    const resource = only(result.problems, 'resources/xzcf.json');
    expect(resource.map((p) => p.path)).toEqual([
      '$.naturalKey[1]',
      '$.checks.severity.order',
      '$.rules[0].severity',
    ]);
    expect(resource[0]?.message).toMatch(/CF_WSH files the record.*must be severity reject/);
    expect(resource[2]?.message).toMatch(/"fatal"/);
  });

  it('keeps the severities it decided: identifiers and what publication needs reject, the rest warn', () => {
    const severity = (id: string, code: string) =>
      catalog.resources.get(id)?.current.fields.find((f) => f.code === code)?.severity;
    for (const code of ['CF_WSH', 'CF_CFJGDM', 'CF_XDR_SHXYM', 'CF_XDR_MC', 'CF_JDRQ', 'CF_FRDB'])
      expect(severity('xzcf', code), code).toBe('reject');
    for (const code of ['CF_GSJZQ', 'CF_NR_FK', 'BZ']) expect(severity('xzcf', code), code).toBe('warn');
    const register = catalog.resources.get('enterprise')?.current.fields ?? [];
    expect(register.filter((f) => f.severity === 'reject').map((f) => f.code)).toEqual(['QY_SHXYM', 'QY_MC']);
    expect(catalog.resources.get('xzcf')?.rules.every((r) => r.severity === 'reject')).toBe(true);
    expect(catalog.resources.get('xzxk')?.checks?.severity).toEqual({ order: 'reject', notFuture: 'reject' });
  });

  it('catches a natural-key field that is optional and a credit-code field without a credit-code format', () => {
    const { result } = brokenCatalog(({ catalogDir, schemasDir }) => {
      editJson(join(catalogDir, 'resources/dcdy.json'), (r) => {
        r.naturalKey = ['DCDY_ZXRQ', '$subject'];
      });
      editJson(join(schemasDir, 'dcdy/1.json'), (s) => {
        delete s.properties.DCDY_SHXYM.format;
      });
    });
    expect(only(result.problems, 'resources/dcdy.json').map((p) => p.path)).toEqual([
      '$.naturalKey[0]',
      '$.subject.uscc',
    ]);
  });

  it('catches department credit codes that are invalid or shared, shared aliases and deliveries that disagree', () => {
    const { result } = brokenCatalog(({ catalogDir }) => {
      editJson(join(catalogDir, 'catalog.json'), (c) => {
        const dept = (code: string) => c.departments.find((d: Json) => d.code === code);
        const scjgj = dept('scjgj').uscc[0] as string;
        // a wrong check character
        dept('yjj').uscc = [`${scjgj.slice(0, 17)}${scjgj.endsWith('0') ? '1' : '0'}`];
        dept('fgw').uscc = [scjgj.toLowerCase()];
        delete dept('kjj').uscc;
        // equal to the city regulator's name after the name normalisation; another department's alias
        dept('sthjj').aliases.push('界首市 市场监督管理局', '市场监管局');
        dept('jxj').resources = ['nope', 'enterprise'];
        dept('spj').resources = dept('spj').resources.filter((r: string) => r !== 'xzxk');
      });
      editJson(join(catalogDir, 'resources/xzcf.json'), (r) => {
        r.departmentCodeField = 'CF_SJLY';
      });
      editJson(join(catalogDir, 'resources/xzxk.json'), (r) => {
        r.departmentCodeField = 'XK_NOPE';
      });
    });
    const root = only(result.problems, 'catalog.json');
    const at = (code: string) => `$.departments[${catalog.departments.findIndex((d) => d.code === code)}]`;
    const sthjjAliases = catalog.departments.find((d) => d.code === 'sthjj')?.aliases?.length ?? 0;
    expect(root.map((p) => p.path)).toEqual([
      `${at('fgw')}.uscc[0]`,
      `${at('sthjj')}.aliases[${sthjjAliases}]`,
      `${at('sthjj')}.aliases[${sthjjAliases + 1}]`,
      `${at('yjj')}.uscc[0]`,
      `${at('kjj')}.uscc`,
      `${at('jxj')}.resources[0]`,
      `${at('jxj')}.resources[1]`,
      // jxj no longer lists ry, which lists jxj
      `${at('jxj')}.resources`,
      `${at('spj')}.resources`,
    ]);
    expect(root[0]?.message).toContain('is also a code of "scjgj"');
    expect(root[1]?.message).toContain('is also a name of "scjgj"');
    expect(root[2]?.message).toContain('is also a name of "scjgj"');
    expect(root[3]?.message).toContain('check');
    expect(root[5]?.message).toBe('resource "nope" of "jxj" is not in the catalog');
    expect(root[6]?.message).toContain('resources/enterprise.json does not list it');
    expect(root[7]?.message).toContain('resources/ry.json lists "jxj"');
    expect(root[8]?.message).toContain('resources/xzxk.json lists "spj"');
    expect(only(result.problems, 'resources/xzcf.json')).toEqual([
      expect.objectContaining({ path: '$.departmentCodeField', message: expect.stringContaining('format') }),
    ]);
    expect(only(result.problems, 'resources/xzxk.json')).toEqual([
      expect.objectContaining({ path: '$.departmentCodeField' }),
    ]);
  });

  it('catches department score weights that are not shares adding up to 1, or name an unknown part', () => {
    const { result } = brokenCatalog(({ catalogDir }) => {
      editJson(join(catalogDir, 'catalog.json'), (c) => {
        c.quality.scoreWeights = { validity: 0.5, timeliness: 0.5, completeness: -0.2, timelyness: 0.2 };
      });
    });
    expect(only(result.problems, 'catalog.json').map((p) => [p.path, p.message])).toEqual([
      ['$.quality.scoreWeights.timelyness', expect.stringContaining('not a part of the score')],
      ['$.quality.scoreWeights.completeness', expect.stringContaining('share from 0 to 1')],
    ]);
    const sum = brokenCatalog(({ catalogDir }) => {
      editJson(join(catalogDir, 'catalog.json'), (c) => {
        c.quality.scoreWeights = { validity: 0.5, timeliness: 0.5, completeness: 0.2 };
      });
    });
    expect(only(sum.result.problems, 'catalog.json')).toEqual([
      expect.objectContaining({ path: '$.quality.scoreWeights', message: expect.stringContaining('1.2') }),
    ]);
    // the bundled catalog names its weights, and the loader reads them
    expect(catalog.quality?.scoreWeights).toEqual({ validity: 0.4, timeliness: 0.4, completeness: 0.2 });
  });
});

describe('catalog list and show', () => {
  it('catches a history deadline without whole months, a real start date or its source', () => {
    const { result } = brokenCatalog(({ catalogDir }) => {
      editJson(join(catalogDir, 'catalog.json'), (c) => {
        c.history = { collectMonths: 0, start: '2020-02-30', source: '' };
      });
    });
    expect(only(result.problems, 'catalog.json').map((p) => p.path)).toEqual([
      '$.history.collectMonths',
      '$.history.start',
      '$.history.source',
    ]);
  });

  it('lists every resource with its current version and field count', () => {
    const rows = listResources(catalog);
    expect(rows).toHaveLength(catalog.resources.size);
    expect(rows.find((r) => r.id === 'xzcf')).toMatchObject({
      name: '行政处罚信息',
      category: 'public-3',
      disclosure: 'public',
      version: '2019',
      fields: 31, // the 2019 set and 当前状态 (CF_ZT), carried over from 2016
    });
  });

  it('describes a resource: fields, key, deadlines, departments by name', () => {
    const d = describeResource(catalog, 'xzcf');
    expect(d?.naturalKey).toEqual(['CF_CFJGDM', 'CF_WSH', '$subject']);
    expect(d?.deadlines).toEqual({ collectWorkdays: 7, publishWorkdays: 20 });
    expect(d?.departments[0]).toEqual({ code: 'scjgj', name: '界首市市场监督管理局' });
    expect(d?.fields.find((f) => f.code === 'CF_FR_ZJHM')).toMatchObject({
      title: '法定代表人证件号码',
      kind: 'code',
      required: false,
      sensitive: true,
    });
    expect(d?.fields.find((f) => f.code === 'CF_CFLB')?.codes).toContain('罚款');
    expect(describeResource(catalog, 'nope')).toBeNull();
  });
});

describe('catalog commands', () => {
  afterEach(() => {
    vi.restoreAllMocks();
    process.exitCode = 0;
  });

  async function run(
    args: string[],
    where = { catalogDir: config.catalogDir, schemasDir: config.schemasDir },
  ) {
    let stdout = '';
    let stderr = '';
    vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => {
      stdout += String(chunk);
      return true;
    });
    vi.spyOn(process.stderr, 'write').mockImplementation((chunk) => {
      stderr += String(chunk);
      return true;
    });
    const program = new Command().exitOverride();
    registerCatalogCommands(program, () => where);
    let error: unknown = null;
    try {
      await program.parseAsync(['node', 'guiji', ...args]);
    } catch (e) {
      error = e;
    }
    vi.restoreAllMocks();
    return { stdout, stderr, error, exitCode: process.exitCode };
  }

  it('validate: ok with exit 0; problems on stderr with exit 2; --json', async () => {
    const good = await run(['catalog', 'validate']);
    expect(good.exitCode).toBe(0);
    expect(good.stdout).toMatch(/catalog ok: 21 resources/);

    const broken = brokenCatalog(({ schemasDir }) =>
      editJson(join(schemasDir, 'xzcf/2019.json'), (s) => {
        s.properties.CF_CFLB['x-guiji'].codeList = 'nope';
      }),
    );
    const bad = await run(['catalog', 'validate'], broken);
    expect(bad.exitCode).toBe(2);
    expect(bad.stderr).toMatch(/2019\.json: \$\.properties\.CF_CFLB\["x-guiji"\]\.codeList: .*"nope"/);
    const json = await run(['catalog', 'validate', '--json'], broken);
    expect(json.exitCode).toBe(2);
    expect(JSON.parse(json.stdout)).toMatchObject({ ok: false, problems: [{ path: expect.any(String) }] });
  });

  it('list and show print text and JSON; show of an unknown resource is a usage error', async () => {
    const list = await run(['catalog', 'list', '--json']);
    expect((JSON.parse(list.stdout) as unknown[]).length).toBe(21);
    const text = await run(['catalog', 'list']);
    expect(text.stdout).toMatch(/nsxx\s+other-2\s+shared\s+1\s+\d+\s+纳税/);

    const show = await run(['catalog', 'show', 'jyxcf']);
    expect(show.stdout).toContain('JYCF_FKJE required when JYCF_CFZL includes 罚款');
    expect(show.stdout).toMatch(/\*\s+JYCF_JDSBH\s+当场处罚决定书编号/);
    const showJson = await run(['catalog', 'show', 'sxbzxr', '--json']);
    expect(JSON.parse(showJson.stdout)).toMatchObject({ id: 'sxbzxr', naturalKey: ['SX_AH', '$subject'] });

    const unknown = await run(['catalog', 'show', 'nope']);
    expect((unknown.error as { code?: string }).code).toBe('GUIJI_ERR_USAGE');
  });
});

describe('header recognition of every resource', () => {
  it.each(NEW_RESOURCES)('recognises %s from its own standard titles', (id) => {
    const resource = catalog.resources.get(id)!;
    const all = resource.current.fields.map((f) => f.title);
    const full = matchHeader(index, all);
    expect(full?.resource.id).toBe(id);
    expect(full?.missing).toEqual([]);
    expect(full?.columns.every((c) => c !== null)).toBe(true);
    // a file with only the required columns, and one with the field codes
    const required = resource.current.fields.filter((f) => f.required);
    expect(
      matchHeader(
        index,
        required.map((f) => f.title),
      )?.resource.id,
    ).toBe(id);
    expect(
      matchHeader(
        index,
        resource.current.fields.map((f) => f.code),
      )?.resource.id,
    ).toBe(id);
  });

  it.each(['xzxk', 'xzcf', 'enterprise'])(
    'keeps %s files, even with required columns missing, from the new resources',
    (id) => {
      const resource = catalog.resources.get(id)!;
      const required = resource.current.fields.filter((f) => f.required);
      for (let drop = 0; drop <= Math.floor(required.length * 0.4); drop++) {
        for (let start = 0; start < required.length; start++) {
          const dropped = new Set(
            Array.from({ length: drop }, (_, i) => required[(start + i) % required.length]!.code),
          );
          const header = resource.current.fields.filter((f) => !dropped.has(f.code)).map((f) => f.title);
          const match = matchHeader(index, header);
          if (match) expect(match.resource.id, `${id} without ${[...dropped].join(',')}`).toBe(id);
        }
      }
    },
  );
});

describe('records of every new resource', () => {
  const ajv = createAjv();
  const uscc = makeUscc('91341282MA2N00001');
  function sample(field: FieldDef): string {
    if (field.format === 'uscc' || field.format === 'uscc-or-placeholder') return uscc;
    switch (field.kind) {
      case 'date':
        return '2024/05/06';
      case 'datetime':
        return '2024-05-06 08:30:00';
      case 'amount':
        return '1.5';
      case 'docno':
        return '界市监罚〔2024〕12号';
      case 'enum':
        return catalog.codeLists[field.codeList ?? '']?.[0]?.label ?? '';
      default:
        return field.code.endsWith('RS') ? '3' : `示例${field.code}`;
    }
  }

  it.each(NEW_RESOURCES)('validates a filled-in %s row and keys it by its natural key', (id) => {
    const resource = catalog.resources.get(id)!;
    const fields = resource.current.fields;
    const validate = compileRowValidator(ajv, catalog, resource, resource.current, fields);
    const result = validate(fields.map(sample));
    expect(result.ok ? [] : result.issues).toEqual([]);
    if (!result.ok) return;
    expect(result.value.uscc).toBe(uscc);
    expect(result.value.producedDate).toBe('2024-05-06');
    expect(result.value.department).toBeTruthy();
    expect(result.value.naturalKey.split('|').every((part) => part.length > 0)).toBe(true);
  });
});
