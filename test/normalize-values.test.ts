import { describe, expect, it } from 'vitest';
import type { CellValue } from '../lib/types.js';
import {
  type CodeListEntry,
  LONG_TERM_DATE,
  type NormalizeResult,
  normalizeAmount,
  normalizeCode,
  normalizeCodeList,
  normalizeDate,
  normalizeDateTime,
  normalizeDocNumber,
  normalizeText,
  type ValueIssue,
} from '../pipelines/normalize/values.js';

type Normalizer = (v: CellValue) => NormalizeResult;

/** The value of a successful result; fails the test with the issue otherwise. */
function valueFrom(result: NormalizeResult): string | null {
  if (!result.ok) throw new Error(`expected a value, got ${result.issue.type}: ${result.issue.message}`);
  return result.value;
}

/** The issue of a failed result; fails the test with the value otherwise. */
function issueFrom(result: NormalizeResult): ValueIssue {
  if (result.ok) throw new Error(`expected an issue, got the value ${JSON.stringify(result.value)}`);
  return result.issue;
}

function expectValues(fn: Normalizer, cases: [CellValue, string | null][]): void {
  for (const [input, expected] of cases) {
    expect({ input, value: valueFrom(fn(input)) }).toEqual({ input, value: expected });
  }
}

function expectIssues(fn: Normalizer, cases: [CellValue, ValueIssue['type']][]): void {
  for (const [input, type] of cases) {
    expect({ input, type: issueFrom(fn(input)).type }).toEqual({ input, type });
  }
}

const utc = (y: number, m: number, d: number, hh = 0, mi = 0, ss = 0): Date =>
  new Date(Date.UTC(y, m - 1, d, hh, mi, ss));

describe('empty cells', () => {
  const all: Normalizer[] = [
    normalizeText,
    normalizeCode,
    normalizeDocNumber,
    normalizeDate,
    normalizeDateTime,
    normalizeAmount,
    (v) => normalizeCodeList(v, [{ code: '01', label: '警告' }]),
    (v) => normalizeCodeList(v, [{ code: '01', label: '警告' }], { multi: true }),
  ];
  it('null, empty and whitespace-only strings are null for every kind', () => {
    for (const fn of all) {
      for (const v of [null, '', '   ', '\u3000', '\u00a0\t\r\n', '\u200b\ufeff', ' \u3000 \u200b ']) {
        expect(valueFrom(fn(v))).toBeNull();
      }
    }
  });
});

describe('normalizeText', () => {
  it('trims ASCII, full-width, non-breaking and zero-width spaces and the BOM, keeps inner text', () => {
    expectValues(normalizeText, [
      ['  甲公司  ', '甲公司'],
      ['\u3000甲公司\u3000', '甲公司'],
      ['\ufeff甲公司', '甲公司'],
      ['\u200b甲公司\u200d', '甲公司'],
      ['\u00a0甲 公司\u00a0', '甲 公司'],
      ['\t界首市  某某  商行\r\n', '界首市  某某  商行'],
      ['ａｂｃ　ｄ', 'ａｂｃ　ｄ'],
    ]);
  });
  it('returns a clean string as the same string', () => {
    const s = '界首市某某有限公司';
    expect(valueFrom(normalizeText(s))).toBe(s);
  });
  it('writes numbers as plain decimals without exponent or float artefacts', () => {
    expectValues(normalizeText, [
      [123, '123'],
      [0, '0'],
      [-0, '0'],
      [-5.5, '-5.5'],
      [0.2, '0.2'],
      [0.1 + 0.2, '0.3'],
      [1e21, '1000000000000000000000'],
      [1e-7, '0.0000001'],
      [123456789012345, '123456789012345'],
    ]);
  });
  it('writes booleans as the spreadsheet shows them and dates as YYYY-MM-DD from UTC fields', () => {
    expectValues(normalizeText, [
      [true, 'TRUE'],
      [false, 'FALSE'],
      [utc(2019, 10, 10), '2019-10-10'],
      [utc(2019, 10, 10, 23, 59, 59), '2019-10-10'],
    ]);
  });
  it('rejects non-finite numbers and invalid dates', () => {
    expectIssues(normalizeText, [
      [Number.NaN, 'type-error'],
      [Number.POSITIVE_INFINITY, 'type-error'],
      [new Date(Number.NaN), 'type-error'],
    ]);
  });
});

describe('normalizeCode', () => {
  it('removes all spaces, converts full-width to half-width, 【】 to [], and upper-cases', () => {
    expectValues(normalizeCode, [
      ['91350100M000100Y43', '91350100M000100Y43'],
      ['  91350100m000100y43 ', '91350100M000100Y43'],
      ['９１３５０１００Ｍ０００１００Ｙ４３', '91350100M000100Y43'],
      ['9135 0100 M000 100Y 43', '91350100M000100Y43'],
      ['\u200b9135\u30000100m000100y43\ufeff', '91350100M000100Y43'],
      ['（ab）【c】［d］', '(AB)[C][D]'],
      ['00000000000000000x', '00000000000000000X'],
      ['123456789', '123456789'],
      ['341282000012345', '341282000012345'],
    ]);
  });
  it('returns a clean code as the same string', () => {
    const s = '91341282MA2TXXXX1A';
    expect(valueFrom(normalizeCode(s))).toBe(s);
  });
  it('accepts whole numbers of at most 15 digits as their digits', () => {
    expectValues(normalizeCode, [
      [123456789, '123456789'],
      [341282000012345, '341282000012345'],
      [12345678, '12345678'], // a lost leading zero cannot be seen here
      [0, '0'],
    ]);
  });
  it('rejects numbers that cannot be codes: long, fractional, negative, overflowed', () => {
    expectIssues(normalizeCode, [
      [911589460454873000, 'code-stored-as-number'],
      [9.11589460454873e17, 'code-stored-as-number'],
      [1234567890123456, 'code-stored-as-number'],
      [1.7976931348623157e308, 'code-stored-as-number'],
      [Number.POSITIVE_INFINITY, 'code-stored-as-number'],
      [12.5, 'code-stored-as-number'],
      [-3, 'code-stored-as-number'],
    ]);
  });
  it('recognises the LibreOffice damage of DESIGN.md and tells the clerk to format the column as text', () => {
    for (const damaged of [
      '9.11589460454873E+017',
      '9.11589460454873E+17',
      '9.11589460454873E17',
      '9.11589460454873e+17',
      '1.7976931348623157E+308',
      ' ９．１１５８９４６０４５４８７３Ｅ＋１７ ',
      '9,11589460454873E+17',
      '1E+17',
    ]) {
      const issue = issueFrom(normalizeCode(damaged));
      expect(issue.type).toBe('code-stored-as-number');
      expect(issue.value).toBe(damaged);
      expect(issue.messageZh).toContain('文本');
      expect(issue.messageZh).toContain('数字');
      expect(issue.message).toContain('text');
    }
    const issue = issueFrom(normalizeCode('9.11589460454873E+017'));
    expect(issue.messageZh).toContain('“9.11589460454873E+017”');
  });
  it('accepts a code with the letter E written as a code, not as a spreadsheet number', () => {
    // The original of DESIGN.md's 1.7976931348623157E+308: as text, it is a code.
    expectValues(normalizeCode, [
      ['9124072911152E5384', '9124072911152E5384'],
      ['9124072911152e5384', '9124072911152E5384'],
      ['91341282MA2E12345X', '91341282MA2E12345X'],
    ]);
  });
  it('rejects long all-digit strings ending in the zeros of a 15-digit round trip', () => {
    expectIssues(normalizeCode, [
      ['911589460454873000', 'code-stored-as-number'], // 9.11589460454873E+17 written out
      ['341282199001011000', 'code-stored-as-number'], // an ID number after a spreadsheet
      ['1234567890123400', 'code-stored-as-number'],
      ['12345678901234500000', 'code-stored-as-number'],
    ]);
    expect(issueFrom(normalizeCode('911589460454873000')).messageZh).toContain('文本');
  });
  it('keeps long all-digit codes that do not look round-tripped', () => {
    expectValues(normalizeCode, [
      ['911589460454873012', '911589460454873012'], // significant digits beyond 15
      ['341282199001011234', '341282199001011234'],
      ['1234567890123450', '1234567890123450'], // one trailing zero only
      ['100000000000000', '100000000000000'], // 15 digits: a spreadsheet keeps them all
      ['913412820100027000', '913412820100027000'], // an all-digit credit code with a valid check character
    ]);
  });
  it('reads number renderings of whole numbers like the numbers themselves', () => {
    expectValues(normalizeCode, [
      ['123456789.0', '123456789'],
      ['123,456,789', '123456789'],
    ]);
    expectIssues(normalizeCode, [
      ['911589460454873000.0', 'code-stored-as-number'],
      ['911,589,460,454,873,000', 'code-stored-as-number'],
    ]);
  });
  it('rejects dates and booleans', () => {
    expectIssues(normalizeCode, [
      [utc(2019, 1, 2), 'type-error'],
      [true, 'type-error'],
    ]);
    expect(issueFrom(normalizeCode(utc(2019, 1, 2))).messageZh).toContain('2019-01-02');
  });
});

describe('normalizeDocNumber', () => {
  it('removes whitespace, converts full-width digits and brackets, keeps Chinese and 〔〕【】[] as written', () => {
    expectValues(normalizeDocNumber, [
      ['界市监罚〔2020〕12号', '界市监罚〔2020〕12号'],
      [' 界市监罚 〔２０２０〕 １２号 ', '界市监罚〔2020〕12号'],
      ['界市监罚\u3000〔2020〕\u00a012号', '界市监罚〔2020〕12号'],
      ['皖（2020）阜界0012号', '皖(2020)阜界0012号'],
      ['界环罚【2020】3号', '界环罚【2020】3号'],
      ['界环罚[2020]3号', '界环罚[2020]3号'],
      ['界环罚［2020］3号', '界环罚[2020]3号'],
      ['ＪＹ１３４１２８２００１２３４５', 'JY13412820012345'],
      ['jy13412820012345', 'jy13412820012345'], // case kept as written
      ['2020E5', '2020E5'],
    ]);
  });
  it('returns a clean document number as the same string', () => {
    const s = '界市监罚〔2020〕12号';
    expect(valueFrom(normalizeDocNumber(s))).toBe(s);
  });
  it('treats numbers and scientific notation like codes', () => {
    expectValues(normalizeDocNumber, [[12345, '12345']]);
    expectIssues(normalizeDocNumber, [
      ['9.11589460454873E+017', 'code-stored-as-number'],
      [9.11589460454873e17, 'code-stored-as-number'],
      [utc(2020, 12, 1), 'type-error'],
      [false, 'type-error'],
    ]);
    expect(issueFrom(normalizeDocNumber('9.11589460454873E+017')).messageZh).toContain('文书号');
  });
});

describe('normalizeDate', () => {
  it('accepts the standard and the common forms', () => {
    expectValues(normalizeDate, [
      ['2019-10-10', '2019-10-10'],
      ['2019/10/10', '2019-10-10'],
      ['2019.10.10', '2019-10-10'],
      ['20191010', '2019-10-10'],
      ['2019年10月10日', '2019-10-10'],
      ['2019 年 10 月 10 日', '2019-10-10'],
      ['2019年1月5日', '2019-01-05'],
      ['2019年1月5', '2019-01-05'],
      ['2019/1/5', '2019-01-05'],
      ['2019-1-5', '2019-01-05'],
      ['2019.1.5', '2019-01-05'],
      ['  2019/10/10\u3000', '2019-10-10'],
      ['２０１９／１０／１０', '2019-10-10'],
      ['２０１９年１０月１０日', '2019-10-10'],
      ['２０１９１０１０', '2019-10-10'],
    ]);
  });
  it('keeps the date part of a date and time', () => {
    expectValues(normalizeDate, [
      ['2019-10-10 12:30:00', '2019-10-10'],
      ['2019-10-10T12:30:00', '2019-10-10'],
      ['2019/10/10 8:05', '2019-10-10'],
      ['2019-10-10 23:59:59.999', '2019-10-10'],
      ['20191010123000', '2019-10-10'],
    ]);
  });
  it('returns a canonical date as the same string', () => {
    const s = '2019-10-10';
    expect(valueFrom(normalizeDate(s))).toBe(s);
  });
  it('reads Excel serials in the 1900 system, as numbers and numeric strings', () => {
    expectValues(normalizeDate, [
      [1, '1900-01-01'],
      [59, '1900-02-28'],
      [61, '1900-03-01'],
      [43831, '2020-01-01'],
      ['43831', '2020-01-01'],
      ['４３８３１', '2020-01-01'],
      [43831.75, '2020-01-01'],
      ['43831.5', '2020-01-01'],
      [73050, '2099-12-31'],
    ]);
    const fake = issueFrom(normalizeDate(60));
    expect(fake.type).toBe('type-error');
    expect(fake.messageZh).toContain('1900年2月29日');
    expectIssues(normalizeDate, [
      ['60', 'type-error'],
      [0, 'type-error'],
      [-1, 'type-error'],
      [0.5, 'type-error'],
      [2958466, 'type-error'],
      [73051, 'constraint-error'], // 2100-01-01
      [2958465, 'constraint-error'], // 9999-12-31
      ['2019101', 'constraint-error'], // a digit missing from YYYYMMDD: a serial in 7428
    ]);
    expect(issueFrom(normalizeDate('2019101')).messageZh).toContain('按 Excel 日期序号换算为');
  });
  it('reads YYYYMMDD typed as a number, and rejects a year alone', () => {
    expectValues(normalizeDate, [[20191010, '2019-10-10']]);
    expectIssues(normalizeDate, [
      [2019, 'type-error'],
      ['2019', 'type-error'],
      ['2019.10', 'type-error'],
      [20191310, 'type-error'],
    ]);
  });
  it('reads JS dates by their UTC fields', () => {
    expectValues(normalizeDate, [
      [utc(2020, 1, 1), '2020-01-01'],
      [utc(2020, 1, 1, 23, 59, 59), '2020-01-01'],
    ]);
    expectIssues(normalizeDate, [
      [new Date(Number.NaN), 'type-error'],
      [utc(1899, 12, 31), 'constraint-error'],
    ]);
  });
  it('keeps 2099-12-31 and maps the words for long-term to it', () => {
    expect(LONG_TERM_DATE).toBe('2099-12-31');
    expectValues(normalizeDate, [
      ['2099/12/31', '2099-12-31'],
      ['2099-12-31', '2099-12-31'],
      ['长期', '2099-12-31'],
      ['永久', '2099-12-31'],
      ['长期有效', '2099-12-31'],
      [' 长期 ', '2099-12-31'],
    ]);
  });
  it('validates the calendar', () => {
    expectValues(normalizeDate, [
      ['2020-02-29', '2020-02-29'],
      ['2000-02-29', '2000-02-29'],
    ]);
    expectIssues(normalizeDate, [
      ['2019-02-29', 'type-error'],
      ['1900-02-29', 'type-error'],
      ['2019/13/01', 'type-error'],
      ['2019-00-10', 'type-error'],
      ['2019-04-31', 'type-error'],
      ['2019-10-00', 'type-error'],
      ['20190229', 'type-error'],
      ['2019年13月1日', 'type-error'],
      ['2019-10-10 24:00:00', 'type-error'],
    ]);
    expect(issueFrom(normalizeDate('2019-02-29')).messageZh).toContain('2019年2月只有28天');
  });
  it('rejects dates before 1900 and after 2099-12-31', () => {
    expectIssues(normalizeDate, [
      ['1899-12-31', 'constraint-error'],
      ['2100-01-01', 'constraint-error'],
      ['9999/12/31', 'constraint-error'],
    ]);
    expectValues(normalizeDate, [['1900-01-01', '1900-01-01']]);
  });
  it('rejects what it cannot read, naming the expected formats', () => {
    expectIssues(normalizeDate, [
      ['abc', 'type-error'],
      ['10/10/2019', 'type-error'],
      ['2019/10-10', 'type-error'],
      ['2019-10', 'type-error'],
      ['19-10-10', 'type-error'],
      ['2019-10-10 下午', 'type-error'],
      [true, 'type-error'],
    ]);
    const issue = issueFrom(normalizeDate('abc'));
    expect(issue.value).toBe('abc');
    expect(issue.messageZh).toBe('日期“abc”无法识别，应为 YYYY-MM-DD、YYYY/MM/DD、YYYYMMDD 或 YYYY年M月D日');
  });
  it('gives the 2019/13/01 example a message that says what was found and what is expected', () => {
    const issue = issueFrom(normalizeDate('2019/13/01'));
    expect(issue.messageZh).toContain('“2019/13/01”');
    expect(issue.messageZh).toContain('月份应为1至12');
    expect(issue.messageZh).toContain('YYYY-MM-DD、YYYY/MM/DD、YYYYMMDD 或 YYYY年M月D日');
  });
});

describe('normalizeDateTime', () => {
  it('accepts date-times in the common forms and outputs YYYY-MM-DD HH:mm:ss', () => {
    expectValues(normalizeDateTime, [
      ['2019-10-10 12:30:00', '2019-10-10 12:30:00'],
      ['2019-10-10T12:30:00', '2019-10-10 12:30:00'],
      ['2019/10/10 12:30:00', '2019-10-10 12:30:00'],
      ['2019/10/10 8:05', '2019-10-10 08:05:00'],
      ['2019-10-10 12:30:00.123', '2019-10-10 12:30:00'],
      ['2019-10-10 23:59:59.999', '2019-10-10 23:59:59'], // dropped, not rounded into the next day
      ['2019-10-10 12:30:00.0', '2019-10-10 12:30:00'],
      ['20191010123000', '2019-10-10 12:30:00'],
      ['2019-10-10', '2019-10-10 00:00:00'],
      ['2019年10月10日', '2019-10-10 00:00:00'],
      ['20191010', '2019-10-10 00:00:00'],
      ['２０１９－１０－１０　１２：３０：００', '2019-10-10 12:30:00'],
    ]);
  });
  it('returns a canonical date-time as the same string', () => {
    const s = '2019-10-10 12:30:00';
    expect(valueFrom(normalizeDateTime(s))).toBe(s);
  });
  it('keeps naive times as given and converts explicit zones to China time', () => {
    expectValues(normalizeDateTime, [
      ['2019-10-10T12:30:00', '2019-10-10 12:30:00'],
      ['2019-10-10T12:30:00+08:00', '2019-10-10 12:30:00'],
      ['2019-10-09T16:00:00Z', '2019-10-10 00:00:00'],
      ['2019-10-09T16:00:00.000Z', '2019-10-10 00:00:00'],
      ['2019-10-10T04:30:00+0000', '2019-10-10 12:30:00'],
    ]);
  });
  it('reads serials with a time fraction, numbers YYYYMMDDHHmmss and JS dates by UTC fields', () => {
    expectValues(normalizeDateTime, [
      [43831.5, '2020-01-01 12:00:00'],
      [43831, '2020-01-01 00:00:00'],
      [20191010123000, '2019-10-10 12:30:00'],
      [utc(2020, 1, 1, 23, 4, 5), '2020-01-01 23:04:05'],
    ]);
  });
  it('rejects impossible times and what it cannot read', () => {
    expectIssues(normalizeDateTime, [
      ['2019-10-10 25:00:00', 'type-error'],
      ['2019-10-10 12:60:00', 'type-error'],
      ['2019-10-10 12:30:60', 'type-error'],
      ['2019-02-29 12:00:00', 'type-error'],
      ['20191010126000', 'type-error'],
      ['长期', 'type-error'],
      ['2019-10-10 12', 'type-error'],
      ['2100-01-01 00:00:00', 'constraint-error'],
      [60, 'type-error'],
      [false, 'type-error'],
    ]);
    expect(issueFrom(normalizeDateTime('x')).messageZh).toContain('YYYY-MM-DD HH:mm:ss');
  });
});

describe('normalizeAmount', () => {
  it('keeps numbers in their shortest form without float artefacts', () => {
    expectValues(normalizeAmount, [
      [0.2, '0.2'],
      [0, '0'],
      [-0, '0'],
      [1234.5, '1234.5'],
      [0.1 + 0.2, '0.3'],
      [12, '12'],
      [0.000001, '0.000001'],
      [1e11, '100000000000'],
    ]);
  });
  it('reads strings with separators, full-width digits and a 万元 unit', () => {
    expectValues(normalizeAmount, [
      ['1234.5', '1234.5'],
      ['1,234.5', '1234.5'],
      ['1,234,567.25', '1234567.25'],
      ['１２３４．５', '1234.5'],
      ['１，２３４．５', '1234.5'],
      ['12.5万元', '12.5'],
      ['12.5万', '12.5'],
      ['12.5 万元', '12.5'],
      ['¥1,000万元', '1000'],
      ['1.50', '1.5'],
      ['1.000000', '1'],
      ['007', '7'],
      ['0.000', '0'],
      ['-0', '0'],
      ['.5', '0.5'],
      ['5.', '5'],
      ['1.5E+3', '1500'],
      ['2.5e-3', '0.0025'],
      [' 0.2 ', '0.2'],
    ]);
  });
  it('returns a canonical amount as the same string', () => {
    const s = '1234.5';
    expect(valueFrom(normalizeAmount(s))).toBe(s);
  });
  it('rejects an amount in yuan, giving its value in 万元', () => {
    const issue = issueFrom(normalizeAmount('2000元'));
    expect(issue.type).toBe('type-error');
    expect(issue.value).toBe('2000元');
    expect(issue.messageZh).toContain('2000元 = 0.2万元');
    expect(issue.messageZh).toContain('万元');
    expect(issue.message).toContain('2000元 = 0.2 万元');
    expect(issueFrom(normalizeAmount('1,500 元')).messageZh).toContain('1500元 = 0.15万元');
  });
  it('rejects negative amounts, more than 6 decimals and more than 12 integer digits', () => {
    expectIssues(normalizeAmount, [
      [-5, 'constraint-error'],
      ['-5', 'constraint-error'],
      ['－5', 'constraint-error'],
      ['-0.5万元', 'constraint-error'],
      [0.1234567, 'constraint-error'],
      ['0.1234567', 'constraint-error'],
      [1e-7, 'constraint-error'],
      ['1234567890123', 'constraint-error'],
    ]);
    expectValues(normalizeAmount, [
      ['0.123456', '0.123456'],
      ['0.1234560', '0.123456'],
      ['123456789012', '123456789012'],
    ]);
  });
  it('rejects what is not an amount', () => {
    expectIssues(normalizeAmount, [
      ['abc', 'type-error'],
      ['1,23', 'type-error'], // a decimal comma or a typo: ambiguous
      ['12.5亿元', 'type-error'],
      ['1.2.3', 'type-error'],
      ['万元', 'type-error'],
      [Number.NaN, 'type-error'],
      [true, 'type-error'],
      [utc(2020, 1, 1), 'type-error'],
    ]);
    expect(issueFrom(normalizeAmount('abc')).messageZh).toContain('万元');
  });
});

describe('normalizeCodeList', () => {
  const kinds: CodeListEntry[] = [
    { code: '01', label: '警告' },
    { code: '02', label: '罚款' },
    { code: '03', label: '没收违法所得、没收非法财物', aliases: ['没收违法所得'] },
    { code: '04', label: '责令停产停业' },
    { code: '05', label: '暂扣或者吊销许可证、暂扣或者吊销执照' },
    { code: '07', label: '其他', aliases: ['其它'] },
  ];
  const subjects: CodeListEntry[] = [
    { code: '01', label: '自然人' },
    { code: '02', label: '法人及非法人组织', aliases: ['法人', '非法人组织'] },
    { code: '04', label: '个体工商户' },
  ];
  const single: Normalizer = (v) => normalizeCodeList(v, subjects);
  const multi: Normalizer = (v) => normalizeCodeList(v, kinds, { multi: true });

  it('maps a label, a code, a code without its leading zero and an alias to the label', () => {
    expectValues(single, [
      ['自然人', '自然人'],
      ['01', '自然人'],
      ['1', '自然人'],
      [1, '自然人'],
      ['4', '个体工商户'],
      ['法人', '法人及非法人组织'],
      [' 个体 工商户 ', '个体工商户'],
      ['\u3000自然人\u3000', '自然人'],
      ['０１', '自然人'],
    ]);
  });
  it('rejects unknown values naming the value and the allowed labels', () => {
    const issue = issueFrom(single('企业'));
    expect(issue.type).toBe('constraint-error');
    expect(issue.value).toBe('企业');
    expect(issue.messageZh).toContain('“企业”');
    expect(issue.messageZh).toContain('自然人（01）');
    expect(issue.messageZh).toContain('法人及非法人组织（02）');
    expect(issue.messageZh).toContain('个体工商户（04）');
    expectIssues(single, [
      ['03', 'constraint-error'],
      ['自然人;个体工商户', 'constraint-error'], // not a multi-valued field
      [true, 'constraint-error'],
    ]);
  });
  it('splits multi-valued cells on every separator and joins the labels with ;', () => {
    expectValues(multi, [
      ['罚款', '罚款'],
      ['警告;罚款', '警告;罚款'],
      ['警告；罚款', '警告;罚款'],
      ['警告,罚款', '警告;罚款'],
      ['警告，罚款', '警告;罚款'],
      ['警告、罚款', '警告;罚款'],
      ['警告|罚款', '警告;罚款'],
      ['01;02', '警告;罚款'],
      ['1、2、其它', '警告;罚款;其他'],
      [' 警告 ; 罚款 ;', '警告;罚款'],
      ['罚款;罚款;02', '罚款'],
      [2, '罚款'],
    ]);
  });
  it('recognises labels that contain a separator themselves', () => {
    expectValues(multi, [
      ['没收违法所得、没收非法财物', '没收违法所得、没收非法财物'],
      ['罚款;没收违法所得、没收非法财物', '罚款;没收违法所得、没收非法财物'],
      ['没收违法所得、没收非法财物、罚款', '没收违法所得、没收非法财物;罚款'],
      ['罚款，没收违法所得，没收非法财物', '罚款;没收违法所得、没收非法财物'],
      ['罚款、没收违法所得', '罚款;没收违法所得、没收非法财物'],
      ['暂扣或者吊销许可证、暂扣或者吊销执照;警告', '暂扣或者吊销许可证、暂扣或者吊销执照;警告'],
    ]);
  });
  it('names every unknown part of a multi-valued cell', () => {
    const issue = issueFrom(multi('罚款；拘役；停业整顿'));
    expect(issue.type).toBe('constraint-error');
    expect(issue.value).toBe('罚款；拘役；停业整顿');
    expect(issue.messageZh).toContain('“拘役”、“停业整顿”不在代码表中');
    expect(issue.messageZh).not.toContain('“罚款”');
    expect(issue.messageZh).toContain('警告（01）');
    expect(issue.message).toContain('"拘役", "停业整顿"');
  });
  it('is empty when a multi-valued cell has only separators', () => {
    expectValues(multi, [[';；、', null]]);
  });
});
