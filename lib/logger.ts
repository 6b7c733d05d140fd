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
