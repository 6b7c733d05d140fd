/**
 * The records a platform simulator serves: N seeded records over datasets (xzxk licences, xzcf penalties,
 * lhcj joint-punishment list), rows with the standard's field codes plus `ID` and `SJC` (update time, China
 * time). Fields are generated on demand from (seed, index, version), so a million records cost only their
 * ids and update times in memory. A share of rows is invalid (the demo generator's planted faults); a share
 * of records was updated after it first appeared (version 2, a newer SJC, `BZ` says so).
 *
 * Each dataset keeps its records ordered by (SJC, ID); {@link SimStore.query} answers a half-open window
 * `[from, to)` by binary search. {@link SimStore.update} moves a record's SJC forward (an update; the faults
 * use it for "drift": a record updated while a client is paging).
 */
import { createHash } from 'node:crypto';
import { formatChinaTime } from '../../connectors/http/china-time.js';
import {
  createRandom,
  type DemoEnterprise,
  generateEnterprises,
  generateLicences,
  generatePenalties,
  LICENCE_HEADER,
  PENALTY_HEADER,
  personName,
  pick,
  type Random,
} from '../demo/generate.js';

export type Row = Record<string, string | null>;

export const CREDIT_DATASETS = ['xzxk', 'xzcf', 'lhcj'] as const;

const PENALTY_CODES = [
  'CF_XDR_MC',
  'CF_XDR_LB',
  'CF_XDR_SHXYM',
  'CF_FRDB',
  'CF_WSH',
  'CF_WFXW',
  'CF_SY',
  'CF_YJ',
  'CF_CFLB',
  'CF_NR',
  'CF_NR_FK',
  'CF_NR_WFFF',
  'CF_NR_ZKDX',
  'CF_JDRQ',
  'CF_YXQ',
  'CF_GSJZQ',
  'CF_CFJG',
  'CF_CFJGDM',
  'CF_SJLY',
  'CF_SJLYDM',
  'BZ',
];
const LICENCE_CODES = [
  'XK_XDR_MC',
  'XK_XDR_LB',
  'XK_XDR_SHXYM',
  'XK_FRDB',
  'XK_XKWS',
  'XK_WSH',
  'XK_XKLB',
  'XK_XKZS',
  'XK_XKBH',
  'XK_NR',
  'XK_JDRQ',
  'XK_YXQZ',
  'XK_YXQZI',
  'XK_XKJG',
  'XK_XKJGDM',
  'XK_ZT',
  'XK_LYDW',
  'XK_LYDWDM',
  'BZ',
];
if (PENALTY_CODES.length !== PENALTY_HEADER.length || LICENCE_CODES.length !== LICENCE_HEADER.length) {
  throw new Error('simulator field codes out of step with the demo generator headers');
}

const LISTS = [
  [
    '严重违法失信企业名单',
    '被列入经营异常名录届满3年仍未履行相关义务',
    '《严重违法失信企业名单管理暂行办法》第五条',
  ],
  ['重大税收违法失信主体名单', '虚开增值税专用发票', '《重大税收违法失信主体信息公布管理办法》第六条'],
  [
    '失信被执行人名单',
    '有履行能力而拒不履行生效法律文书确定义务',
    '《最高人民法院关于公布失信被执行人名单信息的若干规定》第一条',
  ],
];

function toRow(codes: readonly string[], values: readonly string[]): Row {
  const row: Row = {};
  codes.forEach((code, i) => {
    const value = values[i] ?? '';
    row[code] = value === '' ? null : value;
  });
  return row;
}

export interface StoreOptions {
  /** Records in total, spread evenly over the datasets. */
  records: number;
  seed: number;
  /** Dataset names; each must be one of xzxk, xzcf, lhcj (or named `<name>` → served with `kind`). */
  datasets?: readonly string[];
  /** Map from a dataset name to the kind of rows it holds (default: the name itself). */
  kinds?: Readonly<Record<string, 'xzxk' | 'xzcf' | 'lhcj'>>;
  /** First and last update time of the initial records (epoch ms). Defaults: 2024-01-01 .. 2025-06-30 CST. */
  fromMs?: number;
  toMs?: number;
  /** Share of records updated after they first appeared (version 2). Default 0.05. */
  updatedShare?: number;
  /** Share of rows with a planted fault (invalid). Default 0.05. */
  invalidShare?: number;
  /**
   * Decisions dated in the days before their update time (SJC), as a department that delivers on time or late
   * would have them (the demo's departments' lateness); default false: dated 2023–2025 whatever their SJC.
   */
  producedBeforeSjc?: boolean;
  /**
   * Keep each record's JSON once rendered (default false). The bench sets it and calls
   * {@link SimStore.prerender} before the clock starts: a real platform runs on its own machine, so the
   * simulator should not take the pipeline's cores rendering rows. About 1 KB of memory per record.
   */
  keepRendered?: boolean;
}

interface Entry {
  id: string;
  sjc: string;
  index: number;
  version: number;
  /** The row's JSON, kept when the store keeps rendered rows; dropped when the record changes. */
  json?: string | undefined;
}

/** One dataset: its entries ordered by (SJC, ID). */
class Dataset {
  readonly entries: Entry[] = [];
  readonly byId = new Map<string, Entry>();
  constructor(
    readonly name: string,
    readonly kind: 'xzxk' | 'xzcf' | 'lhcj',
  ) {}

  sort(): void {
    this.entries.sort(compareEntries);
  }

  /** First position whose SJC is ≥ `time`. */
  lowerBound(time: string): number {
    let lo = 0;
    let hi = this.entries.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((this.entries[mid] as Entry).sjc < time) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}

function compareEntries(a: Entry, b: Entry): number {
  return a.sjc < b.sjc ? -1 : a.sjc > b.sjc ? 1 : a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

/** A page of a window. */
export interface WindowPage {
  total: number;
  rows: Row[];
}

/** A page of a window with its rows already as one JSON array text. */
export interface WindowPageJson {
  total: number;
  rowsJson: string;
}

/** The records one simulator serves. */
export interface SimStore {
  readonly seed: number;
  readonly datasets: readonly string[];
  has(dataset: string): boolean;
  /** Rows of `[from, to)` (China time strings), ordered by (SJC, ID), page `pageNo` (from 1) of `pageSize`. */
  query(dataset: string, from: string, to: string, pageNo: number, pageSize: number): WindowPage;
  /**
   * {@link query} with the rows as a JSON array text (the kept renderings when the store keeps them); only the
   * page's first `limit` rows when given (a page cut short).
   */
  queryJson(
    dataset: string,
    from: string,
    to: string,
    pageNo: number,
    pageSize: number,
    limit?: number,
  ): WindowPageJson;
  /** Renders and keeps every record's JSON now (only when the store keeps rendered rows). */
  prerender(): void;
  /** Ids (with their SJC) of the records of `[from, to)` as they stand now. */
  idsIn(dataset: string, from: string, to: string): Array<{ id: string; sjc: string }>;
  /** The current row of a record. */
  row(dataset: string, id: string): Row | undefined;
  /** Every id of a dataset. */
  ids(dataset: string): string[];
  /** Updates a record: a new version with SJC `sjc` (default: now, China time, never earlier than before). */
  update(dataset: string, id: string, sjc?: string): Row;
  /** Updates a random record of the dataset (drift); returns its id. */
  updateRandom(dataset: string, random: Random): string | undefined;
  /** Records per dataset. */
  count(dataset: string): number;
}

/** Builds a seeded store. The same options give the same records. */
export function createStore(options: StoreOptions): SimStore {
  const seed = options.seed;
  const names = options.datasets ?? CREDIT_DATASETS;
  const fromMs = options.fromMs ?? Date.parse('2024-01-01T00:00:00+08:00');
  const toMs = options.toMs ?? Date.parse('2025-06-30T23:59:59+08:00');
  const updatedShare = options.updatedShare ?? 0.05;
  const invalidShare = options.invalidShare ?? 0.05;
  const random = createRandom(seed);
  const enterprises = generateEnterprises(random, 200);
  const datasets = new Map<string, Dataset>();
  for (const name of names) {
    const kind = options.kinds?.[name] ?? (name as 'xzxk' | 'xzcf' | 'lhcj');
    if (!CREDIT_DATASETS.includes(kind)) throw new Error(`unknown dataset kind for ${name}: ${kind}`);
    datasets.set(name, new Dataset(name, kind));
  }
  const list = [...datasets.values()];
  const span = Math.max(1, Math.floor((toMs - fromMs) / 1000));
  let previous = '';
  for (let index = 0; index < options.records; index++) {
    const dataset = list[index % list.length] as Dataset;
    const id = createHash('md5').update(`${seed}:${dataset.name}:${index}`).digest('hex');
    // a share of records shares its update time with the previous one: the order then rests on the id
    const sjc =
      previous !== '' && random() < 0.05
        ? previous
        : formatChinaTime(fromMs + Math.floor(random() * span) * 1000);
    previous = sjc;
    let version = 1;
    let current = sjc;
    if (random() < updatedShare) {
      version = 2;
      current = formatChinaTime(
        Math.min(
          toMs,
          Date.parse(`${sjc.replace(' ', 'T')}+08:00`) + (1 + Math.floor(random() * 90)) * 86_400_000,
        ),
      );
    }
    const entry: Entry = { id, sjc: current, index, version };
    dataset.entries.push(entry);
    dataset.byId.set(id, entry);
  }
  for (const d of list) d.sort();

  const keepRendered = options.keepRendered ?? false;
  const producedBeforeSjc = options.producedBeforeSjc ?? false;
  const get = (name: string): Dataset => {
    const d = datasets.get(name);
    if (!d) throw new Error(`no dataset ${name}`);
    return d;
  };

  function render(d: Dataset, e: Entry): Row {
    const r = createRandom((seed * 7919 + e.index * 104_729) >>> 0);
    const invalid = r() < invalidShare;
    const delivered = producedBeforeSjc ? { delivered: e.sjc.slice(0, 10) } : {};
    let row: Row;
    if (d.kind === 'xzcf') {
      const plan = generatePenalties(r, enterprises, 1, {
        faultShare: invalid ? 1 : 0,
        unknownShare: 0.05,
        ...delivered,
      });
      row = toRow(PENALTY_CODES, plan.rows[0] ?? []);
      // one decision, one document number: the generator numbers from 1 on every call
      if (typeof row['CF_WSH'] === 'string')
        row['CF_WSH'] = row['CF_WSH'].replace(/〕\d+号$/, `〕${e.index + 1}号`);
    } else if (d.kind === 'xzxk') {
      row = toRow(LICENCE_CODES, generateLicences(r, enterprises, 1, delivered)[0] ?? []);
      row['XK_WSH'] = `界审批许〔${(row['XK_JDRQ'] ?? '2024').slice(0, 4)}〕${e.index + 1}号`;
      if (invalid) row[pick(r, ['XK_XDR_MC', 'XK_JDRQ', 'XK_XKJGDM'])] = pick(r, [null, '2024-02-30', '123']);
    } else {
      row = lhcjRow(r, enterprises, e.index);
      if (invalid) row[pick(r, ['LHCJ_MC', 'LHCJ_LRRQ'])] = pick(r, [null, '2024/13/01']);
    }
    if (e.version > 1) row['BZ'] = `第${e.version - 1}次更正`;
    return { ID: e.id, ...row, SJC: e.sjc };
  }

  function renderJson(d: Dataset, e: Entry): string {
    if (e.json !== undefined) return e.json;
    const json = JSON.stringify(render(d, e));
    if (keepRendered) e.json = json;
    return json;
  }

  /** Positions `[start, end)` of page `pageNo` of the window `[from, to)`, and the window's size. */
  function pageOf(d: Dataset, from: string, to: string, pageNo: number, pageSize: number, limit = pageSize) {
    const lo = d.lowerBound(from);
    const hi = Math.max(lo, d.lowerBound(to));
    const start = lo + (pageNo - 1) * pageSize;
    return { total: hi - lo, start, end: Math.min(hi, start + Math.min(pageSize, limit)) };
  }

  return {
    seed,
    datasets: [...datasets.keys()],
    has: (name) => datasets.has(name),
    count: (name) => get(name).entries.length,
    query(name, from, to, pageNo, pageSize) {
      const d = get(name);
      const { total, start, end } = pageOf(d, from, to, pageNo, pageSize);
      const rows: Row[] = [];
      for (let i = start; i < end; i++) rows.push(render(d, d.entries[i] as Entry));
      return { total, rows };
    },
    queryJson(name, from, to, pageNo, pageSize, limit) {
      const d = get(name);
      const { total, start, end } = pageOf(d, from, to, pageNo, pageSize, limit);
      const parts: string[] = [];
      for (let i = start; i < end; i++) parts.push(renderJson(d, d.entries[i] as Entry));
      return { total, rowsJson: `[${parts.join(',')}]` };
    },
    prerender() {
      if (!keepRendered) return;
      for (const d of list) for (const e of d.entries) renderJson(d, e);
    },
    idsIn(name, from, to) {
      const d = get(name);
      const lo = d.lowerBound(from);
      const hi = Math.max(lo, d.lowerBound(to));
      return d.entries.slice(lo, hi).map((e) => ({ id: e.id, sjc: e.sjc }));
    },
    row(name, id) {
      const d = get(name);
      const e = d.byId.get(id);
      return e ? render(d, e) : undefined;
    },
    ids: (name) => get(name).entries.map((e) => e.id),
    update(name, id, sjc) {
      const d = get(name);
      const e = d.byId.get(id);
      if (!e) throw new Error(`no record ${id} in ${name}`);
      const next = sjc ?? formatChinaTime(Date.now());
      const at = d.entries.indexOf(e);
      d.entries.splice(at, 1);
      e.version++;
      e.json = undefined;
      if (next > e.sjc) e.sjc = next;
      const last = d.entries[d.entries.length - 1];
      if (!last || compareEntries(last, e) <= 0) d.entries.push(e);
      else {
        d.entries.push(e);
        d.sort();
      }
      return render(d, e);
    },
    updateRandom(name, r) {
      const d = get(name);
      const e = d.entries[Math.floor(r() * d.entries.length)];
      if (!e) return undefined;
      this.update(name, e.id);
      return e.id;
    },
  };
}

function lhcjRow(r: Random, enterprises: readonly DemoEnterprise[], index: number): Row {
  const e = pick(r, enterprises);
  const [list, conduct, basis] = pick(r, LISTS) as string[];
  const year = 2023 + Math.floor(r() * 3);
  const listed = `${year}-${String(1 + Math.floor(r() * 12)).padStart(2, '0')}-${String(1 + Math.floor(r() * 28)).padStart(2, '0')}`;
  return {
    LHCJ_MC: e.name,
    LHCJ_SHXYM: e.uscc,
    LHCJ_ZCH: null,
    LHCJ_FRDB: e.legalRep || personName(r),
    LHCJ_MDMC: list ?? null,
    LHCJ_SXXW: conduct ?? null,
    LHCJ_RDYJ: basis ?? null,
    LHCJ_RDWSH: `界信认〔${year}〕${index + 1}号`,
    LHCJ_RDBM: pick(r, ['界首市发展和改革委员会', '国家税务总局界首市税务局', '界首市市场监督管理局']),
    LHCJ_LRRQ: listed,
    LHCJ_YXQZ: `${year + 3}${listed.slice(4)}`,
    LHCJ_CJCS: '限制参与政府采购、限制取得政府供应土地',
    LHCJ_YCRQ: null,
    LHCJ_BZ: null,
  };
}
