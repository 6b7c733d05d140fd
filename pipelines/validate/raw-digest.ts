import type { CellValue } from '../../lib/types.js';

/**
 * The digest of one raw row under a fingerprint (see records.raw_digest): 128 bits as 22 base64url
 * characters. It only ever answers "is this the very row the stored record came from?", never stands for the
 * record itself (that is the content hash), so a fast non-cryptographic hash does: four independent
 * multiply-rotate lanes over the UTF-16 units, mixed together at the end — several times cheaper than MD5 of
 * the joined cells, which the first run pays for every row.
 */
export function rawDigest(fingerprint: string, cells: readonly CellValue[]): string {
  if (fingerprint !== seededBy) {
    resetLanes();
    feed(fingerprint);
    seededBy = fingerprint;
    seed1 = h1;
    seed2 = h2;
    seed3 = h3;
    seed4 = h4;
    seedFed = fed;
  }
  fed = seedFed;
  h1 = seed1;
  h2 = seed2;
  h3 = seed3;
  h4 = seed4;
  for (const c of cells) {
    unit(1);
    if (c === null || c === undefined) continue;
    // a type tag keeps the number 1 and the text "1" apart: a text-formatted column is not a number column
    if (typeof c === 'string') feed(c);
    else if (c instanceof Date) {
      unit(2);
      unit(0x64);
      feed(String(c.getTime()));
    } else {
      unit(2);
      feed(typeof c);
      feed(String(c));
    }
  }
  return digestText();
}

let seededBy: string | null = null;
let seed1 = 0;
let seed2 = 0;
let seed3 = 0;
let seed4 = 0;
let seedFed = 0;
let h1 = 0;
let h2 = 0;
let h3 = 0;
let h4 = 0;
let fed = 0;

function resetLanes(): void {
  h1 = 0x243f6a88;
  h2 = 0x85a308d3;
  h3 = 0x13198a2e;
  h4 = 0x03707344;
  fed = 0;
}

function unit(c: number): void {
  h1 = Math.imul(h1 ^ c, 0x9e3779b1);
  h1 = (h1 << 13) | (h1 >>> 19);
  h2 = Math.imul(h2 ^ c, 0x85ebca77);
  h2 = (h2 << 17) | (h2 >>> 15);
  h3 = Math.imul(h3 ^ c, 0xc2b2ae3d);
  h3 = (h3 << 11) | (h3 >>> 21);
  h4 = Math.imul(h4 ^ c, 0x27d4eb2f);
  h4 = (h4 << 19) | (h4 >>> 13);
}

/** Feeds a text two UTF-16 units a step; its length goes in too, so "ab" + "c" and "a" + "bc" differ. */
function feed(text: string): void {
  const n = text.length;
  let i = 0;
  for (; i + 1 < n; i += 2) unit(text.charCodeAt(i) | (text.charCodeAt(i + 1) << 16));
  if (i < n) unit(text.charCodeAt(i));
  unit(0x10000 | n);
  fed += n;
}

function fmix(h: number): number {
  let x = h ^ (h >>> 16);
  x = Math.imul(x, 0x85ebca6b);
  x ^= x >>> 13;
  x = Math.imul(x, 0xc2b2ae35);
  return x ^ (x >>> 16);
}

const BASE64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

function digestText(): string {
  let a = h1 ^ fed;
  let b = h2;
  let c = h3;
  let d = h4;
  a = (a + b + c + d) | 0;
  b = (b + a) | 0;
  c = (c + a) | 0;
  d = (d + a) | 0;
  a = fmix(a);
  b = fmix(b);
  c = fmix(c);
  d = fmix(d);
  a = (a + b + c + d) | 0;
  b = (b + a) | 0;
  c = (c + a) | 0;
  d = (d + a) | 0;
  // 128 bits, six at a time, most significant first; the last character holds the last two bits
  let out = '';
  const words = [a, b, c, d];
  let acc = 0;
  let bits = 0;
  for (const w of words) {
    for (let shift = 24; shift >= 0; shift -= 8) {
      acc = (acc << 8) | ((w >>> shift) & 0xff);
      bits += 8;
      while (bits >= 6) {
        bits -= 6;
        out += BASE64URL[(acc >>> bits) & 63];
      }
      acc &= (1 << bits) - 1;
    }
  }
  if (bits > 0) out += BASE64URL[(acc << (6 - bits)) & 63];
  return out;
}
