import { createHash } from 'node:crypto';
import { columnOf } from '../../catalog/columns.js';
import type { Catalog, Resource } from '../../catalog/load.js';
import type { SqlTx, Warehouse } from '../../lib/db.js';
import { GuijiError, messageOf, sqlState } from '../../lib/errors.js';
import type { Issue, Provenance } from '../../lib/types.js';
import { matchBatch } from '../match/match-batch.js';
import { normalizeName } from '../match/name.js';
import type { ValidRecord } from '../validate/row-validator.js';
import { recordJsonSql, typedTable } from '../warehouse/typed-schema.js';
import { provenanceSql } from '../warehouse/views.js';
import { Layouts, type RecordPlace, type TableLayout } from './layout.js';

/** A rejected row: its identity (stable across re-runs of the same input), the row as received and every issue. */
export interface RejectedRow {
  rowRef: string;
  resource: string | null;
  provenance: Provenance;
  raw: Record<string, unknown>;
  issues: Issue[];
}

/** Where a batch's records came from: a drop file or a platform's stream (the table `origins`). */
export interface Origin {
  kind: 'file' | 'stream';
  /** A file's SHA-256, or the stream's name. */
  key: string;
  /** A file's path relative to the drop folder, or the stream's name. */
  name: string;
}

/** What the loader keeps of a valid record until its batch commits. */
interface PendingRecord {
  resource: string;
  naturalKey: string;
  contentHash: string;
  uscc: string | null;
  /** The subject's name as matching compares it (a fresh string, not a slice of the input). */
  subjectNorm: string | null;
  /**
   * Where the record's COPY line (its record and field columns, not the tail the loader adds) — tab-separated,
   * escaped, as UTF-8 — lies in its batch's arena: bytes outside V8's heap, so a batch waiting for its turn does
   * not age into the old generation as strings would, and one allocation a batch instead of one a record (each
   * buffer of its own counts as external memory, and V8 answers its growth with full collections).
   */
  arena: Buffer;
  start: number;
  end: number;
}

/** The first arena of a batch; it doubles when full (a 10,000-row batch of penalties takes about 11 MB). */
const ARENA_BYTES = 1 << 22;

/**
 * One copy of each distinct short value (credit code, normalised name) the pending records hold: not a slice
 * of the input, which would keep the whole input chunk alive until the batch commits, and not a new string a
 * record, as the same enterprise comes back thousands of times.
 */
const interned = new Map<string, string>();
const INTERNED_MAX = 100_000;

function intern(value: string | null): string | null {
  if (value === null) return null;
  let copy = interned.get(value);
  if (copy === undefined) {
    if (interned.size >= INTERNED_MAX) interned.clear();
    copy = Buffer.from(value, 'utf8').toString('utf8');
    interned.set(copy, copy);
  }
  return copy;
}

/** The layouts of each catalog and source, made once. */
const layoutsMade = new WeakMap<Catalog, Map<string, Layouts>>();

function layoutsOf(catalog: Catalog, source: string): Layouts {
  let bySource = layoutsMade.get(catalog);
  if (!bySource) {
    bySource = new Map();
    layoutsMade.set(catalog, bySource);
  }
  let layouts = bySource.get(source);
  if (!layouts) {
    layouts = new Layouts(catalog, source);
    bySource.set(source, layouts);
  }
  return layouts;
}

/** The rows of one transaction: valid records (as COPY text, ready to send) and rejected rows. */
export class Batch {
  readonly quarantined: RejectedRow[] = [];
  readonly duplicates: RejectedRow[] = [];
  /** Work to commit with the batch (a file marked done, a cursor moved). */
  finalize?: (tx: SqlTx) => Promise<void>;
  readonly pending: PendingRecord[] = [];
  private arena: Buffer | null = null;
  private used = 0;
  private readonly layouts: Layouts;
  /** Rows recognised as unchanged before validation (same raw digest as the stored record), and how many of those are unmatched. */
  unchanged = 0;
  unchangedUnmatched = 0;
  /** Records added with warnings (findings of severity warn): loaded, flagged. */
  warned = 0;

  constructor(
    readonly source: string,
    readonly catalog: Catalog,
    readonly origin: Origin,
  ) {
    this.layouts = layoutsOf(catalog, source);
  }

  get records(): number {
    return this.pending.length;
  }

  get size(): number {
    return this.pending.length + this.quarantined.length + this.duplicates.length + this.unchanged;
  }

  /** Counts a row known to be unchanged: the stored record came from the very same raw row. */
  addUnchanged(unmatched: boolean): void {
    this.unchanged++;
    if (unmatched) this.unchangedUnmatched++;
  }

  /**
   * Adds a valid record, with where it lies in its source and the digest of the raw row it was read from (see
   * the typed tables' raw_digest), when the source has one.
   */
  addRecord(record: ValidRecord, place: RecordPlace, rawDigest: string | null = null): void {
    const line = this.layouts.of(record.resource).line(record, place, rawDigest);
    if (record.warnings) this.warned++;
    // at most three UTF-8 bytes a UTF-16 unit
    const room = line.length * 3;
    let arena = this.arena;
    if (arena === null || this.used + room > arena.length) {
      arena = Buffer.allocUnsafeSlow(Math.max(room, arena === null ? ARENA_BYTES : arena.length * 2));
      this.arena = arena;
      this.used = 0;
    }
    const start = this.used;
    this.used += arena.write(line, start, 'utf8');
    this.pending.push({
      resource: record.resource,
      naturalKey: record.naturalKey,
      contentHash: record.contentHash,
      uscc: intern(record.uscc),
      subjectNorm: intern(normalizeName(record.subjectName)),
      arena,
      start,
      end: this.used,
    });
  }

  /** The layout of a resource's table for this batch's source. */
  layout(resource: string): TableLayout {
    return this.layouts.of(resource);
  }
}

/** The ledger's counters, for a batch and summed for a source's run. */
export interface BatchCounts {
  read: number;
  inserted: number;
  updated: number;
  unchanged: number;
  quarantined: number;
  duplicates: number;
  unmatched: number;
}

/** The size COPY data is sent in: one write per row halves COPY throughput (DESIGN.md). */
const CHUNK_BYTES = 1 << 16;

/** Record lines, each ended by `tail(r)` (the tail columns with the newline), in ~64 KB buffers. */
function chunksOf(records: readonly PendingRecord[], tail: (r: PendingRecord) => string): Buffer[] {
  const chunks: Buffer[] = [];
  let chunk = Buffer.allocUnsafeSlow(CHUNK_BYTES);
  let size = 0;
  for (const r of records) {
    const end = tail(r);
    const need = r.end - r.start + end.length * 3;
    if (size + need > chunk.length) {
      if (size) chunks.push(chunk.subarray(0, size));
      chunk = Buffer.allocUnsafeSlow(Math.max(CHUNK_BYTES, need));
      size = 0;
    }
    size += r.arena.copy(chunk, size, r.start, r.end);
    size += chunk.write(end, size, 'utf8');
  }
  if (size) chunks.push(chunk.subarray(0, size));
  return chunks;
}

/** What a loader of one file or platform window keeps between its batches. */
export interface LoaderState {
  outlook: KeyOutlook;
  register: RegisterCache;
  origins: OriginIds;
  /** The bulk path of a transaction that loads a whole file (see BulkLoad); absent for platform batches. */
  bulk?: BulkLoad;
}

/**
 * The bulk path of one transaction (a whole drop file): a resource whose table is empty when the file's first
 * records for it arrive is loaded without its secondary indexes, which are built again, once, before the
 * transaction commits — PostgreSQL's "populating a database" (docs/warehouse-v2.md measured a typed table's
 * COPY at 3.1 s with the key alone against 4.5–4.9 s with the three indexes, for 200,000 rows; building them
 * after took 0.5–0.6 s). The primary key stays: it refuses a duplicate as ever. The table is locked against
 * other writers until the commit (another loader of the same resource waits, then finds it no longer empty)
 * and, while its indexes are gone, against readers too: harmless for a first load. A failure or SIGKILL rolls
 * the drop back with everything else.
 */
export class BulkLoad {
  private readonly checked = new Set<string>();
  private readonly dropped: TableLayout[] = [];

  /** Before the first direct COPY of `layout`'s records in this transaction. */
  async prepare(tx: SqlTx, layout: TableLayout): Promise<void> {
    if (this.checked.has(layout.tableName)) return;
    this.checked.add(layout.tableName);
    const empty = async () =>
      (await tx.query<{ empty: boolean }>(`SELECT NOT EXISTS (SELECT 1 FROM ${layout.table}) AS empty`))
        .rows[0]?.empty === true;
    if (!(await empty())) return;
    await tx.query(`LOCK TABLE ${layout.table} IN SHARE ROW EXCLUSIVE MODE`);
    // another loader may have filled it while we waited for the lock
    if (!(await empty())) return;
    for (const index of typedTable(layout.resource).indexes)
      await tx.query(`DROP INDEX IF EXISTS "${index.name}"`);
    this.dropped.push(layout);
  }

  /** Builds the indexes dropped by {@link prepare} again; to run last in the transaction, before its commit. */
  async finish(tx: SqlTx): Promise<void> {
    for (const layout of this.dropped.splice(0)) {
      for (const index of typedTable(layout.resource).indexes) await tx.query(index.sql);
      // the planner's statistics of a table that went from empty to full
      await tx.query(`ANALYZE ${layout.table}`);
    }
  }

  /** Whether indexes wait to be built again. */
  get pending(): boolean {
    return this.dropped.length > 0;
  }
}

export function loaderState(): LoaderState {
  return { outlook: new KeyOutlook(), register: new RegisterCache(), origins: new OriginIds() };
}

/**
 * Loads one batch in one transaction, all or nothing — so a run killed at any moment leaves whole batches
 * only. While the loader expects new keys (see KeyOutlook) the batch is COPYed straight into the typed tables;
 * otherwise, or when that COPY is refused, the warehouse is asked once which keys it holds and with what
 * content hash; then
 * - an unchanged record (same hash) is not written at all;
 * - a new record is COPYed straight into its table, matched against the register beforehand;
 * - a changed record (and every row of the enterprise register) goes through a temporary staging table: the
 *   previous version is kept in history and one `INSERT … ON CONFLICT DO UPDATE` merges them.
 * The rejected rows go to quarantine and the counts to the run ledger in the same transaction.
 */
export async function loadBatch(
  db: Warehouse,
  runId: number,
  batch: Batch,
  /** What the loader of this file or window has learnt so far (see KeyOutlook, RegisterCache, OriginIds). */
  state: LoaderState,
): Promise<BatchCounts> {
  try {
    return await db.transaction((tx) => loadInTransaction(tx, runId, batch, false, state));
  } catch (error) {
    // an origin inserted by the failed transaction is gone with it
    state.origins.forget();
    // another loader inserted one of our new keys since we looked: merge the whole batch instead
    if (sqlState(error) === '23505') {
      try {
        return await db.transaction((tx) => loadInTransaction(tx, runId, batch, true, state));
      } catch (again) {
        state.origins.forget();
        throw again;
      }
    }
    throw error;
  }
}

/**
 * Whether a loader expects its next batch's keys to be new to the warehouse (a first load: a new file, a
 * backfill, the nightly pull of new records). Then the batch is COPYed without asking first which keys are
 * stored — the question costs the warehouse a primary-key probe a record, about as much as a seventh of the
 * load. A refused COPY (a key is stored after all) is rolled back to its savepoint and the batch takes the
 * asking path; the loader then asks again until a batch finds none of its keys stored.
 */
export class KeyOutlook {
  private expectNew = true;

  get optimistic(): boolean {
    return this.expectNew;
  }

  /** What the last batch learnt: how many of its keys the warehouse held. */
  learn(stored: number): void {
    this.expectNew = stored === 0;
  }
}

/**
 * The register's current normalised name of each credit code a loader has asked about (null: the code is not
 * in the register), so that the thousands of records of one enterprise do not each ask again. It lives as
 * long as one file or platform window, forgets everything when a batch loads register rows itself, and at
 * least once a minute, so that register rows another process loads meanwhile are seen within a minute.
 */
export class RegisterCache {
  private readonly names = new Map<string, string | null>();
  private since = Date.now();

  constructor(
    private readonly capacity = 200_000,
    private readonly maxAgeMs = 60_000,
  ) {}

  forget(): void {
    this.names.clear();
    this.since = Date.now();
  }

  async lookup(tx: SqlTx, codes: readonly string[]): Promise<Map<string, string | null>> {
    if (Date.now() - this.since > this.maxAgeMs) this.forget();
    const missing = codes.filter((c) => !this.names.has(c));
    if (missing.length) {
      if (this.names.size + missing.length > this.capacity) this.forget();
      const rows = await tx.query<{ uscc: string; name_norm: string | null }>(
        'SELECT uscc, name_norm FROM enterprises WHERE uscc = ANY($1::text[])',
        [missing],
      );
      for (const c of missing) this.names.set(c, UNKNOWN);
      for (const row of rows.rows) this.names.set(row.uscc, row.name_norm);
    }
    const known = new Map<string, string | null>();
    for (const c of codes) {
      const name = this.names.get(c);
      if (name !== UNKNOWN && name !== undefined) known.set(c, name);
    }
    return known;
  }
}

/** A code the register does not hold (a string no normalised name can be: it holds a NUL). */
const UNKNOWN = '\u0000unknown';

/**
 * The id of each origin (file, stream) a loader has written records of. Asked once per origin; an origin
 * inserted by a transaction that then failed is forgotten with it ({@link forget}).
 */
export class OriginIds {
  private readonly ids = new Map<string, number>();

  forget(): void {
    this.ids.clear();
  }

  async idOf(tx: SqlTx, runId: number, source: string, origin: Origin): Promise<number> {
    const key = `${source}\u0000${origin.key}`;
    const known = this.ids.get(key);
    if (known !== undefined) return known;
    // a plain read first: the row is there after the first batch, and a read takes no lock
    const select = () =>
      tx.query<{ id: string }>('SELECT id FROM origins WHERE source = $1 AND key = $2', [source, origin.key]);
    let [row] = (await select()).rows;
    if (!row) {
      [row] = (
        await tx.query<{ id: string }>(
          `INSERT INTO origins (source, kind, key, name, first_run_id) VALUES ($1, $2, $3, $4, $5)
           ON CONFLICT (source, key) DO NOTHING RETURNING id`,
          [source, origin.kind, origin.key, origin.name, runId],
        )
      ).rows;
      row ??= (await select()).rows[0];
    }
    if (!row)
      throw new GuijiError('GUIJI_ERR_DB', `the origin ${origin.name} of ${source} could not be recorded`);
    const id = Number(row.id);
    this.ids.set(key, id);
    return id;
  }
}

/** The pending records of a batch by resource, in the order they came. */
function byResource(records: readonly PendingRecord[]): Map<string, PendingRecord[]> {
  const groups = new Map<string, PendingRecord[]>();
  for (const r of records) {
    const group = groups.get(r.resource);
    if (group) group.push(r);
    else groups.set(r.resource, [r]);
  }
  return groups;
}

async function loadInTransaction(
  tx: SqlTx,
  runId: number,
  batch: Batch,
  stageEverything: boolean,
  state: LoaderState,
): Promise<BatchCounts> {
  const { outlook, register } = state;
  const counts: BatchCounts = {
    read: batch.size,
    inserted: 0,
    updated: 0,
    unchanged: batch.unchanged,
    quarantined: batch.quarantined.length,
    duplicates: batch.duplicates.length,
    unmatched: batch.unchangedUnmatched,
  };
  const records = batch.pending;
  const { catalog } = batch;
  const registers = new Set([...catalog.resources.values()].filter((r) => r.register).map((r) => r.id));
  const registerRows = records.some((r) => registers.has(r.resource));
  if (registerRows) register.forget();
  const write: Write = {
    runId,
    originId: records.length ? await state.origins.idOf(tx, runId, batch.source, batch.origin) : 0,
    cityPrefix: catalog.region.cityPrefix,
  };
  let loaded = false;
  if (records.length && outlook.optimistic && !stageEverything && !registerRows) {
    // an empty table of a whole-file load goes without its secondary indexes until the file is in; outside the
    // savepoint, which would bring them back with a refused COPY
    if (state.bulk)
      for (const resource of byResource(records).keys()) await state.bulk.prepare(tx, batch.layout(resource));
    // every key new, as the last batch's were: COPY at once; a stored key refuses the COPY, undone to here
    await tx.query('SAVEPOINT guiji_direct');
    try {
      let unmatched = 0;
      for (const [resource, group] of byResource(records))
        unmatched += await copyDirect(tx, write, batch.layout(resource), group, register);
      await tx.query('RELEASE SAVEPOINT guiji_direct');
      counts.unmatched += unmatched;
      loaded = true;
    } catch (error) {
      if (sqlState(error) !== '23505') throw error;
      await tx.query('ROLLBACK TO SAVEPOINT guiji_direct');
      outlook.learn(1);
    }
    if (loaded) {
      counts.inserted += records.length;
      counts.unmatched = await matchBatch(tx, runId, records, catalog, counts.unmatched, []);
    }
  }
  if (records.length && !loaded) {
    const staged: PendingRecord[] = [];
    let stored = 0;
    // the register's rows first: the records beside them in the batch are matched against what they bring
    const groups = [...byResource(records)].sort(
      ([a], [b]) => Number(registers.has(b)) - Number(registers.has(a)),
    );
    for (const [resource, group] of groups) {
      const layout = batch.layout(resource);
      const existing = await storedHashes(tx, layout, group);
      stored += existing.size;
      const direct: PendingRecord[] = [];
      const changed: PendingRecord[] = [];
      const same: PendingRecord[] = [];
      const register = registers.has(resource);
      for (const r of group) {
        const hash = existing.get(r.naturalKey);
        if (hash === r.contentHash) same.push(r);
        else if (hash !== undefined || stageEverything || register) changed.push(r);
        else direct.push(r);
      }
      counts.unchanged += same.length;
      if (changed.length) {
        const merged = await mergeStaged(tx, write, layout, changed);
        counts.inserted += merged.inserted;
        counts.updated += merged.updated;
        counts.unmatched += merged.unmatched;
        staged.push(...changed);
      }
      if (same.length) {
        const known = await state.register.lookup(tx, codesOf(same));
        for (const r of same) if (r.uscc === null || !known.has(r.uscc)) counts.unmatched++;
      }
      if (direct.length) {
        counts.unmatched += await copyDirect(tx, write, layout, direct, state.register);
        counts.inserted += direct.length;
      }
    }
    outlook.learn(stored);
    // matching beyond the exact credit code (legacy ids, names, the review queue); the score and flags of the
    // records merged through staging (the direct ones have theirs)
    counts.unmatched = await matchBatch(tx, runId, records, catalog, counts.unmatched, staged);
  }

  const rejected = [...batch.quarantined, ...batch.duplicates];
  if (rejected.length) await insertQuarantine(tx, runId, rejected);
  await tx.query(
    `UPDATE source_runs SET read = read + $3, inserted = inserted + $4, updated = updated + $5,
            unchanged = unchanged + $6, quarantined = quarantined + $7, duplicates = duplicates + $8,
            unmatched = unmatched + $9
     WHERE run_id = $1 AND source = $2`,
    [
      runId,
      batch.source,
      counts.read,
      counts.inserted,
      counts.updated,
      counts.unchanged,
      counts.quarantined,
      counts.duplicates,
      counts.unmatched,
    ],
  );
  if (batch.finalize) await batch.finalize(tx);
  return counts;
}

/** What every write of one batch shares. */
interface Write {
  runId: number;
  originId: number;
  /** The division-code prefix of the city's own registrations (catalog `region.cityPrefix`). */
  cityPrefix: string;
}

function codesOf(records: readonly PendingRecord[]): string[] {
  return [...new Set(records.map((r) => r.uscc).filter((u): u is string => u !== null))];
}

/** The content hash of each of `records` the table holds, by natural key: one primary-key probe a record. */
async function storedHashes(
  tx: SqlTx,
  layout: TableLayout,
  records: readonly PendingRecord[],
): Promise<Map<string, string>> {
  const { rows } = await tx.query<{ natural_key: string; content_hash: string }>(
    `SELECT k.natural_key, r.content_hash
     FROM unnest($1::text[], $2::text[]) AS k(uscc, natural_key)
     CROSS JOIN LATERAL (SELECT content_hash FROM ${layout.table} t
                         WHERE t.uscc = k.uscc AND t.natural_key = k.natural_key) r`,
    [records.map((r) => r.uscc ?? ''), records.map((r) => r.naturalKey)],
  );
  return new Map(rows.map((row) => [row.natural_key, row.content_hash]));
}

/**
 * COPYs new records straight into their table, with their match method, score and flags (the register's
 * current and former names decide name_mismatch): no second pass over what was just written. Returns how
 * many of them are unmatched by their credit code.
 */
async function copyDirect(
  tx: SqlTx,
  write: Write,
  layout: TableLayout,
  direct: readonly PendingRecord[],
  register: RegisterCache,
): Promise<number> {
  const known = await register.lookup(tx, codesOf(direct));
  // a name other than the current one may be a former name: asked only for those
  const other = direct.filter(
    (r) =>
      r.uscc !== null && r.subjectNorm !== null && known.has(r.uscc) && known.get(r.uscc) !== r.subjectNorm,
  );
  const former = new Set<string>();
  if (other.length) {
    const rows = await tx.query<{ uscc: string; name_norm: string }>(
      `SELECT p.uscc, p.name_norm FROM unnest($1::text[], $2::text[]) AS p(uscc, name_norm)
       WHERE EXISTS (SELECT 1 FROM enterprise_names h WHERE h.uscc = p.uscc AND h.name_norm = p.name_norm)`,
      [other.map((r) => r.uscc), other.map((r) => r.subjectNorm)],
    );
    for (const row of rows.rows) former.add(`${row.uscc}\u0000${row.name_norm}`);
  }
  let unmatched = 0;
  const runs = `\t${write.runId}\t${write.runId}\n`;
  const origin = `\t${write.originId}`;
  await tx.copyText(
    layout.tableName,
    layout.copyColumns,
    chunksOf(direct, (r) => {
      const matched = r.uscc !== null && known.has(r.uscc);
      if (!matched) {
        unmatched++;
        return r.uscc !== null && r.uscc.slice(2, 6) !== write.cityPrefix
          ? `${origin}\t\\N\t\\N\t\\N\t{out_of_region}${runs}`
          : `${origin}\t\\N\t\\N\t\\N\t{}${runs}`;
      }
      const uscc = r.uscc as string;
      const flags = [];
      if (uscc.slice(2, 6) !== write.cityPrefix) flags.push('out_of_region');
      if (
        r.subjectNorm !== null &&
        known.get(uscc) !== r.subjectNorm &&
        !former.has(`${uscc}\u0000${r.subjectNorm}`)
      ) {
        flags.push('name_mismatch');
      }
      return `${origin}\t${uscc}\tuscc\t1\t{${flags.join(',')}}${runs}`;
    }),
  );
  return unmatched;
}

/** The temporary staging table of a layout (its name, unquoted): its line columns, no key, emptied at commit. */
async function stagingOf(tx: SqlTx, layout: TableLayout): Promise<string> {
  // named by the table and its columns: a catalog that gained a field in this session gets a new one
  const suffix = createHash('sha256').update(layout.lineColumns.join(',')).digest('hex').slice(0, 12);
  const staging = `guiji_stage_${layout.resource.id}_${suffix}`;
  await tx.query(
    `CREATE TEMP TABLE IF NOT EXISTS ${staging} ON COMMIT DELETE ROWS AS
     SELECT ${layout.lineColumns.map((c) => `"${c}"`).join(', ')} FROM ${layout.table} WITH NO DATA`,
  );
  // a file's batches share one transaction: the rows an earlier batch staged are still there
  await tx.query(`TRUNCATE ${staging}`);
  return staging;
}

/** New versions of known records (and register rows): history, then one merge by key. */
async function mergeStaged(
  tx: SqlTx,
  write: Write,
  layout: TableLayout,
  staged: readonly PendingRecord[],
): Promise<{ inserted: number; updated: number; unmatched: number }> {
  const staging = await stagingOf(tx, layout);
  await tx.copyText(
    staging,
    layout.lineColumns,
    chunksOf(staged, () => '\n'),
  );
  const resource = layout.resource;
  if (resource.register) await mergeEnterprises(tx, write.runId, resource, staging);
  const def = typedTable(resource);
  await tx.query(
    `INSERT INTO record_history (resource, natural_key, record_id, version, schema_version, content_hash, data,
                                 provenance, run_id, changed_at, superseded_by_run)
     SELECT $2, r.natural_key, r.record_id, r.version, r.schema_version, r.content_hash, ${recordJsonSql(def, 'r')},
            ${provenanceSql('r', 'o')}, r.run_id, r.changed_at, $1
     FROM ${layout.table} r JOIN ${staging} s ON s.uscc = r.uscc AND s.natural_key = r.natural_key
     LEFT JOIN origins o ON o.id = r.origin_id
     WHERE r.content_hash <> s.content_hash`,
    [write.runId, resource.id],
  );
  const columns = layout.lineColumns.map((c) => `"${c}"`);
  const merged = await tx.query<{ inserted: string; updated: string; unmatched: string }>(
    `WITH s AS (
       SELECT s.*, (e.uscc IS NOT NULL) AS known
       FROM ${staging} s LEFT JOIN enterprises e ON e.uscc = s.uscc
     ), up AS (
       INSERT INTO ${layout.table} AS r (${columns.join(', ')}, origin_id, matched_uscc, match_method, match_score,
                                         first_run_id, run_id)
       SELECT ${columns.map((c) => `s.${c}`).join(', ')}, $2,
              CASE WHEN s.known THEN s.uscc END, CASE WHEN s.known THEN 'uscc' END,
              CASE WHEN s.known THEN 1 END, $1, $1
       FROM s
       ON CONFLICT (uscc, natural_key) DO UPDATE SET
         version = r.version + 1,
         ${columns
           .filter((c) => c !== '"uscc"' && c !== '"natural_key"')
           .map((c) => `${c} = EXCLUDED.${c}`)
           .join(', ')},
         origin_id = EXCLUDED.origin_id, matched_uscc = EXCLUDED.matched_uscc,
         match_method = EXCLUDED.match_method, match_score = EXCLUDED.match_score,
         run_id = EXCLUDED.run_id, changed_at = now()
       WHERE r.content_hash <> EXCLUDED.content_hash
       RETURNING (xmax = 0) AS inserted
     )
     SELECT (SELECT count(*) FROM up WHERE inserted) AS inserted,
            (SELECT count(*) FROM up WHERE NOT inserted) AS updated,
            (SELECT count(*) FROM s WHERE NOT known) AS unmatched`,
    [write.runId, write.originId],
  );
  const row = merged.rows[0];
  return {
    inserted: Number(row?.inserted ?? 0),
    updated: Number(row?.updated ?? 0),
    unmatched: Number(row?.unmatched ?? 0),
  };
}

async function insertQuarantine(tx: SqlTx, runId: number, rejected: readonly RejectedRow[]): Promise<void> {
  // One INSERT … ON CONFLICT may not touch a row twice: two rows of one batch under one reference would fail
  // the whole file. The sources make references unique; should one repeat anyway, it is kept apart, not lost.
  const refs = new Set<string>();
  for (const r of rejected) {
    let ref = r.rowRef;
    for (let n = 2; refs.has(ref); n++) ref = `${r.rowRef}~${n}`;
    refs.add(ref);
    if (ref !== r.rowRef) r.rowRef = ref;
  }
  await tx.query(
    `INSERT INTO quarantine (row_ref, source, resource, file, sha256, sheet, row_number, record_id, raw, issues, run_id)
     SELECT x.row_ref, x.source, x.resource, x.file, x.sha256, x.sheet, x.row_number, x.record_id, x.raw, x.issues, $2
     FROM jsonb_to_recordset($1::jsonb) AS x(row_ref text, source text, resource text, file text, sha256 text,
                                             sheet text, row_number integer, record_id text, raw jsonb, issues jsonb)
     ON CONFLICT (row_ref) DO UPDATE SET issues = EXCLUDED.issues, raw = EXCLUDED.raw, run_id = EXCLUDED.run_id`,
    [
      JSON.stringify(
        rejected.map((r) => ({
          row_ref: r.rowRef,
          source: r.provenance.source,
          resource: r.resource,
          file: r.provenance.file ?? null,
          sha256: r.provenance.sha256 ?? null,
          sheet: r.provenance.sheet ?? null,
          row_number: r.provenance.row ?? null,
          record_id: r.provenance.recordId ?? null,
          raw: r.raw,
          issues: r.issues,
        })),
      ),
      runId,
    ],
  );
}

/** Records of the enterprise register also maintain the `enterprises` table that matching reads. */
async function mergeEnterprises(
  tx: SqlTx,
  runId: number,
  enterprise: Resource,
  staging: string,
): Promise<void> {
  const f = enterprise.register;
  if (!f) return;
  const have = new Set(enterprise.current.fields.map((field) => field.code));
  // a register field the current version lacks reads as NULL; column names come from the catalog
  const col = (code: string | undefined, type = 'text') =>
    code && have.has(code) ? `s."${columnOf(code)}"` : `NULL::${type}`;
  await tx.query(
    `INSERT INTO enterprises (uscc, name, reg_no, org_code, legal_rep, reg_date, status, address, run_id)
     SELECT DISTINCT ON (s.uscc) s.uscc, ${col(f.name)}, ${col(f.regNo)}, substr(s.uscc, 9, 9), ${col(f.legalRep)},
            ${col(f.regDate, 'date')}::date, ${col(f.status)}, ${col(f.address)}, $1
     FROM ${staging} s
     WHERE s.uscc <> ''
     ON CONFLICT (uscc) DO UPDATE SET name = EXCLUDED.name, reg_no = EXCLUDED.reg_no, legal_rep = EXCLUDED.legal_rep,
       reg_date = EXCLUDED.reg_date, status = EXCLUDED.status, address = EXCLUDED.address, run_id = EXCLUDED.run_id,
       updated_at = now()
     WHERE (enterprises.name, enterprises.reg_no, enterprises.legal_rep, enterprises.reg_date, enterprises.status,
            enterprises.address) IS DISTINCT FROM
           (EXCLUDED.name, EXCLUDED.reg_no, EXCLUDED.legal_rep, EXCLUDED.reg_date, EXCLUDED.status, EXCLUDED.address)`,
    [runId],
  );
}

/**
 * One batch in flight: the next batch is read and validated while the database commits this one. Batches
 * still commit one after the other, each whole or not at all; a failure surfaces at the next `submit` or
 * `settle`.
 */
export class BatchQueue {
  private inflight: Promise<void> | null = null;
  private readonly state = loaderState();

  constructor(
    private readonly db: Warehouse,
    private readonly runId: number,
  ) {}

  /** Waits for the batch before, then starts loading this one; `committed` runs with its counts. */
  async submit(batch: Batch, committed: (counts: BatchCounts) => void): Promise<void> {
    await this.settle();
    const loading = loadBatch(this.db, this.runId, batch, this.state).then(committed);
    loading.catch(() => {
      // observed by settle()
    });
    this.inflight = loading;
  }

  /** Waits for the batch in flight, rethrowing its failure. */
  async settle(): Promise<void> {
    const loading = this.inflight;
    this.inflight = null;
    if (loading) await loading;
  }
}

/**
 * The batches of one file, loaded as statement groups of ONE transaction that the caller holds: the file
 * commits whole — its records, quarantined rows, ledger counts and its own `drop_files` row — or not at all.
 * As in BatchQueue, the next batch is read and validated while this one is written. Every other question the
 * file asks meanwhile (the raw-digest probes) goes through `query` and takes its turn between two groups: the
 * embedded warehouse has one connection (a query beside the transaction would wait for it forever), and a
 * question slipped in between a savepoint and its rollback would meet an aborted transaction.
 */
export class TransactionBatches {
  private inflight: Promise<void> | null = null;
  private tail: Promise<unknown> = Promise.resolve();
  private closed = false;
  private readonly state: LoaderState;

  constructor(
    private readonly tx: SqlTx,
    private readonly runId: number,
    /** Use the bulk path (see BulkLoad) for tables empty when the file starts. */
    options: { bulk?: boolean } = {},
  ) {
    this.state = loaderState();
    if (options.bulk) this.state.bulk = new BulkLoad();
  }

  /**
   * The file's last statements, once every batch is written and before the commit: the indexes of the tables
   * the bulk path loaded are built again. Without it a bulk-loaded file refuses to end (see close).
   */
  async finish(): Promise<void> {
    await this.settle();
    const { bulk } = this.state;
    if (bulk) await this.turn((tx) => bulk.finish(tx));
  }

  private turn<T>(fn: (tx: SqlTx) => Promise<T>): Promise<T> {
    const run = this.tail
      .then(() => {
        if (this.closed) throw new GuijiError('GUIJI_ERR_LOAD', 'the file transaction has ended');
        return fn(this.tx);
      })
      .catch((error: unknown) => {
        // said where it happened: the caller tells a lost connection from a fault of the file's bytes
        throw error instanceof GuijiError
          ? error
          : new GuijiError('GUIJI_ERR_DB', `the warehouse refused a batch: ${messageOf(error)}`, {
              cause: error,
            });
      });
    this.tail = run.catch(() => {
      // the caller observes it; the next turn runs regardless
    });
    return run;
  }

  /** A read in the file's transaction, between two batches. */
  async query<T>(sql: string, params?: unknown[]): Promise<T[]> {
    return (await this.turn((tx) => tx.query<T>(sql, params))).rows;
  }

  /** Waits for the batch before, then starts writing this one; `written` runs with its counts. */
  async submit(batch: Batch, written: (counts: BatchCounts) => void): Promise<void> {
    await this.settle();
    const loading = this.turn((tx) => loadInTransaction(tx, this.runId, batch, false, this.state)).then(
      written,
    );
    loading.catch(() => {
      // observed by settle()
    });
    this.inflight = loading;
  }

  /** Waits for the batch in flight, rethrowing its failure. */
  async settle(): Promise<void> {
    const loading = this.inflight;
    this.inflight = null;
    if (loading) await loading;
  }

  /** Waits for every statement under way and refuses new ones: the transaction may then end. */
  async close(): Promise<void> {
    this.closed = true;
    await this.tail;
  }
}
