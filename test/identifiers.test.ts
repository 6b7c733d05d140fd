/**
 * Identifier checks against public vectors. Every vector below was recomputed with an independent
 * implementation of the algorithms in STANDARDS.md §3 before being asserted here; the comment on each
 * group says where it was published.
 */
import { describe, expect, it } from 'vitest';
import {
  checkId,
  checkIdCard,
  checkOrgCode,
  checkRegNo,
  checkUscc,
  identifierFormats,
  isPlaceholderUscc,
  makeIdCard,
  makeOrgCode,
  makeRegNo,
  makeUscc,
  USCC_PLACEHOLDER,
  usccDivision,
} from '../schemas/identifiers.js';

const USCC_ALPHABET = '0123456789ABCDEFGHJKLMNPQRTUWXY';

describe('checkUscc: valid codes', () => {
  it.each([
    // GB 32100-2015's printed example (STANDARDS.md §3; bluesky335/IDCheck USCI/USCI_test.go "官方示例").
    '91350100M000100Y43',
    // python-stdnum tests/test_cn_uscc.doctest ("found online and should all be valid").
    '91110000600037341L',
    '121200004013590816', // 12 = 机构编制 / 事业单位, all digits
    '91110000710926094P',
    '91120224064012553U',
    '911522010783710635',
    '9115220107837757XE',
    '91310115MA1K3BTP2B',
    '91620105L015101280',
    '92340602MA2PBMEM24', // 92 = 个体工商户
    '91340600MA2PBMA74B',
    // bluesky335/IDCheck USCI/USCI_test.go (named companies).
    '9135010557098120XJ', // 福建百度博瑞网络科技有限公司
    '914403001922038216', // 华为技术有限公司
    '9135020026015919XW', // 厦门象屿集团有限公司
    // dromara/hutool CreditCodeUtilTest.java.
    '91310115591693856A',
    '91310110666007217T',
    // ntnyq/uscc-utils tests/fixtures.ts (named organisations).
    '91370000728611939A', // 山东步长制药股份有限公司
    '531000005000160090', // 中国红十字基金会 (53 = 民政 / 基金会)
    '52410000663412719U', // 河南省嵩山少林寺文化院 (52 = 民政 / 民办非企业单位)
    '91110108551385082Q', // 小米科技有限责任公司
    // Worked example in the comments of 02020/vite learn/utils/validateSocialCreditCode.js.
    '91512081MA62K0260E',
    // 中国石油天然气集团有限公司, as listed in a public company fixture (find_string hit) and named in the brief.
    '91110000100010433L',
  ])('%s is valid', (code) => {
    const r = checkUscc(code);
    expect(r).toEqual({
      input: code,
      kind: 'uscc',
      valid: true,
      normalized: code,
      reason: null,
      reasonZh: null,
    });
  });

  // GB 32100 authorities A (军队), N (农业) and Y (其他) are legitimate; python-stdnum rejects any code whose first
  // 8 characters are not digits. No real A/N/Y code was found in the searched corpora, so these are built from
  // the standard's pairs and their check characters recomputed independently (not with makeUscc).
  it.each([
    ['A1110000MA0A1B2C3J', 'A1 军队事业单位'],
    ['A9110000MA0A1B2C3R', 'A9 军队其他'],
    ['N1341282MF00000AB4', 'N1 组级集体经济组织'],
    ['N2341282MF1234567C', 'N2 村级集体经济组织'],
    ['N3341282MF0000012Q', 'N3 乡镇级集体经济组织'],
    ['N9341282MF00000126', 'N9 农业其他'],
    ['Y1341282MB0000001A', 'Y1 其他'],
  ])('%s (%s) is valid', (code) => {
    expect(checkUscc(code).valid).toBe(true);
  });

  it('does not require positions 9-17 to be a GB 11714 organisation code', () => {
    // Body '70071219X' fails GB 11714 (its check would be 9); the USCC check character is still right.
    const code = makeUscc('9113010070071219X');
    expect(checkOrgCode(code.slice(8, 17)).valid).toBe(false);
    expect(checkUscc(code).valid).toBe(true);
  });
});

describe('checkUscc: invalid codes', () => {
  it.each([
    // python-stdnum test_cn_uscc.doctest: InvalidChecksum.
    ['91110000600037341N', 'L', 'N'],
    // RedFroggy/company-id-validator cn-company-id.service.spec.ts: invalid check digit.
    ['91110000600037341M', 'L', 'M'],
    // ntnyq/uscc-utils tests/fixtures.ts: checksumErrorCode.
    ['91110108551385082F', 'Q', 'F'],
    // python-stdnum: 'A1110000600037341L' is expected to fail; A1 is a legitimate pair, it fails on the check.
    ['A1110000600037341L', 'K', 'L'],
    // Early pilot codes (Fujian) that are real but do not pass GB 32100: bluesky335/IDCheck README and
    // USCI_test.go (expected characters as that README states them), hutool CreditCodeUtilTest isCreditCode2,
    // and the code special-cased in 02020/vite validateSocialCreditCode.js.
    ['91350211M0000XUF46', 'R', '6'], // 厦门云上晴空航空科技有限公司
    ['91350100M0001TGQXM', '1', 'M'], // 福建恒跃柳工机械销售有限公司
    ['91350203M0001FUE2P', 'J', 'P'], // 厦门黑脉网络科技有限公司
    ['91350211M00013FA1N', '3', 'N'],
    ['91350203M0001QAY9B', '9', 'B'],
    // A "real companies" fixture in a public repo gives Huawei as 91440300192203821Y; bluesky335 has
    // 914403001922038216. Only the latter passes.
    ['91440300192203821Y', '6', 'Y'],
    // The standard's example with its check character changed.
    ['91350100M000100Y4X', '3', 'X'],
  ])('%s: check character should be %s', (code, expected, found) => {
    const r = checkUscc(code);
    expect(r.valid).toBe(false);
    expect(r.reason).toBe(`check character should be '${expected}', found '${found}'`);
    expect(r.reasonZh).toBe(`校验码应为'${expected}'，实际为'${found}'`);
  });

  it('rejects every wrong check character of every valid vector', () => {
    for (const code of [
      '91350100M000100Y43',
      '121200004013590816',
      '9115220107837757XE',
      'N2341282MF1234567C',
    ]) {
      for (const c of USCC_ALPHABET) {
        if (c === code.charAt(17)) continue;
        expect(checkUscc(code.slice(0, 17) + c).valid, code.slice(0, 17) + c).toBe(false);
      }
    }
  });

  it.each([
    ['I', 7],
    ['O', 9],
    ['S', 10],
    ['V', 12],
    ['Z', 18],
  ])("rejects the forbidden letter '%s' (at position %i)", (letter, position) => {
    const code = '91350100M000100Y43';
    const bad = code.slice(0, position - 1) + letter + code.slice(position);
    const r = checkUscc(bad);
    expect(r.valid).toBe(false);
    expect(r.reason).toBe(`character '${letter}' at position ${position} is not allowed in a credit code`);
    expect(r.reasonZh).toBe(`第${position}位字符'${letter}'不允许出现在统一社会信用代码中`);
  });

  it('reports the first forbidden letter (python-stdnum 9111000060003IOZSV)', () => {
    expect(checkUscc('9111000060003IOZSV').reason).toBe(
      "character 'I' at position 14 is not allowed in a credit code",
    );
  });

  it.each([
    ['12345', 5], // python-stdnum
    ['911100006000341L', 16], // RedFroggy/company-id-validator "Invalid format"
    ['91350100M000100Y4', 17],
    ['91350100M000100Y433', 19],
    ['9133000073600620X', 17], // the 17-character 海康威视 entry of the same public fixture
  ])('%s has the wrong length', (code, length) => {
    const r = checkUscc(code);
    expect(r.valid).toBe(false);
    expect(r.reason).toBe(`length ${length}, a credit code has 18 characters`);
    expect(r.reasonZh).toBe(`长度为${length}位，统一社会信用代码应为18位`);
  });

  it('rejects an authority/category pair the standard does not define (check character right)', () => {
    // Check characters recomputed independently so that only the pair is wrong.
    expect(checkUscc('95341282MA2N00001N').reason).toBe(
      "registration authority '9' does not issue entity category '5'",
    );
    expect(checkUscc('95341282MA2N00001N').reasonZh).toBe("登记管理部门'9'（工商）没有机构类别代码'5'");
    expect(checkUscc('Y2341282MB00000017').reason).toBe(
      "registration authority 'Y' does not issue entity category '2'",
    );
    expect(checkUscc('A2110000MA0A1B2C3F').reason).toBe(
      "registration authority 'A' does not issue entity category '2'",
    );
    expect(checkUscc('B1341282MA2NX0001H').reason).toBe(
      "registration authority 'B' is not defined in GB 32100 (expected 1-9, A, N or Y)",
    );
  });

  it('requires 6 digits as division code in positions 3-8', () => {
    const r = checkUscc('9134128AMA2NX00017'); // check character 7 is right
    expect(r.valid).toBe(false);
    expect(r.reason).toBe("division code '34128A' in positions 3-8 must be 6 digits");
  });

  it('rejects an empty value', () => {
    expect(checkUscc('   ').valid).toBe(false);
    expect(checkUscc('').reason).toBe('empty value, a credit code is required');
  });
});

describe('checkUscc: normalization', () => {
  it('turns full-width input half-width', () => {
    const r = checkUscc('９１３５０１００Ｍ０００１００Ｙ４３');
    expect(r.valid).toBe(true);
    expect(r.normalized).toBe('91350100M000100Y43');
    expect(r.input).toBe('９１３５０１００Ｍ０００１００Ｙ４３');
  });

  it('upper-cases and trims (including U+3000 and zero-width spaces)', () => {
    expect(checkUscc('  91350100m000100y43\t').normalized).toBe('91350100M000100Y43');
    expect(checkUscc('\u3000ｎ２３４１２８２ｍｆ１２３４５６７ｃ\u3000').normalized).toBe(
      'N2341282MF1234567C',
    );
    expect(checkUscc('\u200B91350100M000100Y43\uFEFF').valid).toBe(true);
  });

  it('reports a full-width forbidden letter as the letter', () => {
    expect(checkUscc('913501００Ｍ０００１００ＹＯ3').reason).toBe(
      "character 'O' at position 17 is not allowed in a credit code",
    );
  });

  it('does not remove inner spaces', () => {
    expect(checkUscc('91 110000 600037341L').reason).toBe('length 20, a credit code has 18 characters');
  });
});

describe('the placeholder 00000000000000000X', () => {
  it('is invalid by default, with the instruction to fill the registration number', () => {
    const r = checkUscc(USCC_PLACEHOLDER);
    expect(r.valid).toBe(false);
    expect(r.reason).toBe(
      'placeholder credit code (individual business without a code): fill the registration number',
    );
    expect(r.reasonZh).toContain('工商注册号');
  });

  it('is valid with allowPlaceholder, also lower-case', () => {
    expect(checkUscc('00000000000000000X', { allowPlaceholder: true }).valid).toBe(true);
    expect(checkUscc(' 00000000000000000x ', { allowPlaceholder: true }).normalized).toBe(USCC_PLACEHOLDER);
  });

  it('is recognised by isPlaceholderUscc and nothing else is', () => {
    expect(isPlaceholderUscc('00000000000000000x')).toBe(true);
    expect(isPlaceholderUscc('000000000000000000')).toBe(false);
    expect(isPlaceholderUscc('91350100M000100Y43')).toBe(false);
    // it does not pass the check character: 17 zeros give '0'
    expect(checkUscc('000000000000000000').valid).toBe(false);
  });
});

describe('usccDivision', () => {
  it('returns positions 3-8', () => {
    expect(usccDivision('91350100M000100Y43')).toBe('350100');
    expect(usccDivision('N2341282MF1234567C')).toBe('341282');
    expect(usccDivision('９２３４０６０２MA2PBMEM24')).toBe('340602');
  });
  it('returns an empty string when positions 3-8 are not 6 digits', () => {
    expect(usccDivision('9134128AMA2NX00017')).toBe('');
    expect(usccDivision('913')).toBe('');
  });
});

describe('checkOrgCode', () => {
  it.each([
    // GB 11714-1997's example D2143569-X (0x376h/ChineseNoReco doTestReco.java), with and without the hyphen.
    ['D2143569X', 'D2143569X'],
    ['D2143569-X', 'D2143569X'],
    ['d2143569-x', 'D2143569X'],
    ['Ｄ２１４３５６９－Ｘ', 'D2143569X'],
    // Worked example 59467239-9 in the comments of 02020/vite validateSocialCreditCode.js.
    ['59467239-9', '594672399'],
    // Positions 9-17 of public credit codes above: 中国石油, 华为, 小米, the GB 32100 example.
    ['100010433', '100010433'],
    ['192203821', '192203821'],
    ['551385082', '551385082'],
    ['M000100Y4', 'M000100Y4'],
  ])('%s is valid', (code, normalized) => {
    const r = checkOrgCode(code);
    expect(r.valid).toBe(true);
    expect(r.kind).toBe('org');
    expect(r.normalized).toBe(normalized);
  });

  it('rejects a wrong check character', () => {
    const r = checkOrgCode('D2143569-3');
    expect(r.valid).toBe(false);
    expect(r.reason).toBe("check character should be 'X', found '3'");
    expect(checkOrgCode('594672398').reason).toBe("check character should be '9', found '8'");
    // the body of the Fujian pilot code 91350211M00013FA1N is a valid org code: its problem is the USCC check
    expect(checkOrgCode('M00013FA1').valid).toBe(true);
  });

  it('rejects a body that is not a GB 11714 code', () => {
    expect(checkOrgCode('70071219X').reason).toBe("check character should be '9', found 'X'");
  });

  it('rejects wrong lengths and characters', () => {
    expect(checkOrgCode('D214356').reason).toBe('length 7, an organisation code has 9 characters');
    expect(checkOrgCode('D2143569XX').reason).toBe('length 10, an organisation code has 9 characters');
    expect(checkOrgCode('D2143569Y').reason).toBe(
      "character 'Y' at position 9 is not allowed in an organisation code (the check character is a digit or X)",
    );
    expect(checkOrgCode('D21*3569X').reason).toBe(
      "character '*' at position 4 is not allowed in an organisation code",
    );
    expect(checkOrgCode('D2143569X').reasonZh).toBeNull();
  });
});

describe('checkRegNo', () => {
  it.each([
    // GS15-2006's example (0x376h/ChineseNoReco doTestReco.java).
    '110108000000016',
    // TestRegNumber in a public Python package (wbximy_common gslib reg_number tests): valid, and incremented.
    '410000100015088',
    '410000100015096',
    // The "normal registration number" in that module's comment: 140000 10 0028286.
    '140000100028286',
  ])('%s is valid', (code) => {
    expect(checkRegNo(code)).toEqual({
      input: code,
      kind: 'regno',
      valid: true,
      normalized: code,
      reason: null,
      reasonZh: null,
    });
  });

  it('rejects every wrong check digit', () => {
    for (let d = 0; d <= 9; d++) {
      if (d === 6) continue;
      const r = checkRegNo(`11010800000001${d}`);
      expect(r.valid).toBe(false);
      expect(r.reason).toBe(`check digit should be '6', found '${d}'`);
    }
  });

  it('rejects letters, including the Shanxi-style 14010700A001338 (digits only per GS15-2006)', () => {
    expect(checkRegNo('14010700A001338').reason).toBe(
      "character 'A' at position 9 is not allowed in a registration number (digits only)",
    );
  });

  it('rejects wrong lengths and normalizes full-width digits', () => {
    expect(checkRegNo('11010800000001').reason).toBe('length 14, a registration number has 15 digits');
    expect(checkRegNo('１１０１０８０００００００１６').normalized).toBe('110108000000016');
    expect(checkRegNo('１１０１０８０００００００１６').valid).toBe(true);
  });
});

describe('checkIdCard', () => {
  it.each([
    // GB 11643-1999's examples (bluesky335/IDCheck IDNumber_test.go "官方示例").
    '11010519491231002X',
    '440524188001010014', // born 1880
    // python-stdnum tests/test_cn_ric.doctest and tests/cn_ssn_test.py.
    '360426199101010071',
    '44011320141005001X',
    '38064219921117061X',
    '45883019880120031X',
    // jxlwqq/id-validator tests/IdValidatorTest.php.
    '440308199901101512',
    '110101199003078670',
    '500154199804106120',
    '430302199312194239',
    // Residence permits, id-validator README ("北京市公安局公布的居住证样式号码").
    '810000199408230021', // Hong Kong / Macao
    '830000199201300022', // Taiwan
  ])('%s is valid', (id) => {
    expect(checkIdCard(id).valid).toBe(true);
  });

  it('accepts a lower-case x (python-stdnum 44011320141005001x) and normalizes it', () => {
    const r = checkIdCard('44011320141005001x');
    expect(r.valid).toBe(true);
    expect(r.normalized).toBe('44011320141005001X');
  });

  it('accepts 15-digit legacy IDs with a real 19YYMMDD date (id-validator 610104620927690)', () => {
    expect(checkIdCard('610104620927690').valid).toBe(true);
    const r = checkIdCard('610104620932690'); // id-validator: 出生日期码不合法
    expect(r.valid).toBe(false);
    expect(r.reason).toBe('birth date 620932 (19620932) in positions 7-12 is not a real date');
  });

  it('accepts a foreign permanent-residence ID starting 9 (constructed, check recomputed)', () => {
    expect(checkIdCard('931840198805120027').valid).toBe(true);
    expect(checkIdCard('931840198805120028').reason).toBe("check character should be '7', found '8'");
  });

  it.each([
    // jxlwqq/id-validator: 出生日期码不合法 (February 30).
    ['440308199902301512', '19990230'],
    // python-stdnum test_cn_ric.doctest: month 13.
    ['360426199113010079', '19911301'],
    // The brief's example.
    ['341282199013400018', '19901340'],
    // 1900 is not a leap year (check character right for the digits).
    ['341282190002290019', '19000229'],
  ])('%s: birth date %s is not a real date', (id, date) => {
    const r = checkIdCard(id);
    expect(r.valid).toBe(false);
    expect(r.reason).toBe(`birth date ${date} in positions 7-14 is not a real date`);
    expect(r.reasonZh).toBe(`第7-14位出生日期${date}不是有效日期`);
  });

  it('accepts 29 February of a leap year', () => {
    expect(checkIdCard('341282200002290015').valid).toBe(true);
  });

  it.each([
    // python-stdnum test_cn_ric.doctest: InvalidChecksum.
    ['36042619910102009X', '3', 'X'],
    // jxlwqq/id-validator: 验证码不合法 / 校验位不合法.
    ['440308199901101513', '2', '3'],
    ['11010119900307867X', '0', 'X'],
    // bluesky335/IDCheck IDNumber_test.go: 错误数据.
    ['11010519491231001X', '1', 'X'],
    ['440524188001010024', '2', '4'],
  ])('%s: check character should be %s', (id, expected, found) => {
    const r = checkIdCard(id);
    expect(r.valid).toBe(false);
    expect(r.reason).toBe(`check character should be '${expected}', found '${found}'`);
  });

  it('rejects bad lengths and characters', () => {
    // jxlwqq/id-validator: 号码位数不合法.
    expect(checkIdCard('44030819990110').reason).toBe(
      'length 14, an ID number has 18 characters (15 for a legacy ID)',
    );
    // python-stdnum: InvalidFormat.
    expect(checkIdCard('T60426199101010078').reason).toBe(
      "character 'T' at position 1 is not allowed in an ID number (only the last may be X)",
    );
    expect(checkIdCard('61010462092769X').valid).toBe(false);
  });

  it('rejects birth years outside 1800-2099', () => {
    expect(checkIdCard(makeIdCard('34128217991231001')).reason).toBe(
      'birth date 17991231 in positions 7-14 is outside 1800-2099',
    );
  });
});

describe('checkId', () => {
  it.each([
    ['11010519491231002X', 'idcard', true],
    ['830000199201300022', 'idcard', true],
    ['91350100M000100Y43', 'uscc', true],
    ['121200004013590816', 'uscc', true], // all digits, but positions 7-14 are no birth date
    ['9113010070071219X0', 'uscc', false],
    ['440308199901101513', 'uscc', false], // an ID with a wrong check char fails both: reported as a credit code
    ['00000000000000000X', 'uscc', false],
    ['D2143569X', 'org', true],
    ['D2143569-X', 'org', true],
    ['110108000000016', 'regno', true],
    ['110108000000017', 'regno', false],
    ['610104620927690', 'idcard', true], // 15 digits failing MOD 11,10 but a valid legacy ID
    ['9135010', 'org', false],
    ['1101080000000', 'regno', false],
    ['91350100M000100Y4', 'uscc', false],
    ['９１３５０１００Ｍ０００１００Ｙ４３', 'uscc', true],
  ] as const)('%s → %s (valid %s)', (input, kind, valid) => {
    const r = checkId(input);
    expect(r.kind).toBe(kind);
    expect(r.valid).toBe(valid);
  });

  it('uses the kind it is given', () => {
    expect(checkId('11010519491231002X', 'uscc').kind).toBe('uscc');
    expect(checkId('11010519491231002X', 'uscc').valid).toBe(false);
    expect(checkId('00000000000000000X', 'uscc', { allowPlaceholder: true }).valid).toBe(true);
    expect(checkId('D2143569X', 'regno').reason).toBe('length 9, a registration number has 15 digits');
  });
});

describe('generators', () => {
  it('reproduce the published check characters', () => {
    expect(makeUscc('91350100M000100Y4')).toBe('91350100M000100Y43');
    expect(makeUscc('N2341282MF1234567')).toBe('N2341282MF1234567C');
    expect(makeUscc('12120000401359081')).toBe('121200004013590816');
    expect(makeOrgCode('D2143569')).toBe('D2143569X');
    expect(makeOrgCode('59467239')).toBe('594672399');
    expect(makeRegNo('11010800000001')).toBe('110108000000016');
    expect(makeRegNo('41000010001508')).toBe('410000100015088');
    expect(makeIdCard('11010519491231002')).toBe('11010519491231002X');
    expect(makeIdCard('44052418800101001')).toBe('440524188001010014');
  });

  it('produce codes the checks accept', () => {
    for (const prefix of [
      '91341282MA2N00001',
      '92341282MA2NX0001',
      '52341282MJ0000001',
      '11341282003000000',
    ]) {
      expect(checkUscc(makeUscc(prefix)).valid).toBe(true);
    }
    for (let i = 0; i < 200; i++) {
      const body = String(10_000_000 + i * 4_999_991).slice(0, 8);
      expect(checkOrgCode(makeOrgCode(body)).valid).toBe(true);
      expect(checkRegNo(makeRegNo(`341282${body}`)).valid).toBe(true);
      expect(
        checkIdCard(makeIdCard(`341282199001${String(i % 100).padStart(2, '0')}00${i % 10}`)).valid,
      ).toBe(i % 100 >= 1 && i % 100 <= 31);
    }
  });

  it('refuse malformed prefixes', () => {
    expect(() => makeUscc('91350100M000100Y')).toThrow(RangeError);
    expect(() => makeUscc('91350100M000100I4')).toThrow(RangeError);
    expect(() => makeOrgCode('D214356')).toThrow(RangeError);
    expect(() => makeRegNo('1101080000000A')).toThrow(RangeError);
    expect(() => makeIdCard('1101051949123100X')).toThrow(RangeError);
  });
});

describe('identifierFormats (ajv.addFormat)', () => {
  it('has the five formats', () => {
    expect(Object.keys(identifierFormats).sort()).toEqual([
      'idcard',
      'org-code',
      'regno',
      'uscc',
      'uscc-or-placeholder',
    ]);
  });

  it('accepts normalized valid values only', () => {
    const f = identifierFormats;
    expect(f['uscc']!('91350100M000100Y43')).toBe(true);
    expect(f['uscc']!('91350100M000100Y44')).toBe(false);
    expect(f['uscc']!(' 91350100M000100Y43')).toBe(false);
    expect(f['uscc']!('91350100m000100y43')).toBe(false);
    expect(f['uscc']!(USCC_PLACEHOLDER)).toBe(false);
    expect(f['uscc-or-placeholder']!(USCC_PLACEHOLDER)).toBe(true);
    expect(f['uscc-or-placeholder']!('91350100M000100Y43')).toBe(true);
    expect(f['org-code']!('D2143569X')).toBe(true);
    expect(f['org-code']!('D2143569-X')).toBe(false);
    expect(f['regno']!('110108000000016')).toBe(true);
    expect(f['regno']!('110108000000017')).toBe(false);
    expect(f['idcard']!('11010519491231002X')).toBe(true);
    expect(f['idcard']!('11010519491231002x')).toBe(false);
    expect(f['idcard']!('610104620927690')).toBe(true);
  });
});

describe('isUscc, the hot-path verdict', () => {
  it('agrees with checkUscc on every normalised code', async () => {
    const { checkUscc, isUscc, makeUscc } = await import('../schemas/identifiers.js');
    const codes = [
      '91350100M000100Y43',
      '91350100M000100Y44',
      '00000000000000000X',
      'A1000000MA0000000X',
      'Z1350100M000100Y43',
      '9135010AM000100Y43',
      '91350100M000100Y4',
      '5B350100M000100Y43',
      'N3110000MA0000000X',
      'Y1110000MA0000000X',
    ];
    let seed = 7;
    const rand = () => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed / 0x7fffffff;
    };
    const chars = '0123456789ABCDEFGHJKLMNPQRTUWXY';
    for (let i = 0; i < 2000; i++) {
      const authority = '123456789ANY'[Math.floor(rand() * 12)];
      const body = `${authority}${'1239'[Math.floor(rand() * 4)]}341282${Array.from({ length: 9 }, () => chars[Math.floor(rand() * 31)]).join('')}`;
      const code = makeUscc(body);
      codes.push(code, code.slice(0, 17) + chars[(chars.indexOf(code[17]!) + 1) % 31]);
    }
    for (const code of codes) {
      expect(isUscc(code), code).toBe(checkUscc(code).valid);
      expect(isUscc(code, true), code).toBe(checkUscc(code, { allowPlaceholder: true }).valid);
    }
  });
});
