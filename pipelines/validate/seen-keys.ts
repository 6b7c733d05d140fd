/**
 * The natural keys already read in one file, each with where it was first seen. A 64-bit hash of each key
 * (the two 32-bit lanes of cyrb53) in typed arrays (open addressing): ~24 bytes a key instead of the ~150 a
 * Map of strings takes, so a million-row file stays within the memory budget. Two different keys share 64
 * bits with a probability of about 3·10⁻⁸ in a million-row file.
 */
export class SeenKeys {
  private hi: Int32Array;
  private lo: Int32Array;
  private where: Float64Array;
  private used: Uint8Array;
  private count = 0;

  constructor(capacity = 1 << 12) {
    const size = 1 << Math.ceil(Math.log2(Math.max(16, capacity)));
    this.hi = new Int32Array(size);
    this.lo = new Int32Array(size);
    this.where = new Float64Array(size);
    this.used = new Uint8Array(size);
  }

  get size(): number {
    return this.count;
  }

  /** Records `key` as seen at `where` when it is new and returns -1; else returns where it was first seen. */
  firstSeen(key: string, where: number): number {
    let h1 = 0xdeadbeef;
    let h2 = 0x41c6ce57;
    for (let i = 0; i < key.length; i++) {
      const ch = key.charCodeAt(i);
      h1 = Math.imul(h1 ^ ch, 2654435761);
      h2 = Math.imul(h2 ^ ch, 1597334677);
    }
    h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507) ^ Math.imul(h2 ^ (h2 >>> 13), 3266489909);
    h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507) ^ Math.imul(h1 ^ (h1 >>> 13), 3266489909);
    return this.insert(h1 | 0, h2 | 0, where);
  }

  private insert(hi: number, lo: number, where: number): number {
    const mask = this.used.length - 1;
    let slot = lo & mask;
    while (this.used[slot]) {
      if (this.hi[slot] === hi && this.lo[slot] === lo) return this.where[slot] as number;
      slot = (slot + 1) & mask;
    }
    this.used[slot] = 1;
    this.hi[slot] = hi;
    this.lo[slot] = lo;
    this.where[slot] = where;
    this.count++;
    if (this.count * 2 > this.used.length) this.grow();
    return -1;
  }

  private grow(): void {
    const { hi, lo, where, used } = this;
    const size = used.length * 2;
    this.hi = new Int32Array(size);
    this.lo = new Int32Array(size);
    this.where = new Float64Array(size);
    this.used = new Uint8Array(size);
    this.count = 0;
    for (let i = 0; i < used.length; i++) {
      if (used[i]) this.insert(hi[i] as number, lo[i] as number, where[i] as number);
    }
  }
}
