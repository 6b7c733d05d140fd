import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { Ajv } from 'ajv';
import cron from 'node-cron';
import { ConfigError } from './errors.js';

/** Settings: defaults < guiji.config.json < environment (`GUIJI_*`) < command-line flags. */
export interface Config {
  /** Where the embedded warehouse, locks and state live. */
  home: string;
  /** A PostgreSQL URL; when absent the embedded PGlite warehouse under `home` is used. */
  databaseUrl: string | null;
  /** The PostgreSQL schema holding guiji's tables. */
  dbSchema: string;
  /** The spreadsheet drop folder (with incoming/, archive/, rejected/). */
  dropDir: string;
  /** Where quality reports are written. */
  reportDir: string;
  /** Rows loaded per transaction. */
  batchSize: number;
  /** Drop files of at least this many bytes loading into an empty table take the bulk path. */
  bulkBytes: number;
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  /** The catalog folder (resources, departments) and the schemas folder. */
  catalogDir: string;
  schemasDir: string;
  /** The city credit platform; the source is skipped while no URL is set. */
  creditUrl: string | null;
  creditAppKey: string | null;
  /** A secret: only from the environment, never logged. */
  creditAppSecret: string | null;
  creditDatasets: string;
  creditLagSeconds: number;
  creditOverlapSeconds: number;
  creditTimeoutMs: number;
  /** Rows asked per page, and requests per second at most. */
  creditPageSize: number;
  creditRequestsPerSecond: number;
  /** The government data-sharing platform; the source is skipped while no URL is set. */
  sharingUrl: string | null;
  sharingAppKey: string | null;
  /** A secret: only from the environment, never logged. */
  sharingAppSecret: string | null;
  sharingInterfaces: string;
  sharingLagSeconds: number;
  sharingOverlapSeconds: number;
  sharingTimeoutMs: number;
  sharingPageSize: number;
  sharingRequestsPerSecond: number;
  /** Backfills and workers: a partition's lease, attempts before it is marked failed, first retry delay. */
  backfillLeaseSeconds: number;
  backfillMaxAttempts: number;
  backfillBackoffSeconds: number;
  /** The nightly schedule: a cron expression in Asia/Shanghai time, and per-source overrides (null = the default). */
  schedule: string;
  scheduleDrops: string | null;
  scheduleCredit: string | null;
  scheduleSharing: string | null;
  /** Caps on a workbook in the drop folder (the xlsx reader's `XlsxLimits`): over any of them it is rejected. */
  xlsxMaxEntryBytes: number;
  xlsxMaxRatio: number;
  xlsxMaxSharedStrings: number;
  xlsxMaxSharedChars: number;
  xlsxMaxStylesBytes: number;
  xlsxMaxCellFormats: number;
  xlsxMaxCellChars: number;
  xlsxMaxSheets: number;
  xlsxMaxRows: number;
  xlsxMaxColumns: number;
  /** 1: a drop file of 1 MB or more is read (decoded, parsed) on a second thread; 0: on the main thread. */
  readWorker: number;
  /** The day publication states are computed for (YYYY-MM-DD); null: today in Asia/Shanghai. */
  today: string | null;
  /** `guiji serve`: the token every action (and any address but loopback) requires. A secret: never logged. */
  serveToken: string | null;
}

interface Setting {
  key: keyof Config;
  env: string[];
  help: string;
  type: 'string' | 'integer';
}

/** Every setting, its environment variables and what it means (printed by `guiji --help` and the README). */
export const SETTINGS: readonly Setting[] = [
  {
    key: 'home',
    env: ['GUIJI_HOME'],
    type: 'string',
    help: 'state folder; holds the embedded warehouse (default ./.guiji)',
  },
  {
    key: 'databaseUrl',
    env: ['GUIJI_DATABASE_URL', 'DATABASE_URL'],
    type: 'string',
    help: 'PostgreSQL URL; unset = embedded PGlite warehouse under GUIJI_HOME',
  },
  {
    key: 'dbSchema',
    env: ['GUIJI_DB_SCHEMA'],
    type: 'string',
    help: 'PostgreSQL schema for guiji tables (default public)',
  },
  {
    key: 'dropDir',
    env: ['GUIJI_DROP_DIR'],
    type: 'string',
    help: 'spreadsheet drop folder (default ./drops)',
  },
  {
    key: 'reportDir',
    env: ['GUIJI_REPORT_DIR'],
    type: 'string',
    help: 'quality report folder (default ./reports)',
  },
  {
    key: 'batchSize',
    env: ['GUIJI_BATCH_SIZE'],
    type: 'integer',
    help: 'rows per load transaction (default 10000)',
  },
  {
    key: 'bulkBytes',
    env: ['GUIJI_BULK_BYTES'],
    type: 'integer',
    help: "a drop file this large loading into a resource's empty table is loaded before that table's secondary indexes are built (default 4194304)",
  },
  {
    key: 'logLevel',
    env: ['GUIJI_LOG_LEVEL'],
    type: 'string',
    help: 'fatal|error|warn|info|debug|trace|silent (default info)',
  },
  {
    key: 'catalogDir',
    env: ['GUIJI_CATALOG_DIR'],
    type: 'string',
    help: 'resource catalog folder (default the bundled catalog/)',
  },
  {
    key: 'schemasDir',
    env: ['GUIJI_SCHEMAS_DIR'],
    type: 'string',
    help: 'JSON Schema folder (default the bundled schemas/)',
  },
  {
    key: 'creditUrl',
    env: ['GUIJI_CREDIT_URL'],
    type: 'string',
    help: 'credit platform base URL; unset = source skipped',
  },
  { key: 'creditAppKey', env: ['GUIJI_CREDIT_APP_KEY'], type: 'string', help: 'credit platform app key' },
  {
    key: 'creditAppSecret',
    env: ['GUIJI_CREDIT_APP_SECRET'],
    type: 'string',
    help: 'credit platform app secret (environment only)',
  },
  {
    key: 'creditDatasets',
    env: ['GUIJI_CREDIT_DATASETS'],
    type: 'string',
    help: 'datasets to pull (default xzxk,xzcf,lhcj)',
  },
  {
    key: 'creditLagSeconds',
    env: ['GUIJI_CREDIT_LAG_SECONDS'],
    type: 'integer',
    help: 'window ends this long before now (default 300)',
  },
  {
    key: 'creditOverlapSeconds',
    env: ['GUIJI_CREDIT_OVERLAP_SECONDS'],
    type: 'integer',
    help: 'window starts this long before the cursor (default 600)',
  },
  {
    key: 'creditTimeoutMs',
    env: ['GUIJI_CREDIT_TIMEOUT_MS'],
    type: 'integer',
    help: 'request timeout in ms (default 30000)',
  },
  {
    key: 'creditPageSize',
    env: ['GUIJI_CREDIT_PAGE_SIZE'],
    type: 'integer',
    help: 'rows per page asked of the credit platform (default 500)',
  },
  {
    key: 'creditRequestsPerSecond',
    env: ['GUIJI_CREDIT_REQUESTS_PER_SECOND'],
    type: 'integer',
    help: 'request rate limit for the credit platform (default 20)',
  },
  {
    key: 'sharingUrl',
    env: ['GUIJI_SHARING_URL'],
    type: 'string',
    help: 'data-sharing platform base URL; unset = source skipped',
  },
  {
    key: 'sharingAppKey',
    env: ['GUIJI_SHARING_APP_KEY'],
    type: 'string',
    help: 'data-sharing platform app key',
  },
  {
    key: 'sharingAppSecret',
    env: ['GUIJI_SHARING_APP_SECRET'],
    type: 'string',
    help: 'data-sharing platform app secret (environment only)',
  },
  {
    key: 'sharingInterfaces',
    env: ['GUIJI_SHARING_INTERFACES'],
    type: 'string',
    help: 'interfaces to pull, as id or id=resource (default xzxk)',
  },
  {
    key: 'sharingLagSeconds',
    env: ['GUIJI_SHARING_LAG_SECONDS'],
    type: 'integer',
    help: 'window ends this long before now (default 300)',
  },
  {
    key: 'sharingOverlapSeconds',
    env: ['GUIJI_SHARING_OVERLAP_SECONDS'],
    type: 'integer',
    help: 'window starts this long before the cursor (default 600)',
  },
  {
    key: 'sharingTimeoutMs',
    env: ['GUIJI_SHARING_TIMEOUT_MS'],
    type: 'integer',
    help: 'request timeout in ms (default 30000)',
  },
  {
    key: 'sharingPageSize',
    env: ['GUIJI_SHARING_PAGE_SIZE'],
    type: 'integer',
    help: 'rows per page asked of the data-sharing platform (default 500)',
  },
  {
    key: 'sharingRequestsPerSecond',
    env: ['GUIJI_SHARING_REQUESTS_PER_SECOND'],
    type: 'integer',
    help: 'request rate limit for the data-sharing platform (default 20)',
  },
  {
    key: 'backfillLeaseSeconds',
    env: ['GUIJI_BACKFILL_LEASE_SECONDS'],
    type: 'integer',
    help: "a backfill partition's lease; a worker silent this long loses it (default 60)",
  },
  {
    key: 'backfillMaxAttempts',
    env: ['GUIJI_BACKFILL_MAX_ATTEMPTS'],
    type: 'integer',
    help: 'attempts of a backfill partition before it is marked failed (default 5)',
  },
  {
    key: 'backfillBackoffSeconds',
    env: ['GUIJI_BACKFILL_BACKOFF_SECONDS'],
    type: 'integer',
    help: 'first retry delay of a failed partition, doubled each attempt (default 30)',
  },
  {
    key: 'schedule',
    env: ['GUIJI_SCHEDULE'],
    type: 'string',
    help: 'guiji schedule: cron expression, Asia/Shanghai time (default "30 1 * * *")',
  },
  {
    key: 'scheduleDrops',
    env: ['GUIJI_SCHEDULE_DROPS'],
    type: 'string',
    help: 'cron expression for the drops source (default GUIJI_SCHEDULE)',
  },
  {
    key: 'scheduleCredit',
    env: ['GUIJI_SCHEDULE_CREDIT'],
    type: 'string',
    help: 'cron expression for the credit platform (default GUIJI_SCHEDULE)',
  },
  {
    key: 'scheduleSharing',
    env: ['GUIJI_SCHEDULE_SHARING'],
    type: 'string',
    help: 'cron expression for the data-sharing platform (default GUIJI_SCHEDULE)',
  },
  {
    key: 'xlsxMaxEntryBytes',
    env: ['GUIJI_XLSX_MAX_ENTRY_BYTES'],
    type: 'integer',
    help: 'workbooks: bytes any one zip entry may inflate to (default 2147483648, 2 GiB)',
  },
  {
    key: 'xlsxMaxRatio',
    env: ['GUIJI_XLSX_MAX_RATIO'],
    type: 'integer',
    help: 'workbooks: inflated ÷ compressed size of an entry past its first MiB (default 100)',
  },
  {
    key: 'xlsxMaxSharedStrings',
    env: ['GUIJI_XLSX_MAX_SHARED_STRINGS'],
    type: 'integer',
    help: 'workbooks: strings in sharedStrings.xml (default 16000000)',
  },
  {
    key: 'xlsxMaxSharedChars',
    env: ['GUIJI_XLSX_MAX_SHARED_CHARS'],
    type: 'integer',
    help: 'workbooks: characters of all shared strings together (default 400000000)',
  },
  {
    key: 'xlsxMaxStylesBytes',
    env: ['GUIJI_XLSX_MAX_STYLES_BYTES'],
    type: 'integer',
    help: 'workbooks: bytes of styles.xml and the other parts read whole (default 33554432, 32 MiB)',
  },
  {
    key: 'xlsxMaxCellFormats',
    env: ['GUIJI_XLSX_MAX_CELL_FORMATS'],
    type: 'integer',
    help: 'workbooks: cell formats and number formats in styles.xml (default 65536)',
  },
  {
    key: 'xlsxMaxCellChars',
    env: ['GUIJI_XLSX_MAX_CELL_CHARS'],
    type: 'integer',
    help: "workbooks: characters of one cell (default 32767, Excel's limit)",
  },
  {
    key: 'xlsxMaxSheets',
    env: ['GUIJI_XLSX_MAX_SHEETS'],
    type: 'integer',
    help: 'workbooks: sheets in one workbook (default 1000)',
  },
  {
    key: 'xlsxMaxRows',
    env: ['GUIJI_XLSX_MAX_ROWS'],
    type: 'integer',
    help: "workbooks: highest row number of a sheet (default 1048576, Excel's grid)",
  },
  {
    key: 'xlsxMaxColumns',
    env: ['GUIJI_XLSX_MAX_COLUMNS'],
    type: 'integer',
    help: "workbooks: columns of a sheet (default 16384, Excel's grid)",
  },
  {
    key: 'readWorker',
    env: ['GUIJI_READ_WORKER'],
    type: 'integer',
    help: 'drops: read files of 1 MB or more on a second thread, 1 or 0 (default 1)',
  },
  {
    key: 'today',
    env: ['GUIJI_TODAY'],
    type: 'string',
    help: 'publication: the day states are computed for, YYYY-MM-DD (default today in Asia/Shanghai; for tests and replays)',
  },
  {
    key: 'serveToken',
    env: ['GUIJI_SERVE_TOKEN'],
    type: 'string',
    help: 'console: token for actions, required off 127.0.0.1 (environment only)',
  },
];

const packageRoot = resolve(import.meta.dirname, '..');

const schema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    home: { type: 'string', minLength: 1 },
    databaseUrl: { type: ['string', 'null'], pattern: '^postgres(ql)?://' },
    dbSchema: { type: 'string', pattern: '^[a-z_][a-z0-9_]{0,62}$' },
    dropDir: { type: 'string', minLength: 1 },
    reportDir: { type: 'string', minLength: 1 },
    batchSize: { type: 'integer', minimum: 1, maximum: 1_000_000 },
    bulkBytes: { type: 'integer', minimum: 0 },
    logLevel: { enum: ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] },
    catalogDir: { type: 'string', minLength: 1 },
    schemasDir: { type: 'string', minLength: 1 },
    creditUrl: { type: ['string', 'null'], pattern: '^https?://' },
    creditAppKey: { type: ['string', 'null'] },
    creditAppSecret: { type: ['string', 'null'] },
    creditDatasets: { type: 'string', pattern: '^[a-z0-9_]+(,[a-z0-9_]+)*$' },
    creditLagSeconds: { type: 'integer', minimum: 0 },
    creditOverlapSeconds: { type: 'integer', minimum: 0 },
    creditTimeoutMs: { type: 'integer', minimum: 1 },
    creditPageSize: { type: 'integer', minimum: 1, maximum: 10_000 },
    creditRequestsPerSecond: { type: 'integer', minimum: 1 },
    sharingUrl: { type: ['string', 'null'], pattern: '^https?://' },
    sharingAppKey: { type: ['string', 'null'] },
    sharingAppSecret: { type: ['string', 'null'] },
    sharingInterfaces: {
      type: 'string',
      pattern: '^[A-Za-z0-9_.-]+(=[a-z0-9_]+)?(,[A-Za-z0-9_.-]+(=[a-z0-9_]+)?)*$',
    },
    sharingLagSeconds: { type: 'integer', minimum: 0 },
    sharingOverlapSeconds: { type: 'integer', minimum: 0 },
    sharingTimeoutMs: { type: 'integer', minimum: 1 },
    sharingPageSize: { type: 'integer', minimum: 1, maximum: 10_000 },
    sharingRequestsPerSecond: { type: 'integer', minimum: 1 },
    backfillLeaseSeconds: { type: 'integer', minimum: 1, maximum: 86_400 },
    backfillMaxAttempts: { type: 'integer', minimum: 1, maximum: 100 },
    backfillBackoffSeconds: { type: 'integer', minimum: 0, maximum: 86_400 },
    schedule: { type: 'string', minLength: 1 },
    scheduleDrops: { type: ['string', 'null'] },
    scheduleCredit: { type: ['string', 'null'] },
    scheduleSharing: { type: ['string', 'null'] },
    xlsxMaxEntryBytes: { type: 'integer', minimum: 1024, maximum: 2 ** 48 },
    xlsxMaxRatio: { type: 'integer', minimum: 2 },
    xlsxMaxSharedStrings: { type: 'integer', minimum: 1 },
    xlsxMaxSharedChars: { type: 'integer', minimum: 1 },
    xlsxMaxStylesBytes: { type: 'integer', minimum: 1024 },
    xlsxMaxCellFormats: { type: 'integer', minimum: 1 },
    xlsxMaxCellChars: { type: 'integer', minimum: 1 },
    xlsxMaxSheets: { type: 'integer', minimum: 1 },
    xlsxMaxRows: { type: 'integer', minimum: 1 },
    xlsxMaxColumns: { type: 'integer', minimum: 1, maximum: 16_384 },
    readWorker: { enum: [0, 1] },
    today: { type: ['string', 'null'], pattern: '^\\d{4}-\\d{2}-\\d{2}$' },
    serveToken: { type: ['string', 'null'], minLength: 16 },
  },
} as const;

const validate = new Ajv({ allErrors: true }).compile(schema);

export interface LoadConfigOptions {
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Values from command-line flags; they win over everything else. */
  overrides?: Partial<Config>;
}

export function loadConfig(options: LoadConfigOptions = {}): Readonly<Config> {
  return explainConfig(options).config;
}

/** Where a setting's effective value came from. */
export type SettingOrigin = 'default' | 'file' | 'env' | 'flag';

export interface ExplainedConfig {
  config: Readonly<Config>;
  /** Each setting's origin; for `env`, the variable that gave it (`DATABASE_URL` when GUIJI_DATABASE_URL is unset). */
  origins: Readonly<Record<keyof Config, { origin: SettingOrigin; variable?: string }>>;
}

/** The configuration and where each value came from (`guiji doctor`). */
export function explainConfig(options: LoadConfigOptions = {}): ExplainedConfig {
  const env = options.env ?? process.env;
  const cwd = options.cwd ?? process.cwd();
  const defaults: Config = {
    home: '.guiji',
    databaseUrl: null,
    dbSchema: 'public',
    dropDir: 'drops',
    reportDir: 'reports',
    batchSize: 10_000,
    bulkBytes: 4 << 20,
    logLevel: 'info',
    catalogDir: resolve(packageRoot, 'catalog'),
    schemasDir: resolve(packageRoot, 'schemas'),
    creditUrl: null,
    creditAppKey: null,
    creditAppSecret: null,
    creditDatasets: 'xzxk,xzcf,lhcj',
    creditLagSeconds: 300,
    creditOverlapSeconds: 600,
    creditTimeoutMs: 30_000,
    creditPageSize: 500,
    creditRequestsPerSecond: 20,
    sharingUrl: null,
    sharingAppKey: null,
    sharingAppSecret: null,
    sharingInterfaces: 'xzxk',
    sharingLagSeconds: 300,
    sharingOverlapSeconds: 600,
    sharingTimeoutMs: 30_000,
    sharingPageSize: 500,
    sharingRequestsPerSecond: 20,
    backfillLeaseSeconds: 60,
    backfillMaxAttempts: 5,
    backfillBackoffSeconds: 30,
    schedule: '30 1 * * *',
    scheduleDrops: null,
    scheduleCredit: null,
    scheduleSharing: null,
    // the xlsx reader's DEFAULT_XLSX_LIMITS (test/xlsx-caps.test.ts holds them equal); why these numbers: there
    xlsxMaxEntryBytes: 2 * 1024 ** 3,
    xlsxMaxRatio: 100,
    xlsxMaxSharedStrings: 16_000_000,
    xlsxMaxSharedChars: 400_000_000,
    xlsxMaxStylesBytes: 32 * 1024 ** 2,
    xlsxMaxCellFormats: 65_536,
    xlsxMaxCellChars: 32_767,
    xlsxMaxSheets: 1_000,
    xlsxMaxRows: 1_048_576,
    xlsxMaxColumns: 16_384,
    readWorker: 1,
    today: null,
    serveToken: null,
  };

  const fromFile = readConfigFile(resolve(cwd, 'guiji.config.json'));
  const fromEnv: Record<string, unknown> = {};
  const variables = new Map<keyof Config, string>();
  for (const setting of SETTINGS) {
    const name = setting.env.find((n) => env[n] !== undefined && env[n] !== '');
    if (!name) continue;
    variables.set(setting.key, name);
    const raw = env[name] as string;
    if (setting.type === 'integer') {
      if (!/^\d+$/.test(raw.trim())) throw new ConfigError(name, `expected a whole number, got "${raw}"`);
      fromEnv[setting.key] = Number(raw.trim());
    } else {
      fromEnv[setting.key] = raw;
    }
  }
  const flags = stripUndefined(options.overrides ?? {});
  const merged = { ...defaults, ...fromFile, ...fromEnv, ...flags };
  if (!validate(merged)) {
    const first = validate.errors?.[0];
    const key = (first?.instancePath ?? '').slice(1) as keyof Config;
    const setting = SETTINGS.find((s) => s.key === key);
    const name = setting?.env[0] ?? key ?? 'configuration';
    const shown = isSecretSetting(key) ? '(hidden)' : JSON.stringify(merged[key]);
    throw new ConfigError(name, `${first?.message ?? 'invalid'}; got ${shown}`);
  }
  for (const key of ['schedule', 'scheduleDrops', 'scheduleCredit', 'scheduleSharing'] as const) {
    const expression = merged[key];
    if (expression !== null && !cron.validate(expression)) {
      const name = SETTINGS.find((s) => s.key === key)?.env[0] ?? key;
      throw new ConfigError(
        name,
        `not a cron expression: "${expression}" (five fields, minute hour day month weekday, e.g. "30 1 * * *"; a sixth in front for seconds)`,
      );
    }
  }
  const config: Config = {
    ...merged,
    home: resolve(cwd, merged.home),
    dropDir: resolve(cwd, merged.dropDir),
    reportDir: resolve(cwd, merged.reportDir),
    catalogDir: resolve(cwd, merged.catalogDir),
    schemasDir: resolve(cwd, merged.schemasDir),
  };
  const origins = Object.fromEntries(
    (Object.keys(defaults) as (keyof Config)[]).map((key) => {
      const variable = variables.get(key);
      if (key in flags) return [key, { origin: 'flag' }];
      if (variable) return [key, { origin: 'env', variable }];
      return [key, { origin: key in fromFile ? 'file' : 'default' }];
    }),
  ) as ExplainedConfig['origins'];
  return { config: Object.freeze(config), origins: Object.freeze(origins) };
}

function readConfigFile(path: string): Partial<Config> {
  if (!existsSync(path)) return {};
  try {
    const parsed = JSON.parse(readFileSync(path, 'utf8')) as Partial<Config>;
    if ('databaseUrl' in parsed) {
      throw new ConfigError(
        path,
        'databaseUrl may carry a password: set GUIJI_DATABASE_URL in the environment instead',
      );
    }
    if ('serveToken' in parsed) {
      throw new ConfigError(path, 'serveToken is a secret: set GUIJI_SERVE_TOKEN in the environment instead');
    }
    return parsed;
  } catch (error) {
    if (error instanceof ConfigError) throw error;
    throw new ConfigError(path, 'not valid JSON', error);
  }
}

function stripUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/** Settings that hold a secret or may carry one (a database URL's password). */
export function isSecretSetting(key: string): boolean {
  return key === 'databaseUrl' || /secret|token|password/i.test(key);
}

/** A setting's value as `guiji doctor` may print it: secrets masked, a database URL without its password. */
export function shownSetting(key: keyof Config, value: unknown): unknown {
  if (value === null || value === undefined) return value ?? null;
  if (key === 'databaseUrl') return redactUrl(String(value));
  return isSecretSetting(key) ? '***' : value;
}

/** The database URL with its password replaced, for logs and messages. */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    // libpq takes a password in the query too (`?password=…`, `sslpassword=…`)
    for (const name of [...parsed.searchParams.keys()])
      if (/pass|secret|token/i.test(name)) parsed.searchParams.set(name, '***');
    return parsed.toString();
  } catch {
    return '(unparseable database URL)';
  }
}
