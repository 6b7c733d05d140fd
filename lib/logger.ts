import { type Logger, pino } from 'pino';
import pretty from 'pino-pretty';

export type { Logger };

/** Paths that may hold secrets; pino replaces them before anything is written. */
export const REDACT_PATHS = [
  'password',
  'secret',
  'appSecret',
  'databaseUrl',
  'connectionString',
  'headers.authorization',
  '*.password',
  '*.secret',
  '*.appSecret',
  '*.databaseUrl',
  '*.connectionString',
];

/**
 * The root logger, on stderr (stdout is for results and `--json`): JSON lines for machines, a readable line
 * per event when stderr is a terminal.
 */
export function createLogger(level: string, destination: NodeJS.WritableStream = process.stderr): Logger {
  const options = {
    level,
    base: { app: 'guiji' },
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    timestamp: pino.stdTimeFunctions.isoTime,
  };
  if ((destination as NodeJS.WriteStream).isTTY) {
    return pino(
      options,
      pretty({ destination: 2, colorize: true, translateTime: 'SYS:HH:MM:ss', ignore: 'pid,hostname,app' }),
    );
  }
  return pino(options, destination as pino.DestinationStream);
}

/** knex's `log` option: what knex would print with console.log (on stdout, breaking `--json`). */
export interface KnexLog {
  warn(message: unknown): void;
  error(message: unknown): void;
  deprecate(message: unknown): void;
  debug(message: unknown): void;
}

/**
 * Routes knex's messages to the logger (stderr), their first line only except at debug level: a stack trace is
 * for the developer, not the night's log. "Acquire connection error" goes to debug, since the same error is
 * thrown to the caller, which reports it. Without a logger they are dropped.
 */
export function knexLog(logger: Logger | undefined): KnexLog {
  const text = (message: unknown) => (message instanceof Error ? message.message : String(message));
  const log = (level: 'warn' | 'error', message: unknown) => {
    if (!logger) return;
    const full = text(message);
    const first = full.split('\n', 1)[0] ?? '';
    if (level === 'warn' && first.startsWith('Acquire connection error')) {
      logger.debug({ knex: full }, 'knex: acquire connection error');
      return;
    }
    logger[level]({ knex: first }, `knex ${level}`);
    if (full !== first) logger.debug({ knex: full }, `knex ${level} (in full)`);
  };
  return {
    warn: (message) => log('warn', message),
    error: (message) => log('error', message),
    deprecate: (message) => logger?.debug({ knex: text(message) }, 'knex deprecation'),
    debug: (message) => logger?.debug({ knex: text(message) }, 'knex debug'),
  };
}
