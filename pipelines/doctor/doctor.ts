/**
 * `guiji doctor` (as `dbt debug`): the effective settings with their origin and secrets hidden, then one check
 * per thing a night needs — the catalog, the warehouse reachable and migrated, the drop and report folders, each
 * configured platform answering a signed request. Changes nothing: no folder, warehouse or table is created.
 */
import { accessSync, constants, existsSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { validateCatalog } from '../../catalog/validate.js';
import { DROP_SUBDIRS } from '../../connectors/spreadsheet/drop-folder.js';
import {
  type Config,
  type ExplainedConfig,
  SETTINGS,
  type SettingOrigin,
  shownSetting,
} from '../../lib/config.js';
import { openWarehouse } from '../../lib/db.js';
import { databaseError, messageOf, type WarehouseTarget } from '../../lib/errors.js';
import type { Logger } from '../../lib/logger.js';
import { CREDIT_SOURCE, SHARING_SOURCE } from '../sources/platform.js';
import { pendingMigrations } from '../warehouse/migrate.js';
import { probePlatform } from './platform-probe.js';

export interface DoctorCheck {
  name: string;
  ok: boolean;
  detail: string;
}

export interface DoctorSetting {
  value: unknown;
  source: SettingOrigin;
  /** The environment variable that set it, when `source` is env. */
  variable?: string;
}

/** `guiji doctor --json`. */
export interface DoctorReport {
  ok: boolean;
  checks: DoctorCheck[];
  /** Keyed by each setting's variable (GUIJI_HOME…), as the README and `--help` name them. */
  settings: Record<string, DoctorSetting>;
}

export interface DoctorOptions {
  explained: ExplainedConfig;
  logger: Logger;
  target: WarehouseTarget;
  /** The clock of the platform probes (tests). */
  now?: () => number;
}

/** Every setting of SETTINGS with its effective value (secrets masked) and where it came from. */
export function doctorSettings(explained: ExplainedConfig): Record<string, DoctorSetting> {
  const settings: Record<string, DoctorSetting> = {};
  for (const s of SETTINGS) {
    const origin = explained.origins[s.key];
    const name = s.env[0] as string;
    settings[name] = {
      value: shownSetting(s.key, explained.config[s.key]),
      source: origin.origin,
      ...(origin.variable && origin.variable !== name ? { variable: origin.variable } : {}),
    };
  }
  return settings;
}

export async function runDoctor(options: DoctorOptions): Promise<DoctorReport> {
  const { config } = options.explained;
  const checks: DoctorCheck[] = [{ name: 'settings', ok: true, detail: 'every setting is valid' }];
  checks.push(checkCatalog(config));
  checks.push(...(await checkWarehouse(config, options)));
  checks.push(checkDropFolder(config.dropDir));
  checks.push(checkReportFolder(config.reportDir));
  const now = options.now ?? Date.now;
  for (const [source, url] of [
    [CREDIT_SOURCE, config.creditUrl],
    [SHARING_SOURCE, config.sharingUrl],
  ] as const) {
    if (!url) continue;
    checks.push({ name: source, ...(await probePlatform(config, source, now())) });
  }
  return { ok: checks.every((c) => c.ok), checks, settings: doctorSettings(options.explained) };
}

function checkCatalog(config: Readonly<Config>): DoctorCheck {
  try {
    const result = validateCatalog(config.catalogDir, config.schemasDir);
    if (result.ok) return { name: 'catalog', ok: true, detail: `${config.catalogDir}: valid` };
    const first = result.problems[0];
    return {
      name: 'catalog',
      ok: false,
      detail: `${result.problems.length} problem(s), first ${first?.file}: ${first?.path}: ${first?.message}; \`guiji catalog validate\` lists them`,
    };
  } catch (error) {
    return { name: 'catalog', ok: false, detail: messageOf(error) };
  }
}

async function checkWarehouse(config: Readonly<Config>, options: DoctorOptions): Promise<DoctorCheck[]> {
  const where = config.databaseUrl
    ? `PostgreSQL at ${options.target.where}, schema ${config.dbSchema}`
    : `the embedded warehouse in ${config.home}`;
  // an embedded warehouse that does not exist yet is not created by a check
  if (!config.databaseUrl && !existsSync(join(config.home, 'warehouse'))) {
    return [
      {
        name: 'warehouse',
        ok: false,
        detail: `${where} does not exist yet: \`guiji migrate\` (or the first run) creates it`,
      },
    ];
  }
  let db: Awaited<ReturnType<typeof openWarehouse>>;
  try {
    db = await openWarehouse({
      home: config.home,
      databaseUrl: config.databaseUrl,
      schema: config.dbSchema,
      logger: options.logger,
    });
  } catch (error) {
    return [
      { name: 'warehouse', ok: false, detail: messageOf(databaseError(error, options.target) ?? error) },
    ];
  }
  const checks: DoctorCheck[] = [{ name: 'warehouse', ok: true, detail: `${where}: reachable` }];
  try {
    // knex's list creates its bookkeeping table when missing: look first, so that the check writes nothing
    const [table] = await db.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM information_schema.tables WHERE table_schema = $1 AND table_name = 'knex_migrations'`,
      [config.dbSchema],
    );
    const pending = table?.n ? await pendingMigrations(db.knex, db.schema) : ['(all)'];
    checks.push(
      pending.length
        ? {
            name: 'migrations',
            ok: false,
            detail: `pending: ${pending.join(', ')}; \`guiji migrate\` applies them`,
          }
        : { name: 'migrations', ok: true, detail: 'the warehouse is up to date' },
    );
  } catch (error) {
    checks.push({
      name: 'migrations',
      ok: false,
      detail: messageOf(databaseError(error, options.target) ?? error),
    });
  } finally {
    await db.close();
  }
  return checks;
}

/** Whether this process may read, write and list `dir`; the problem in words otherwise. */
function folderProblem(dir: string): string | null {
  if (!existsSync(dir)) return 'does not exist';
  if (!statSync(dir).isDirectory()) return 'is not a folder';
  try {
    accessSync(dir, constants.R_OK | constants.W_OK | constants.X_OK);
    return null;
  } catch {
    return 'is not readable and writable by this user';
  }
}

function checkDropFolder(dropDir: string): DoctorCheck {
  const top = folderProblem(dropDir);
  if (top) return { name: 'drop folder', ok: false, detail: `${dropDir} ${top} (GUIJI_DROP_DIR)` };
  const problems = DROP_SUBDIRS.map((sub) => [sub, folderProblem(join(dropDir, sub))] as const).filter(
    ([, p]) => p !== null,
  );
  if (!problems.length)
    return {
      name: 'drop folder',
      ok: true,
      detail: `${dropDir}: incoming/, archive/, rejected/ readable and writable`,
    };
  return {
    name: 'drop folder',
    ok: false,
    detail: `${dropDir}: ${problems.map(([sub, p]) => `${sub}/ ${p}`).join('; ')}`,
  };
}

function checkReportFolder(reportDir: string): DoctorCheck {
  const problem = folderProblem(reportDir);
  if (!problem) return { name: 'report folder', ok: true, detail: `${reportDir}: writable` };
  // created by the first report when its parent lets us
  if (problem === 'does not exist' && folderProblem(dirname(reportDir)) === null) {
    return { name: 'report folder', ok: true, detail: `${reportDir}: created by the first report` };
  }
  return { name: 'report folder', ok: false, detail: `${reportDir} ${problem} (GUIJI_REPORT_DIR)` };
}
