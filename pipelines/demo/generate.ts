import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import iconv from 'iconv-lite';
import { csvField } from '../../lib/csv.js';
import { makeOrgCode, makeUscc } from '../../schemas/identifiers.js';

/** A small seeded PRNG (mulberry32): the same seed writes the same files. */
export function createRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export type Random = () => number;

export function pick<T>(random: Random, items: readonly T[]): T {
  return items[Math.floor(random() * items.length)] as T;
}

function int(random: Random, min: number, max: number): number {
  return min + Math.floor(random() * (max - min + 1));
}

const TRADE_NAMES = [
  '华源',
  '鑫泰',
  '恒达',
  '瑞丰',
  '金颍',
  '宏宇',
  '天润',
  '中联',
  '福临',
  '安泰',
  '永盛',
  '嘉禾',
  '东方',
  '光华',
  '兴业',
  '新锐',
  '同创',
  '博远',
  '汇通',
  '盛世',
  '腾飞',
  '颍河',
  '淮北',
  '皖美',
  '界光',
  '振兴',
  '利民',
  '开元',
  '顺昌',
  '祥和',
];
const INDUSTRIES = [
  '科技',
  '商贸',
  '建材',
  '食品',
  '塑业',
  '再生资源',
  '服装',
  '农业科技',
  '机械制造',
  '物流',
  '电子',
  '包装',
  '医药',
  '餐饮管理',
];
const FORMS = ['有限公司', '有限责任公司', '股份有限公司'];
const SURNAMES = [
  '王',
  '李',
  '张',
  '刘',
  '陈',
  '杨',
  '赵',
  '黄',
  '周',
  '吴',
  '徐',
  '孙',
  '马',
  '朱',
  '胡',
  '郭',
  '何',
  '林',
];
const GIVEN = [
  '伟',
  '芳',
  '娜',
  '敏',
  '静',
  '强',
  '磊',
  '军',
  '洋',
  '勇',
  '艳',
  '杰',
  '涛',
  '明',
  '超',
  '秀英',
  '建国',
  '志强',
];
const TOWNS = [
  '东城街道',
  '西城街道',
  '颍南街道',
  '光武镇',
  '泉阳镇',
  '芦村镇',
  '新马集镇',
  '大黄镇',
  '田营镇',
  '陶庙镇',
];

export interface DemoEnterprise {
  uscc: string;
  name: string;
  legalRep: string;
  founded: string;
  address: string;
}

export interface Authority {
  name: string;
  uscc: string;
  short: string;
  /** The demo's share of this department's records delivered after the 7-working-day deadline. */
  lateShare: number;
}

/** A government organ's credit code: authority 1 (机构编制), category 1, division 341282. */
function organCode(serial: number): string {
  const org = makeOrgCode(String(10000000 + serial * 7919).slice(-8));
  return makeUscc(`11341282${org}`);
}

/** The demo's departments: most deliver on time, emergency management mostly late (a department to watch). */
export const AUTHORITIES: readonly Authority[] = [
  { name: '界首市市场监督管理局', uscc: organCode(11), short: '界市监', lateShare: 0.06 },
  { name: '界首市应急管理局', uscc: organCode(12), short: '界应急', lateShare: 0.62 },
  { name: '阜阳市界首市生态环境分局', uscc: organCode(13), short: '界环', lateShare: 0.1 },
  { name: '国家税务总局界首市税务局', uscc: organCode(14), short: '界税', lateShare: 0.2 },
  { name: '界首市行政审批局', uscc: organCode(15), short: '界审批', lateShare: 0.04 },
];

function isoDate(year: number, month: number, day: number): string {
  return `${year}-${String(month).padStart(2, '0')}-${String(day).padStart(2, '0')}`;
}

function randomDate(random: Random, fromYear: number, toYear: number): string {
  return isoDate(int(random, fromYear, toYear), int(random, 1, 12), int(random, 1, 28));
}

/**
 * The day a record delivered on `delivered` (YYYY-MM-DD) was produced: within the 7 working days (0–6 days
 * before) for most, `lateShare` of them 12–45 days before (past the deadline), as departments really deliver.
 */
export function producedBefore(random: Random, delivered: string, lateShare: number): string {
  const late = random() < lateShare;
  const days = late ? int(random, 12, 45) : int(random, 0, 6);
  return new Date(Date.parse(`${delivered}T00:00:00Z`) - days * 86_400_000).toISOString().slice(0, 10);
}

function addYears(date: string, years: number): string {
  return `${Number(date.slice(0, 4)) + years}${date.slice(4)}`;
}

/** Dates as departments really write them: ISO, slashes, compact and Chinese. */
function styleDate(random: Random, date: string): string {
  const [y, m, d] = date.split('-');
  switch (int(random, 0, 5)) {
    case 0:
      return `${y}/${m}/${d}`;
    case 1:
      return `${y}${m}${d}`;
    case 2:
      return `${y}年${Number(m)}月${Number(d)}日`;
    default:
      return date;
  }
}

export function personName(random: Random): string {
  return pick(random, SURNAMES) + pick(random, GIVEN);
}

/** Enterprises of 界首市 (division 341282) with valid credit codes; a few registered elsewhere in the province. */
export function generateEnterprises(random: Random, count: number): DemoEnterprise[] {
  const out: DemoEnterprise[] = [];
  const names = new Set<string>();
  for (let i = 0; out.length < count; i++) {
    const name = `界首市${pick(random, TRADE_NAMES)}${pick(random, INDUSTRIES)}${pick(random, FORMS)}`;
    const unique = names.has(name)
      ? name.replace('界首市', `界首市${pick(random, TOWNS).slice(0, 2)}`)
      : name;
    if (names.has(unique)) continue;
    names.add(unique);
    const division = random() < 0.05 ? '341200' : '341282';
    const org = makeOrgCode(String(int(random, 10000000, 99999999)));
    out.push({
      uscc: makeUscc(`91${division}${org}`),
      name: unique,
      legalRep: personName(random),
      founded: randomDate(random, 2005, 2023),
      address: `安徽省界首市${pick(random, TOWNS)}${int(random, 1, 300)}号`,
    });
    if (i > count * 20) break;
  }
  return out;
}

export const ENTERPRISE_HEADER = [
  '统一社会信用代码',
  '企业名称',
  '类型',
  '法定代表人',
  '注册资本',
  '成立日期',
  '登记机关',
  '核准日期',
  '登记状态',
  '住所',
];

/**
 * A register row. With `delivered` (the China date the file is delivered), the row is a change of the week: its
 * 核准日期 is days before it (the clock of a register row); otherwise 0–2 years after its founding.
 */
export function enterpriseRow(random: Random, e: DemoEnterprise, delivered?: string): string[] {
  const approved = delivered
    ? producedBefore(random, delivered, 0.05)
    : addYears(e.founded, int(random, 0, 2));
  return [
    e.uscc,
    e.name,
    '有限责任公司(自然人投资或控股)',
    e.legalRep,
    String(int(random, 10, 5000)),
    e.founded,
    '界首市市场监督管理局',
    approved,
    pick(random, ['存续', '存续', '存续', '在业', '吊销', '注销']),
    e.address,
  ];
}

export const PENALTY_HEADER = [
  '行政相对人名称',
  '行政相对人类别',
  '统一社会信用代码',
  '法定代表人',
  '行政处罚决定书文号',
  '违法行为类型',
  '违法事实',
  '处罚依据',
  '处罚类别',
  '处罚内容',
  '罚款金额（万元）',
  '没收违法所得、没收非法财物的金额（万元）',
  '暂扣或吊销证照名称及编号',
  '处罚决定日期',
  '处罚有效期',
  '公示截止期',
  '处罚机关',
  '处罚机关统一社会信用代码',
  '数据来源单位',
  '数据来源单位统一社会信用代码',
  '备注',
];

const VIOLATIONS = [
  ['未按规定公示年度报告', '未在规定期限内公示年度报告', '《企业信息公示暂行条例》第十七条'],
  ['销售不合格产品', '销售的产品经抽检不合格', '《中华人民共和国产品质量法》第四十九条'],
  ['虚假宣传', '在网店页面发布虚假宣传内容', '《中华人民共和国反不正当竞争法》第二十条'],
  ['未取得许可从事经营', '未取得食品经营许可从事食品经营活动', '《中华人民共和国食品安全法》第一百二十二条'],
  ['安全生产违法', '未按规定对从业人员进行安全生产教育和培训', '《中华人民共和国安全生产法》第九十七条'],
  ['超标排放污染物', '废气排放浓度超过国家标准', '《中华人民共和国大气污染防治法》第九十九条'],
];

/** Kinds of bad rows the demo and tests plant, and how many of each a data set holds. */
export type Fault =
  | 'missing-name'
  | 'bad-check-char'
  | 'bad-date'
  | 'fine-missing'
  | 'yuan-amount'
  | 'code-as-number'
  | 'unknown-kind'
  | 'duplicate';

export const FAULTS: readonly Fault[] = [
  'missing-name',
  'bad-check-char',
  'bad-date',
  'fine-missing',
  'yuan-amount',
  'code-as-number',
  'unknown-kind',
  'duplicate',
];

export interface PenaltyPlan {
  rows: string[][];
  faults: Record<Fault, number>;
  /** Rows whose credit code is in no register handed to the demo (loaded, flagged unmatched). */
  unknownSubjects: number;
}

/**
 * Penalty rows of the 2019 standard: mostly clean, with `faultShare` of them carrying one planted fault each,
 * and `unknownShare` about enterprises the register does not hold.
 */
export function generatePenalties(
  random: Random,
  enterprises: readonly DemoEnterprise[],
  count: number,
  options: {
    faultShare?: number;
    unknownShare?: number;
    authority?: Authority;
    year?: number;
    /** The China date the rows are delivered: decisions dated days before it, by their authority's lateness. */
    delivered?: string;
    /** The authorities rows are decided by, when no single `authority` (default: the first four). */
    authorities?: readonly Authority[];
  } = {},
): PenaltyPlan {
  const faultShare = options.faultShare ?? 0.08;
  const unknownShare = options.unknownShare ?? 0.05;
  const faults = Object.fromEntries(FAULTS.map((f) => [f, 0])) as Record<Fault, number>;
  const rows: string[][] = [];
  let unknownSubjects = 0;
  let serial = 0;
  let lastClean = false;
  while (rows.length < count) {
    const authority = options.authority ?? pick(random, options.authorities ?? AUTHORITIES.slice(0, 4));
    const unknown = random() < unknownShare;
    const subject = unknown
      ? {
          ...(pick(random, enterprises) as DemoEnterprise),
          uscc: makeUscc(`91341282${makeOrgCode(String(int(random, 10000000, 99999999)))}`),
        }
      : pick(random, enterprises);
    const decided = options.delivered
      ? producedBefore(random, options.delivered, authority.lateShare)
      : options.year
        ? randomDate(random, options.year, options.year)
        : randomDate(random, 2023, 2025);
    const [violation, fact, basis] = pick(random, VIOLATIONS) as string[];
    const withFine = random() < 0.7;
    const kinds = withFine ? (random() < 0.3 ? '警告;罚款' : '罚款') : '警告';
    const fine = withFine ? String(int(random, 1, 500) / 100) : '';
    serial++;
    const row = [
      subject.name,
      '法人及非法人组织',
      subject.uscc,
      subject.legalRep,
      `${authority.short}罚〔${decided.slice(0, 4)}〕${serial}号`,
      violation as string,
      fact as string,
      basis as string,
      kinds,
      withFine ? `罚款人民币${Math.round(Number(fine) * 10000)}元` : '警告',
      fine,
      '',
      '',
      styleDate(random, decided),
      addYears(decided, 1),
      addYears(decided, 3),
      authority.name,
      authority.uscc,
      authority.name,
      authority.uscc,
      '',
    ];
    if (random() < faultShare) {
      const fault = pick(random, FAULTS);
      // a duplicate repeats a clean row, so that it is rejected as a duplicate and for nothing else
      if (fault === 'duplicate' && !lastClean) continue;
      if ((fault === 'fine-missing' || fault === 'yuan-amount') && !withFine) continue;
      faults[fault]++;
      if (fault === 'duplicate') {
        rows.push([...(rows[rows.length - 1] as string[])]);
        continue;
      }
      applyFault(fault, row);
      lastClean = false;
    } else {
      if (unknown) unknownSubjects++;
      lastClean = true;
    }
    rows.push(row);
  }
  return { rows, faults, unknownSubjects };
}

function applyFault(fault: Fault, row: string[]): void {
  switch (fault) {
    case 'missing-name':
      row[0] = '';
      break;
    case 'bad-check-char': {
      const code = row[2] as string;
      const last = code.slice(-1);
      row[2] = code.slice(0, -1) + (last === '1' ? '2' : '1');
      break;
    }
    case 'bad-date':
      row[13] = '2025-02-30';
      break;
    case 'fine-missing':
      row[10] = '';
      break;
    case 'yuan-amount':
      row[10] = `${Math.round(Number(row[10]) * 10000)}元`;
      break;
    case 'code-as-number':
      row[2] = Number((row[2] as string).replace(/\D/g, '').padEnd(18, '0'))
        .toExponential(14)
        .toUpperCase()
        .replace('E+', 'E+0');
      break;
    case 'unknown-kind':
      row[8] = '罚金';
      break;
    case 'duplicate':
      break;
  }
}

export const LICENCE_HEADER = [
  '行政相对人名称',
  '行政相对人类别',
  '统一社会信用代码',
  '法定代表人',
  '行政许可决定文书名称',
  '行政许可决定文书号',
  '许可类别',
  '许可证书名称',
  '许可编号',
  '许可内容',
  '许可决定日期',
  '有效期自',
  '有效期至',
  '许可机关',
  '许可机关统一社会信用代码',
  '当前状态',
  '数据来源单位',
  '数据来源单位统一社会信用代码',
  '备注',
];

const LICENCES = [
  ['食品经营许可证', '食品经营许可', '预包装食品（含冷藏冷冻食品）销售'],
  ['排污许可证', '排污许可', '废气、废水排放'],
  ['建筑工程施工许可证', '建筑工程施工许可', '厂房新建工程施工'],
  ['危险化学品经营许可证', '危险化学品经营许可', '危险化学品批发（不带储存设施）'],
];

export function generateLicences(
  random: Random,
  enterprises: readonly DemoEnterprise[],
  count: number,
  /** The China date the rows are delivered: decisions dated days before it (see producedBefore). */
  options: { delivered?: string } = {},
): string[][] {
  const authority = AUTHORITIES[4] as Authority;
  const rows: string[][] = [];
  for (let i = 1; i <= count; i++) {
    const e = pick(random, enterprises);
    const [cert, decision, content] = pick(random, LICENCES) as string[];
    const decided = options.delivered
      ? producedBefore(random, options.delivered, authority.lateShare)
      : randomDate(random, 2023, 2025);
    rows.push([
      e.name,
      '法人及非法人组织',
      e.uscc,
      e.legalRep,
      `${decision}决定书`,
      `${authority.short}许〔${decided.slice(0, 4)}〕${i}号`,
      pick(random, ['普通', '登记', '核准', '认可']),
      cert as string,
      `JY3341282${String(100000 + i)}`,
      content as string,
      decided,
      decided,
      random() < 0.1 ? '2099-12-31' : addYears(decided, 5),
      authority.name,
      authority.uscc,
      '1',
      authority.name,
      authority.uscc,
      '',
    ]);
  }
  return rows;
}

export type TextEncoding = 'utf8' | 'utf8-bom' | 'gb18030' | 'utf16le';

/** Writes a CSV (or Excel "Unicode text") file as a department's software would, streaming. */
export async function writeDelimited(
  path: string,
  header: readonly string[],
  rows: Iterable<readonly string[]>,
  options: { encoding?: TextEncoding; delimiter?: ',' | '\t' } = {},
): Promise<void> {
  const encoding = options.encoding ?? 'utf8';
  const delimiter = options.delimiter ?? ',';
  const out = createWriteStream(path);
  const encode = (text: string): Buffer =>
    encoding === 'gb18030'
      ? iconv.encode(text, 'gb18030')
      : encoding === 'utf16le'
        ? Buffer.from(text, 'utf16le')
        : Buffer.from(text, 'utf8');
  if (encoding === 'utf8-bom') out.write(Buffer.from([0xef, 0xbb, 0xbf]));
  if (encoding === 'utf16le') out.write(Buffer.from([0xff, 0xfe]));
  let pending = `${header.map((h) => csvField(h, delimiter)).join(delimiter)}\r\n`;
  for (const row of rows) {
    pending += `${row.map((v) => csvField(v, delimiter)).join(delimiter)}\r\n`;
    if (pending.length > 1 << 16) {
      if (!out.write(encode(pending))) await once(out, 'drain');
      pending = '';
    }
  }
  out.end(encode(pending));
  await once(out, 'finish');
}
