import { describe, expect, it } from 'vitest';
import { fitName } from '../connectors/spreadsheet/drop-folder.js';

describe('fitName', () => {
  it('leaves a name that fits as it is', () => {
    expect(fitName('行政处罚.csv', 'abcd1234')).toBe('行政处罚.csv');
  });

  it('cuts a long name by UTF-8 bytes at a character boundary, keeping the extension and a tag', () => {
    const name = `${'市场监督管理局'.repeat(11)}a.xlsx`;
    expect(Buffer.byteLength(name)).toBeGreaterThan(207);
    const fitted = fitName(name, 'abcd1234');
    // room for `.退回说明.xlsx`, `.错误说明.txt` and a uniqueness suffix within NAME_MAX (255 bytes)
    expect(Buffer.byteLength(fitted)).toBeLessThanOrEqual(207);
    expect(Buffer.byteLength(`${fitted}.abcd1234-99.错误说明.txt`)).toBeLessThanOrEqual(255);
    expect(fitted).toMatch(/^(市场监督管理局)+[市场监督管理局]*~abcd1234\.xlsx$/);
    expect(Buffer.from(fitted, 'utf8').toString('utf8')).toBe(fitted);
    expect(fitName(name, 'ffff0000')).not.toBe(fitted);
  });

  it('drops an extension too long to be one', () => {
    const fitted = fitName(`a.${'x'.repeat(300)}`, 'abcd1234');
    expect(fitted.endsWith('~abcd1234')).toBe(true);
    expect(Buffer.byteLength(fitted)).toBeLessThanOrEqual(207);
  });
});
