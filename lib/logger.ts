import { pino, type Logger } from 'pino';

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

/** The root logger: JSON lines on stderr (stdout is for results and `--json`). */
export function createLogger(level: string, destination: NodeJS.WritableStream = process.stderr): Logger {
  return pino(
    {
      level,
      base: { app: 'guiji' },
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    destination as pino.DestinationStream,
  );
}
