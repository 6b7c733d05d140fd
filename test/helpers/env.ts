import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'vitest';
import { type Catalog, loadCatalog } from '../../catalog/load.js';
import { type Config, loadConfig } from '../../lib/config.js';
import { openWarehouse, type Warehouse } from '../../lib/db.js';
import { createLogger, type Logger } from '../../lib/logger.js';
import { type RunResult, runPipeline } from '../../pipelines/run.js';
import { migrate } from '../../pipelines/warehouse/migrate.js';
import { prepareWarehouse } from '../../pipelines/warehouse/prepare.js';

/** The PostgreSQL server the integration suite also runs on, when set (CI sets it). */
export const TEST_DATABASE_URL = process.env.GUIJI_TEST_DATABASE_URL || null;
export const WAREHOUSE_KIND = TEST_DATABASE_URL ? 'postgres' : 'pglite';

export interface TestEnv {
  dir: string;
  config: Readonly<Config>;
  /** The variables a child `guiji` process needs to use the same warehouse and drop folder. */
  env: Record<string, string>;
  catalog: Catalog;
  logger: Logger;
  /** The warehouse, prepared as every command that writes prepares it (`{ prepare: false }`: migrations only). */
  open(options?: { prepare?: boolean }): Promise<Warehouse>;
  run(db: Warehouse, sources?: string[]): Promise<RunResult>;
  cleanup(): Promise<void>;
}

/**
 * A warehouse of the test's own: a fresh GUIJI_HOME (PGlite) or a fresh schema on the PostgreSQL server,
 * and a fresh drop folder.
 */
export async function makeEnv(name: string, extraEnv: Record<string, string> = {}): Promise<TestEnv> {
  const dir = mkdtempSync(join(tmpdir(), `guiji-${name}-`));
  // as an installation has it: the run fails (exit 2) on a drop folder that does not exist
  mkdirSync(join(dir, 'drops'));
  const schema = TEST_DATABASE_URL
    ? `t_${name.replace(/\W/g, '_')}_${process.pid}_${Date.now() % 100000}`
    : 'public';
  const env: Record<string, string> = {
    GUIJI_HOME: join(dir, 'home'),
    GUIJI_DROP_DIR: join(dir, 'drops'),
    GUIJI_DB_SCHEMA: schema,
    GUIJI_LOG_LEVEL: 'silent',
    ...(TEST_DATABASE_URL ? { GUIJI_DATABASE_URL: TEST_DATABASE_URL } : {}),
    ...extraEnv,
  };
  const config = loadConfig({ env, cwd: dir });
  const catalog = loadCatalog(config.catalogDir, config.schemasDir);
  const logger = createLogger('silent');
  const open = async (options: { prepare?: boolean } = {}) => {
    const db = await openWarehouse({
      home: config.home,
      databaseUrl: config.databaseUrl,
      schema: config.dbSchema,
    });
    if (options.prepare === false) await migrate(db.knex, db.schema);
    else await prepareWarehouse(db, catalog);
    return db;
  };
  return {
    dir,
    config,
    env,
    catalog,
    logger,
    open,
    run: (db, sources) => runPipeline({ config, db, catalog, logger, ...(sources ? { sources } : {}) }),
    async cleanup() {
      if (TEST_DATABASE_URL) {
        const db = await open();
        try {
          await db.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
        } finally {
          await db.close();
        }
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Every run's ledger balances and no run is left marked running. */
export async function expectLedgerBalanced(db: Warehouse): Promise<void> {
  const unbalanced = await db.query(
    `SELECT * FROM source_runs WHERE read <> inserted + updated + unchanged + quarantined + duplicates`,
  );
  expect(unbalanced).toEqual([]);
  const running = await db.query(`SELECT id FROM runs WHERE status = 'running'`);
  expect(running).toEqual([]);
}

/**
 * The warehouse's content, run ids and timestamps left out: what two runs over the same input must agree on.
 * A drop record's `sjc` is its delivery, the time that warehouse first saw the file (test/clock.integration
 * checks it); a platform record's `sjc` is the platform's own and stays.
 */
export async function snapshot(db: Warehouse): Promise<Record<string, unknown[]>> {
  return {
    records: await db.query(
      `SELECT resource, natural_key, version, schema_version, content_hash, data, uscc, subject_name, department,
              produced_date::text, match_method, source,
              CASE WHEN source = 'drops' THEN provenance - 'sjc' ELSE provenance END AS provenance
       FROM records ORDER BY resource, natural_key`,
    ),
    history: await db.query(
      `SELECT resource, natural_key, version, content_hash FROM record_history ORDER BY resource, natural_key, version`,
    ),
    quarantine: await db.query(
      `SELECT row_ref, resource, file, sheet, row_number, raw, issues FROM quarantine ORDER BY row_ref`,
    ),
    enterprises: await db.query(
      `SELECT uscc, name, reg_no, org_code, legal_rep, reg_date::text, status, address FROM enterprises ORDER BY uscc`,
    ),
    files: await db.query(
      `SELECT sha256, name, status, resources, rows_read, rows_quarantined FROM drop_files ORDER BY sha256`,
    ),
  };
}
