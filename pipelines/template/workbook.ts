import type { DataValidation, Worksheet } from 'exceljs';
import {
  type Catalog,
  departmentName,
  type FieldDef,
  type Resource,
  type ResourceVersion,
} from '../../catalog/load.js';
import { GuijiError } from '../../lib/errors.js';
import { USCC_PLACEHOLDER } from '../../schemas/identifiers.js';
import { cellText } from '../xlsx-cells.js';

/** Row 1 holds the title, row 2 the column titles; clerks type from row 3 on. */
export const TITLE_ROW = 1;
export const HEADER_ROW = 2;
/** How many rows below the header carry the drop-downs and date checks. */
export const TEMPLATE_ROWS = 3000;
/** The instruction sheet and the hidden sheet holding code lists. */
export const INSTRUCTIONS_SHEET = '填报说明';
export const CODE_LIST_SHEET = '代码表';
/** What a `multi` field's values are joined with. */
export const MULTI_SEPARATOR = '；';

interface SchemaProperty {
  pattern?: string;
  description?: string;
}

/** Excel forbids []:*?/\ in sheet names and allows 31 characters. */
export function sheetNameOf(resource: Resource): string {
  return resource.name.replace(/[[\]:*?/\\]/g, '_').slice(0, 31);
}

/** The default file name of a resource's template. */
export function templateFileName(resourceId: string): string {
  return `${resourceId}-模板.xlsx`;
}

/** "界首市 行政处罚信息 报送模板（2019 双公示标准）", and "　报送单位：界首市市场监督管理局" for one department's. */
export function templateTitle(catalog: Catalog, resource: Resource, department?: string): string {
  const title = `${catalog.region.name} ${resource.name} 报送模板（${versionLabel(resource.current)}）`;
  return department === undefined
    ? title
    : `${title}${DEPARTMENT_MARK}${departmentName(catalog, department)}`;
}

/**
 * How a department's template carries its department: after the title, `报送单位：<its full name>`. A file
 * rejected whole is counted under the department its first rows name so (the report's rejected files).
 */
const DEPARTMENT_MARK = '　报送单位：';

/** The department name a cell gives after `报送单位：` (or `报送单位:`), as written; undefined when none. */
export function templateDepartmentText(cell: string): string | undefined {
  const found = /报送单位[:：]\s*([^\s，,；;、]+)/.exec(cell);
  return found?.[1];
}

function versionLabel(version: ResourceVersion): string {
  const title = typeof version.schema.title === 'string' ? version.schema.title : '';
  const bracket = /[（(]([^（）()]+)[）)]\s*$/.exec(title)?.[1];
  const label = bracket ?? `版本 ${version.version}`;
  return label.includes(version.version) ? label : `${label} · 版本 ${version.version}`;
}

/** The column title a clerk sees: the field's Chinese title, `*` in front when required. */
export function headerTitle(field: FieldDef): string {
  return field.required ? `*${field.title}` : field.title;
}

function propertyOf(version: ResourceVersion, code: string): SchemaProperty {
  const properties = (version.schema.properties ?? {}) as Record<string, SchemaProperty>;
  return properties[code] ?? {};
}

function labelsOf(catalog: Catalog, field: FieldDef): string[] {
  if (!field.codeList) return [];
  const list = catalog.codeLists[field.codeList];
  if (!list) {
    throw new GuijiError(
      'GUIJI_ERR_CATALOG',
      `field ${field.code} names code list "${field.codeList}", which the catalog does not define`,
    );
  }
  return list.map((e) => e.label);
}

/** How a value of the field is written, in Chinese, for the header note and the instruction sheet. */
export function formatHint(catalog: Catalog, version: ResourceVersion, field: FieldDef): string {
  const parts: string[] = [];
  switch (field.kind) {
    case 'date':
      parts.push('日期，格式 YYYY-MM-DD（如 2024-03-15）；长期有效填 2099-12-31');
      break;
    case 'datetime':
      parts.push('日期时间，格式 YYYY-MM-DD HH:mm:ss');
      break;
    case 'amount':
      parts.push('金额，单位万元，填数字（如 0.5 表示五千元），不要带“元”“万元”等文字');
      break;
    case 'enum': {
      const labels = labelsOf(catalog, field);
      if (field.multi) {
        parts.push(`可填多个值，用“${MULTI_SEPARATOR}”分隔；每个值取自：${labels.join('、')}`);
      } else {
        parts.push(`从下拉列表中选择：${labels.join('、')}`);
      }
      break;
    }
    case 'code':
      switch (field.format) {
        case 'uscc':
          parts.push('18 位统一社会信用代码，按文本填写');
          break;
        case 'uscc-or-placeholder':
          parts.push(
            `18 位统一社会信用代码，按文本填写；个体工商户无代码的填 ${USCC_PLACEHOLDER}，并须填写工商注册号`,
          );
          break;
        case 'org-code':
          parts.push('9 位组织机构代码（可带“-”），按文本填写');
          break;
        case 'regno':
          parts.push('15 位工商注册号，按文本填写');
          break;
        case 'idcard':
          parts.push('18 位公民身份号码，按文本填写');
          break;
        default:
          parts.push('代码，按文本填写（单元格已设为文本格式，勿改为数字，以免丢失前导 0 或变成科学计数法）');
      }
      break;
    case 'docno':
      parts.push('文书编号，按文书原样填写（如 界市监罚〔2024〕12号）');
      break;
    default:
      parts.push(propertyOf(version, field.code).pattern === '^\\d+$' ? '整数（0 或正整数）' : '文字');
  }
  if (field.maxLength !== undefined && field.kind !== 'enum') parts.push(`最长 ${field.maxLength} 字`);
  return parts.join('；');
}

function headerNote(catalog: Catalog, resource: Resource, field: FieldDef): string {
  const version = resource.current;
  const lines = [
    `${field.title}（${field.code}）`,
    field.required ? '必填' : '选填',
    `格式：${formatHint(catalog, version, field)}`,
  ];
  const description = propertyOf(version, field.code).description;
  if (description) lines.splice(1, 0, `含义：${description}`);
  const chinese = field.aliases.filter((a) => /[\u4e00-\u9fff]/.test(a));
  if (chinese.length) lines.push(`也可写作：${chinese.join('、')}`);
  for (const rule of resource.rules) {
    if (rule.require === field.code) {
      const when = version.fields.find((f) => f.code === rule.when.field)?.title ?? rule.when.field;
      const values = rule.when.includes ? [rule.when.includes] : (rule.when.includesAny ?? []);
      lines.push(`${when}含“${values.join('”或“')}”时必填`);
    }
  }
  for (const c of conditionals(version)) {
    if (c.fields.includes(field.code)) lines.push(`${c.text}时必填`);
  }
  if (field.sensitive) lines.push('敏感信息：仅在部门间共享，不对外公示');
  if (field.legalRepresentative)
    lines.push('法人及个体工商户的法定代表人（经营者）依法公示；行政相对人为自然人时不公示');
  return lines.join('\n');
}

/** The schema's `allOf` if/then/else requirements, as sentences ("行政相对人类别为“自然人”" → fields). */
function conditionals(version: ResourceVersion): { text: string; fields: string[] }[] {
  const out: { text: string; fields: string[] }[] = [];
  const allOf = (version.schema.allOf ?? []) as {
    if?: { properties?: Record<string, { const?: unknown }> };
    then?: { required?: string[] };
    else?: { required?: string[] };
  }[];
  const titleOf = (code: string) => version.fields.find((f) => f.code === code)?.title ?? code;
  for (const clause of allOf) {
    const [code, cond] = Object.entries(clause.if?.properties ?? {})[0] ?? [];
    if (!code || cond?.const === undefined) continue;
    const value = String(cond.const);
    if (clause.then?.required?.length)
      out.push({ text: `${titleOf(code)}为“${value}”`, fields: clause.then.required });
    if (clause.else?.required?.length)
      out.push({ text: `${titleOf(code)}不为“${value}”`, fields: clause.else.required });
  }
  return out;
}

function columnWidth(field: FieldDef): number {
  const title = headerTitle(field);
  let width = [...title].reduce((n, ch) => n + (ch.charCodeAt(0) > 0xff ? 2 : 1), 0) + 2;
  if (field.kind === 'date') width = Math.max(width, 14);
  if (field.kind === 'code') width = Math.max(width, 22);
  if (field.kind === 'text' && (field.maxLength ?? 0) >= 1000) width = Math.max(width, 40);
  return Math.min(Math.max(width, 12), 50);
}

/**
 * A drop-down offers the label exactly as the hidden sheet holds it, and the clerk's pick is checked against
 * the catalog: a label that needs an apostrophe or a placeholder to be safe in a cell would come back as a
 * value the catalog does not know, so the template refuses it instead of handing out a list that fails.
 */
function dropDownLabel(list: string, label: string): string {
  if (cellText(label) !== label) {
    throw new GuijiError(
      'GUIJI_ERR_CATALOG',
      `code list "${list}" has the label ${JSON.stringify(label.slice(0, 80))}, which a drop-down cannot offer: ` +
        'it begins like a spreadsheet formula (= + - @), holds a control character or is longer than 32,767 characters',
    );
  }
  return label;
}

function columnLetter(n: number): string {
  let s = '';
  for (let k = n; k > 0; k = Math.floor((k - 1) / 26)) s = String.fromCharCode(65 + ((k - 1) % 26)) + s;
  return s;
}

/**
 * Writes the template a department clerk fills for one resource: sheet 1 (named after the resource) holds a
 * title row, the header row of the current version's fields with a note on each, drop-downs for coded fields,
 * date and text formats; sheet 2 "填报说明" says who sends what, when and how rows are checked; a hidden sheet
 * holds the code lists the drop-downs read. Filled correctly it loads with no rejected row.
 */
export async function writeTemplate(
  catalog: Catalog,
  resourceId: string,
  out: string,
  options: { department?: string } = {},
): Promise<void> {
  const resource = catalog.resources.get(resourceId);
  if (!resource) {
    throw new GuijiError(
      'GUIJI_ERR_USAGE',
      `unknown resource "${resourceId}"; known: ${[...catalog.resources.keys()].join(', ')}`,
    );
  }
  const { default: ExcelJS } = await import('exceljs');
  const workbook = new ExcelJS.Workbook();
  workbook.creator = 'guiji';
  const { department } = options;
  workbook.title = templateTitle(catalog, resource, department);
  const fields = resource.current.fields;

  const sheet = workbook.addWorksheet(sheetNameOf(resource), {
    views: [{ state: 'frozen', xSplit: 0, ySplit: HEADER_ROW, topLeftCell: `A${HEADER_ROW + 1}` }],
  });
  const instructions = workbook.addWorksheet(INSTRUCTIONS_SHEET);
  const lists = workbook.addWorksheet(CODE_LIST_SHEET, { state: 'hidden' });

  // title row
  const title = sheet.getCell(TITLE_ROW, 1);
  title.value = cellText(templateTitle(catalog, resource, department));
  title.font = { bold: true, size: 14 };
  title.alignment = { vertical: 'middle', horizontal: 'left' };
  sheet.getRow(TITLE_ROW).height = 26;
  if (fields.length > 1) sheet.mergeCells(TITLE_ROW, 1, TITLE_ROW, Math.min(fields.length, 12));

  // the code lists the drop-downs read, one column each
  const listRanges = new Map<string, string>();
  const listFor = (field: FieldDef): string => {
    const name = field.codeList as string;
    const known = listRanges.get(name);
    if (known) return known;
    const labels = labelsOf(catalog, field);
    const col = listRanges.size + 1;
    lists.getCell(1, col).value = cellText(name);
    labels.forEach((label, i) => {
      lists.getCell(i + 2, col).value = dropDownLabel(name, label);
    });
    const letter = columnLetter(col);
    const range = `'${CODE_LIST_SHEET}'!$${letter}$2:$${letter}$${labels.length + 1}`;
    listRanges.set(name, range);
    return range;
  };

  const validations = (sheet as unknown as { dataValidations: { add(a: string, v: DataValidation): void } })
    .dataValidations;
  const header = sheet.getRow(HEADER_ROW);
  header.height = 32;
  fields.forEach((field, i) => {
    const col = i + 1;
    const letter = columnLetter(col);
    const range = `${letter}${HEADER_ROW + 1}:${letter}${HEADER_ROW + TEMPLATE_ROWS}`;
    const cell = header.getCell(col);
    cell.value = cellText(headerTitle(field));
    cell.font = { bold: true, ...(field.required ? { color: { argb: 'FFC00000' } } : {}) };
    cell.alignment = { vertical: 'middle', horizontal: 'center', wrapText: true };
    cell.fill = {
      type: 'pattern',
      pattern: 'solid',
      fgColor: { argb: field.required ? 'FFFCE4D6' : 'FFDDEBF7' },
    };
    cell.border = { bottom: { style: 'thin' } };
    cell.note = { texts: [{ text: cellText(headerNote(catalog, resource, field)) }], editAs: 'absolute' };

    const column = sheet.getColumn(col);
    column.width = columnWidth(field);
    if (field.kind === 'code' || field.kind === 'docno') column.numFmt = '@';
    if (field.kind === 'date') column.numFmt = 'yyyy-mm-dd';
    if (field.kind === 'datetime') column.numFmt = 'yyyy-mm-dd hh:mm:ss';
    // the header and title cells keep the general format
    header.getCell(col).numFmt = 'General';

    if (field.kind === 'enum' && !field.multi) {
      validations.add(range, {
        type: 'list',
        allowBlank: true,
        formulae: [listFor(field)],
        showErrorMessage: true,
        errorStyle: 'stop',
        errorTitle: field.title,
        error: '请从下拉列表中选择',
        showInputMessage: true,
        promptTitle: field.title,
        prompt: '请从下拉列表中选择',
      });
    } else if (field.kind === 'enum') {
      const labels = labelsOf(catalog, field);
      validations.add(range, {
        type: 'custom',
        allowBlank: true,
        formulae: ['TRUE'],
        showInputMessage: true,
        promptTitle: field.title,
        prompt: `可多选，用“${MULTI_SEPARATOR}”分隔`.concat(
          labels.join('、').length < 200 ? `：${labels.join('、')}` : '',
        ),
      });
    } else if (field.kind === 'date' || field.kind === 'datetime') {
      validations.add(range, {
        type: 'date',
        operator: 'between',
        allowBlank: true,
        formulae: [new Date(Date.UTC(1900, 0, 1)), new Date(Date.UTC(2099, 11, 31))],
        showErrorMessage: true,
        errorStyle: 'stop',
        errorTitle: field.title,
        error: '请填写 1900-01-01 至 2099-12-31 之间的日期，格式 YYYY-MM-DD',
      });
    }
  });

  writeInstructions(catalog, resource, instructions, department);
  if (listRanges.size === 0) workbook.removeWorksheet(lists.id);
  await workbook.xlsx.writeFile(out);
}

function naturalKeyText(resource: Resource): string {
  const titleOf = (code: string) => resource.current.fields.find((f) => f.code === code)?.title ?? code;
  const { subject } = resource;
  const fallbacks = [subject.regNo, subject.orgCode, subject.idNumber, subject.name]
    .filter((c): c is string => c !== undefined)
    .map(titleOf);
  return resource.naturalKey
    .map((part) =>
      part === '$subject'
        ? `主体（${titleOf(subject.uscc)}；无代码时依次用${fallbacks.join('、')}）`
        : `“${titleOf(part)}”`,
    )
    .join(' + ');
}

function writeInstructions(
  catalog: Catalog,
  resource: Resource,
  sheet: Worksheet,
  department: string | undefined,
): void {
  const version = resource.current;
  const { deadlines } = resource;
  const rows: [string, string][] = [
    ['资源', `${resource.name}（${resource.id}）`],
    ['类别', resource.categoryName],
    ['字段标准', `${String(version.schema.title ?? '')}，版本 ${version.version}，自 ${version.from} 起施行`],
    ['资源目录', `${catalog.title}（${catalog.version}）`],
    [
      '报送单位',
      department === undefined
        ? resource.departments.map((d) => departmentName(catalog, d)).join('、')
        : departmentName(catalog, department),
    ],
    [
      '报送时限',
      `产生之日起${deadlines.collectWorkdays}个工作日内报送` +
        (deadlines.publishWorkdays !== undefined
          ? `；依法公示的，产生之日起${deadlines.publishWorkdays}个工作日内公示`
          : ''),
    ],
    ['公开属性', resource.disclosure === 'public' ? '依法向社会公示' : '仅在部门间共享，不对外公示'],
    ['法律依据', resource.legalBasis],
    [
      '唯一标识（自然键）',
      `${naturalKeyText(resource)}。同一文件内自然键重复的行，以第一行为准，其余作为重复行退回；以后再次报送相同自然键的记录视为更正，覆盖原记录。`,
    ],
    [
      '填写方法',
      `在“${sheetNameOf(resource)}”工作表第 ${HEADER_ROW + 1} 行起逐行填写，一行一条记录。请勿修改、删除或调整表头（第 ${HEADER_ROW} 行），` +
        '可删除不用的选填列。带 * 的列为必填。将鼠标移到列名上可查看该列的说明。代码类列已设为文本格式，' +
        '请勿改为数字；日期列请填 YYYY-MM-DD；金额单位为万元；有下拉列表的列请从列表中选择。',
    ],
    [
      '校验与退回',
      '每行单独校验（必填项、格式、代码表、统一社会信用代码校验位、关联规则）。合格的行入库；不合格的行不入库，' +
        '连同每个问题的说明写入《退回说明》工作簿（原文件名.退回说明.xlsx）退回本单位，更正后只需重新报送被退回的行。' +
        '无法识别表头或没有数据行的文件整体退回，并附错误说明。',
    ],
  ];
  const rules: string[] = [];
  for (const rule of resource.rules) {
    const titleOf = (code: string) => version.fields.find((f) => f.code === code)?.title ?? code;
    const values = rule.when.includes ? [rule.when.includes] : (rule.when.includesAny ?? []);
    rules.push(`${titleOf(rule.when.field)}含“${values.join('”或“')}”时，“${titleOf(rule.require)}”必填`);
  }
  for (const c of conditionals(version)) {
    const titles = c.fields.map((code) => version.fields.find((f) => f.code === code)?.title ?? code);
    rules.push(`${c.text}时，“${titles.join('”“')}”必填`);
  }
  if (version.fields.some((f) => f.format === 'uscc-or-placeholder'))
    rules.push(`统一社会信用代码填占位码 ${USCC_PLACEHOLDER} 时，须填写工商注册号`);
  if (rules.length) rows.push(['关联规则', rules.join('；\n')]);

  sheet.getColumn(1).width = 20;
  sheet.getColumn(2).width = 100;
  const head = sheet.addRow([cellText(`${resource.name} 填报说明`)]);
  head.font = { bold: true, size: 14 };
  for (const [label, text] of rows) {
    const row = sheet.addRow([cellText(label), cellText(text)]);
    row.getCell(1).font = { bold: true };
    row.getCell(2).alignment = { wrapText: true, vertical: 'top' };
  }
  sheet.addRow([]);
  const fieldsHead = sheet.addRow(['字段', '列名', '字段代码', '必填', '格式要求']);
  fieldsHead.font = { bold: true };
  sheet.getColumn(3).width = 18;
  sheet.getColumn(4).width = 8;
  sheet.getColumn(5).width = 80;
  version.fields.forEach((field, i) => {
    const row = sheet.addRow([
      i + 1,
      cellText(field.title),
      cellText(field.code),
      field.required ? '是' : '否',
      cellText(formatHint(catalog, version, field)),
    ]);
    row.getCell(5).alignment = { wrapText: true, vertical: 'top' };
  });
}
