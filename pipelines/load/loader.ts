import type { Resource } from '../../catalog/load.js';
import type { SqlTx, Warehouse } from '../../lib/db.js';
import type { Issue, Provenance } from '../../lib/types.js';
import type { ValidRecord } from '../validate/row-validator.js';
import { copyRow } from './copy-text.js';

/** A rejected row: its identity (stable across re-runs of the same input), the row as received and every issue. */
export interface RejectedRow {
  rowRef: string;
  resource: string | null;
  provenance: Provenance;
  raw: Record<string, unknown>;
  issues: Issue[];
}

/**
 * The rows of one transaction. Valid records are turned into COPY text as they arrive, in ~64 KB buffers
 * (one write per row halves COPY throughput), so a batch holds bytes, not row objects.
 */
export class Batch {
  records = 0;
  readonly quarantined: RejectedRow[] = [];
  readonly duplicates: RejectedRow[] = [];
  /** Work to commit with the batch (a file marked done, a cursor moved). */
  finalize?: (tx: SqlTx) => Promise<void>;
  private readonly chunks: Buffer[] = [];
  private text = '';

  constructor(
    readonly source: string,
    private readonly resources: ReadonlyMap<string, Resource>,
  ) {}

  get size(): number {
    return this.records + this.quarantined.length + this.duplicates.length;
  }

  addRecord(record: ValidRecord, provenance: Provenance): void {
    this.text += copyRow([
      record.resource,
      record.naturalKey,
      record.schemaVersion,
      record.contentHash,
      record.json,
      record.uscc,
      record.subjectName,
      record.department,
      record.producedDate,
      this.resources.get(record.resource)?.disclosure ?? null,
      this.source,
      JSON.stringify(provenance),
    ]);
    this.records++;
    if (this.text.length >= 1 << 15) {
      this.chunks.push(Buffer.from(this.text, 'utf8'));
      this.text = '';
    }
  }

  /** The COPY text of the records, in ~64 KB buffers. */
  copyChunks(): Buffer[] {
    if (this.text) {
      this.chunks.push(Buffer.from(this.text, 'utf8'));
      this.text = '';
    }
    return this.chunks;
  }
}

export interface BatchCounts {
  read: number;
  inserted: number;
  updated: number;
  unchanged: number;
  quarantined: number;
  duplicates: number;
  unmatched: number;
}

const STAGING_COLUMNS = [
  'resource',
  'natural_key',
  'schema_version',
  'content_hash',
  'data',
  'uscc',
  'subject_name',
  'department',
  'produced_date',
  'disclosure',
  'source',
  'provenance',
] as const;

/**
 * Loads one batch in one transaction: COPY the valid records into a temporary staging table, keep the
 * previous version of every changed record in history, merge by natural key (an unchanged record is not
 * rewritten), file the rejected rows in quarantine, and add the batch's counts to the run ledger — all or
 * nothing, so a run killed at any moment leaves whole batches only.
 */
export async function loadBatch(
  db: Warehouse,
  runId: number,
  batch: Batch,
  resources: ReadonlyMap<string, Resource>,
): Promise<BatchCounts> {
  const chunks = batch.copyChunks();
  return db.transaction(async (tx) => {
    let inserted = 0;
    let updated = 0;
    let unmatched = 0;
    if (batch.records) {
      await tx.query(
        `CREATE TEMP TABLE IF NOT EXISTS guiji_staging (
           resource text, natural_key text, schema_version text, content_hash text, data jsonb, uscc text,
           subject_name text, department text, produced_date date, disclosure text, source text, provenance jsonb
         ) ON COMMIT DELETE ROWS`,
      );
      await tx.copyText('guiji_staging', STAGING_COLUMNS, chunks);
      await mergeEnterprises(tx, runId, resources.get('enterprise'));
      await tx.query(
        `INSERT INTO record_history (resource, natural_key, version, schema_version, content_hash, data, provenance,
                                     run_id, changed_at, superseded_by_run)
         SELECT r.resource, r.natural_key, r.version, r.schema_version, r.content_hash, r.data, r.provenance,
                r.run_id, r.changed_at, $1
         FROM records r JOIN guiji_staging s ON s.resource = r.resource AND s.natural_key = r.natural_key
         WHERE r.content_hash <> s.content_hash`,
        [runId],
      );
      const merged = await tx.query<{ inserted: string; updated: string }>(
        `WITH up AS (
           INSERT INTO records (resource, natural_key, version, schema_version, content_hash, data, uscc, subject_name,
                                department, produced_date, disclosure, match_method, source, provenance,
                                first_run_id, run_id)
           SELECT s.resource, s.natural_key, 1, s.schema_version, s.content_hash, s.data, s.uscc, s.subject_name,
                  s.department, s.produced_date, s.disclosure,
                  CASE WHEN e.uscc IS NOT NULL THEN 'uscc' END, s.source, s.provenance, $1, $1
           FROM guiji_staging s LEFT JOIN enterprises e ON e.uscc = s.uscc
           ON CONFLICT (resource, natural_key) DO UPDATE SET
             version = records.version + 1, schema_version = EXCLUDED.schema_version,
             content_hash = EXCLUDED.content_hash, data = EXCLUDED.data, uscc = EXCLUDED.uscc,
             subject_name = EXCLUDED.subject_name, department = EXCLUDED.department,
             produced_date = EXCLUDED.produced_date, disclosure = EXCLUDED.disclosure,
             match_method = EXCLUDED.match_method, source = EXCLUDED.source, provenance = EXCLUDED.provenance,
             run_id = EXCLUDED.run_id, changed_at = now()
           WHERE records.content_hash <> EXCLUDED.content_hash
           RETURNING (xmax = 0) AS inserted
         )
         SELECT count(*) FILTER (WHERE inserted) AS inserted, count(*) FILTER (WHERE NOT inserted) AS updated FROM up`,
        [runId],
      );
      inserted = Number(merged.rows[0]?.inserted ?? 0);
      updated = Number(merged.rows[0]?.updated ?? 0);
      const unmatchedRows = await tx.query<{ n: string }>(
        `SELECT count(*) AS n FROM guiji_staging s
         WHERE s.uscc IS NULL OR NOT EXISTS (SELECT 1 FROM enterprises e WHERE e.uscc = s.uscc)`,
      );
      unmatched = Number(unmatchedRows.rows[0]?.n ?? 0);
    }

    const rejected = [...batch.quarantined, ...batch.duplicates];
    if (rejected.length) {
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

    const counts: BatchCounts = {
      read: batch.size,
      inserted,
      updated,
      unchanged: batch.records - inserted - updated,
      quarantined: batch.quarantined.length,
      duplicates: batch.duplicates.length,
      unmatched,
    };
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
  });
}

/** Records of the enterprise register also maintain the `enterprises` table that matching reads. */
async function mergeEnterprises(tx: SqlTx, runId: number, enterprise: Resource | undefined): Promise<void> {
  if (!enterprise?.register) return;
  const f = enterprise.register;
  await tx.query(
    `INSERT INTO enterprises (uscc, name, reg_no, org_code, legal_rep, reg_date, status, address, run_id)
     SELECT DISTINCT ON (s.uscc) s.uscc, s.data->>$2, s.data->>$3, substr(s.uscc, 9, 9), s.data->>$4,
            (s.data->>$5)::date, s.data->>$6, s.data->>$7, $1
     FROM guiji_staging s
     WHERE s.resource = $8 AND s.uscc IS NOT NULL
     ON CONFLICT (uscc) DO UPDATE SET name = EXCLUDED.name, reg_no = EXCLUDED.reg_no, legal_rep = EXCLUDED.legal_rep,
       reg_date = EXCLUDED.reg_date, status = EXCLUDED.status, address = EXCLUDED.address, run_id = EXCLUDED.run_id,
       updated_at = now()
     WHERE (enterprises.name, enterprises.reg_no, enterprises.legal_rep, enterprises.reg_date, enterprises.status,
            enterprises.address) IS DISTINCT FROM
           (EXCLUDED.name, EXCLUDED.reg_no, EXCLUDED.legal_rep, EXCLUDED.reg_date, EXCLUDED.status, EXCLUDED.address)`,
    [
      runId,
      f.name,
      f.regNo ?? '',
      f.legalRep ?? '',
      f.regDate ?? '',
      f.status ?? '',
      f.address ?? '',
      enterprise.id,
    ],
  );
}
