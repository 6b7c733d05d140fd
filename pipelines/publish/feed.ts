import { mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tableOf } from '../../catalog/columns.js';
import type { Catalog, Resource } from '../../catalog/load.js';
import type { SqlTx, Warehouse } from '../../lib/db.js';
import { GuijiError } from '../../lib/errors.js';
import { shanghaiIso, shanghaiIsoOrNull } from '../../lib/time.js';
import { IDENTIFIER, publicFieldsSql } from '../warehouse/views.js';
import { type FeedFileEntry, FeedFilePair } from './feed-file.js';

/**
 * The publication feed (issue 14, item 8): what changed in publication since the last export — records that
 * became public, records withdrawn from publication — written for the national exchange and recorded in
 * `publication_exports`.
 *
 * It reads the publication state's history, `publication_events` (one row per change of a record's state,
 * ids increasing), from the id after the last export's `to_event_id`. Per record, the last event of the range
 * decides: `public` → a publication (the record as the public view shows it today, masked); any other state
 * (withdrawn, suspended, pending) → a withdrawal, when the record was public at the last export (a record that
 * became public and was withdrawn again in between was never sent, and is not). An export with nothing to
 * write is not made: exporting again with nothing changed writes nothing new.
 *
 * Layout: one folder per export, `publish-000001/`, with per resource `<resource>.publish.csv|jsonl` and
 * `<resource>.withdraw.csv|jsonl` (UTF-8, field codes as headers, guiji's own columns named `GUIJI_*`) and
 * `manifest.json` (counts, SHA-256 of each file, the range of events and times it covers). The folder is
 * written under a temporary name and renamed when complete; the export's row commits with it.
 */

/** Records read and written at a time. */
const PAGE = 2000;

export interface ExportSummary {
  id: number;
  exportedAt: string;
  directory: string;
  afterEventId: number;
  toEventId: number;
  published: number;
  withdrawn: number;
}

export interface Manifest {
  export: number;
  exportedAt: string;
  range: { afterEventId: number; toEventId: number; firstEventAt: string | null; lastEventAt: string | null };
  counts: {
    published: number;
    withdrawn: number;
    resources: Record<string, { published: number; withdrawn: number }>;
  };
  files: FeedFileEntry[];
  layout: string;
}

export interface PublishOptions {
  outDir: string;
  /** The export's time (tests fix it). */
  now?: () => Date;
  pageSize?: number;
}

export interface PublishResult {
  /** The export written, or null when nothing changed since the last one. */
  export: (ExportSummary & { manifest: Manifest }) | null;
  lastExport: ExportSummary | null;
}

export interface PublishStatus {
  /** False until the publication state exists (migration 011). */
  publicationTables: boolean;
  exports: ExportSummary[];
  /** The last event a export covered, and the events after it waiting for the next export. */
  exportedToEventId: number;
  waitingEvents: number;
}

const PUBLISH_EXTRA = ['GUIJI_PUBLIC_FROM', 'GUIJI_PUBLIC_UNTIL'];
const WITHDRAW_EXTRA = ['GUIJI_STATE', 'GUIJI_REASON', 'GUIJI_CHANGED_AT'];

/** Writes the changes since the last export into a new folder under `outDir`; see the module comment. */
export async function publishFeed(
  db: Warehouse,
  catalog: Catalog,
  options: PublishOptions,
): Promise<PublishResult> {
  await requirePublicationTables(db);
  const now = options.now ?? (() => new Date());
  return db.transaction(async (tx) => {
    // one export at a time: two would cover the same events
    await tx.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`guiji:${db.schema}:publish`]);
    const last = (await readExports(tx, 1))[0] ?? null;
    const after = last?.toEventId ?? 0;
    const changes = await collectChanges(tx, catalog, after);
    if (changes.count === 0) return { export: null, lastExport: last };
    const exportedAt = now();
    const id = await insertExport(tx, exportedAt, after, changes.toEventId);
    const name = `publish-${String(id).padStart(6, '0')}`;
    const tmp = join(options.outDir, `.${name}.tmp`);
    const final = join(options.outDir, name);
    mkdirSync(tmp, { recursive: true });
    try {
      const files = await writeChanges(tx, catalog, tmp, options.pageSize ?? PAGE);
      const manifest = await manifestOf(tx, id, exportedAt, after, changes.toEventId, files);
      writeFileSync(join(tmp, 'manifest.json'), `${JSON.stringify(manifest, null, 2)}\n`);
      renameSync(tmp, final);
      const summary = await completeExport(tx, id, final, manifest);
      return { export: { ...summary, manifest }, lastExport: last };
    } catch (error) {
      rmSync(tmp, { recursive: true, force: true });
      rmSync(final, { recursive: true, force: true });
      throw error;
    }
  });
}

/** The exports made, newest first, and what waits for the next one. */
export async function publishStatus(db: Warehouse, limit = 20): Promise<PublishStatus> {
  const exports = await db.transaction((tx) => readExports(tx, limit));
  const exportedTo = exports[0]?.toEventId ?? 0;
  if (!(await hasPublicationTables(db)))
    return { publicationTables: false, exports, exportedToEventId: exportedTo, waitingEvents: 0 };
  const [waiting] = await db.query<{ n: string }>(
    'SELECT count(*) AS n FROM publication_events WHERE id > $1',
    [exportedTo],
  );
  return {
    publicationTables: true,
    exports,
    exportedToEventId: exportedTo,
    waitingEvents: Number(waiting?.n ?? 0),
  };
}

async function hasPublicationTables(db: Warehouse): Promise<boolean> {
  const [row] = await db.query<{ ok: boolean }>(
    `SELECT to_regclass('publication') IS NOT NULL AND to_regclass('publication_events') IS NOT NULL AS ok`,
  );
  return row?.ok === true;
}

async function requirePublicationTables(db: Warehouse): Promise<void> {
  if (!(await hasPublicationTables(db)))
    throw new GuijiError(
      'GUIJI_ERR_USAGE',
      '仓库中还没有公示状态（publication、publication_events 表）：请先运行 guiji migrate 并计算公示状态，再导出公示数据',
    );
}

interface ExportRow {
  id: string;
  exported_at: Date | string;
  directory: string;
  after_event_id: string;
  to_event_id: string;
  published: number;
  withdrawn: number;
}

async function readExports(tx: SqlTx, limit: number): Promise<ExportSummary[]> {
  const { rows } = await tx.query<ExportRow>(
    `SELECT id, exported_at, directory, after_event_id, to_event_id, published, withdrawn
     FROM publication_exports WHERE directory <> '' ORDER BY id DESC LIMIT $1`,
    [limit],
  );
  return rows.map((r) => ({
    id: Number(r.id),
    exportedAt: shanghaiIso(r.exported_at),
    directory: r.directory,
    afterEventId: Number(r.after_event_id),
    toEventId: Number(r.to_event_id),
    published: Number(r.published),
    withdrawn: Number(r.withdrawn),
  }));
}

/**
 * The changes of the events after `after`, decided per record, into the temporary table `publish_changes`
 * (read page by page): how many there are and the last event they cover.
 */
async function collectChanges(
  tx: SqlTx,
  catalog: Catalog,
  after: number,
): Promise<{ count: number; toEventId: number }> {
  const [range] = (
    await tx.query<{ to_id: string | null }>(
      'SELECT max(id) AS to_id FROM publication_events WHERE id > $1',
      [after],
    )
  ).rows;
  if (range?.to_id === null || range?.to_id === undefined) return { count: 0, toEventId: after };
  const toEventId = Number(range.to_id);
  const resources = [...catalog.resources.values()].filter((r) => r.disclosure === 'public').map((r) => r.id);
  await tx.query('DROP TABLE IF EXISTS publish_changes');
  await tx.query(
    `CREATE TEMP TABLE publish_changes ON COMMIT DROP AS
     WITH last AS (
       SELECT DISTINCT ON (e.record_id) e.record_id, e.resource, e.state, e.reason, e.at
       FROM publication_events e
       WHERE e.id > $1 AND e.id <= $2 AND e.resource = ANY($3::text[])
       ORDER BY e.record_id, e.id DESC
     )
     SELECT l.*, CASE WHEN l.state = 'public' THEN 'publish' ELSE 'withdraw' END AS kind
     FROM last l
     WHERE l.state = 'public'
        OR (SELECT b.state FROM publication_events b WHERE b.record_id = l.record_id AND b.id <= $1
            ORDER BY b.id DESC LIMIT 1) = 'public'`,
    [after, toEventId, resources],
  );
  const [counted] = (await tx.query<{ n: string }>('SELECT count(*) AS n FROM publish_changes')).rows;
  return { count: Number(counted?.n ?? 0), toEventId };
}

async function insertExport(tx: SqlTx, at: Date, after: number, to: number): Promise<number> {
  const { rows } = await tx.query<{ id: string }>(
    `INSERT INTO publication_exports (exported_at, after_event_id, to_event_id, published, withdrawn, directory, manifest)
     VALUES ($1, $2, $3, 0, 0, '', '{}'::jsonb) RETURNING id`,
    [at, after, to],
  );
  return Number(rows[0]?.id);
}

interface ChangeRow {
  record_id: string;
  resource: string;
  state: string;
  reason: string | null;
  at: Date | string;
  kind: 'publish' | 'withdraw';
}

/** Writes `publish_changes` page by page into each resource's files; their manifest entries. */
async function writeChanges(
  tx: SqlTx,
  catalog: Catalog,
  dir: string,
  pageSize: number,
): Promise<FeedFileEntry[]> {
  const pairs = new Map<string, FeedFilePair>();
  let from = '0';
  for (;;) {
    const { rows } = await tx.query<ChangeRow>(
      `SELECT record_id::text AS record_id, resource, state, reason, at, kind FROM publish_changes
       WHERE record_id > $1 ORDER BY record_id LIMIT $2`,
      [from, pageSize],
    );
    if (rows.length === 0) break;
    from = (rows[rows.length - 1] as ChangeRow).record_id;
    for (const [key, group] of groupBy(rows, (r) => `${r.resource}.${r.kind}`)) {
      const first = group[0] as ChangeRow;
      const resource = catalog.resources.get(first.resource) as Resource;
      let pair = pairs.get(key);
      if (!pair) {
        pair = new FeedFilePair(dir, resource.id, first.kind, headerOf(resource, first.kind));
        pairs.set(key, pair);
      }
      await pair.add(await contentOf(tx, resource, first.kind, group));
    }
  }
  const entries: FeedFileEntry[] = [];
  for (const pair of pairs.values()) entries.push(...(await pair.close()));
  return entries.sort((a, b) => a.name.localeCompare(b.name));
}

function groupBy<T>(items: readonly T[], key: (item: T) => string): Map<string, T[]> {
  const groups = new Map<string, T[]>();
  for (const item of items) {
    const k = key(item);
    const list = groups.get(k);
    if (list) list.push(item);
    else groups.set(k, [item]);
  }
  return groups;
}

/** The fields a withdrawal names the record by: the natural key's fields and the subject's code and name. */
function withdrawFields(resource: Resource): string[] {
  const codes = [
    ...resource.naturalKey.filter((p) => p !== '$subject'),
    resource.subject.uscc,
    resource.subject.name,
  ];
  return [...new Set(codes)].filter((c) => resource.current.fields.some((f) => f.code === c));
}

function headerOf(resource: Resource, kind: ChangeRow['kind']): string[] {
  return kind === 'publish'
    ? ['GUIJI_RECORD_ID', ...resource.current.fields.map((f) => f.code), ...PUBLISH_EXTRA]
    : ['GUIJI_RECORD_ID', ...withdrawFields(resource), ...WITHDRAW_EXTRA];
}

/**
 * The rows of one resource's changes, in header order: the record's fields masked as the public view masks
 * them (the SQL comes from the view generator; column names from the catalog only), then guiji's columns.
 */
async function contentOf(
  tx: SqlTx,
  resource: Resource,
  kind: ChangeRow['kind'],
  changes: readonly ChangeRow[],
): Promise<(string | null)[][]> {
  const table = tableOf(resource.id);
  if (!IDENTIFIER.test(table)) throw new GuijiError('GUIJI_ERR_CATALOG', `not a safe table name: ${table}`);
  // the fields in header order
  const all = publicFieldsSql(resource);
  const byCode = new Map(all.map((f) => [f.code, f]));
  const fields =
    kind === 'publish'
      ? all
      : withdrawFields(resource).map((code) => byCode.get(code) as (typeof all)[number]);
  const { rows } = await tx.query<Record<string, string | null>>(
    `SELECT r.record_id::text AS record_id, ${fields.map((f, i) => `(${f.expr})::text AS c${i}`).join(', ')},
            p.public_from::text AS public_from, p.public_until::text AS public_until
     FROM "${table}" r LEFT JOIN publication p ON p.record_id = r.record_id
     WHERE r.record_id = ANY($1::bigint[])`,
    [changes.map((c) => c.record_id)],
  );
  const byId = new Map(rows.map((r) => [r.record_id, r]));
  const out: (string | null)[][] = [];
  for (const change of changes) {
    const row = byId.get(change.record_id);
    if (!row) continue; // the record is no longer in the warehouse: nothing to send
    const values = [change.record_id, ...fields.map((_, i) => row[`c${i}`] ?? null)];
    out.push(
      kind === 'publish'
        ? [...values, row.public_from ?? null, row.public_until ?? null]
        : [...values, change.state, change.reason, shanghaiIso(change.at)],
    );
  }
  return out;
}

async function manifestOf(
  tx: SqlTx,
  id: number,
  exportedAt: Date,
  after: number,
  to: number,
  files: FeedFileEntry[],
): Promise<Manifest> {
  const [times] = (
    await tx.query<{ first: Date | null; last: Date | null }>(
      'SELECT min(at) AS first, max(at) AS last FROM publication_events WHERE id > $1 AND id <= $2',
      [after, to],
    )
  ).rows;
  const resources: Manifest['counts']['resources'] = {};
  for (const f of files.filter((f) => f.format === 'csv')) {
    const counts = resources[f.resource] ?? { published: 0, withdrawn: 0 };
    if (f.kind === 'publish') counts.published += f.rows;
    else counts.withdrawn += f.rows;
    resources[f.resource] = counts;
  }
  const total = (k: 'published' | 'withdrawn') => Object.values(resources).reduce((n, c) => n + c[k], 0);
  return {
    export: id,
    exportedAt: shanghaiIso(exportedAt),
    range: {
      afterEventId: after,
      toEventId: to,
      firstEventAt: shanghaiIsoOrNull(times?.first),
      lastEventAt: shanghaiIsoOrNull(times?.last),
    },
    counts: { published: total('published'), withdrawn: total('withdrawn'), resources },
    files,
    layout:
      '国家双公示数据交换格式：以字段代码为列名（UTF-8 CSV 与 JSON Lines），GUIJI_* 列为归集系统附加；内容脱敏同公示视图 v_<资源>_public',
  };
}

async function completeExport(
  tx: SqlTx,
  id: number,
  directory: string,
  manifest: Manifest,
): Promise<ExportSummary> {
  await tx.query(
    `UPDATE publication_exports SET published = $2, withdrawn = $3, directory = $4, manifest = $5::jsonb WHERE id = $1`,
    [id, manifest.counts.published, manifest.counts.withdrawn, directory, JSON.stringify(manifest)],
  );
  return {
    id,
    exportedAt: manifest.exportedAt,
    directory,
    afterEventId: manifest.range.afterEventId,
    toEventId: manifest.range.toEventId,
    published: manifest.counts.published,
    withdrawn: manifest.counts.withdrawn,
  };
}
