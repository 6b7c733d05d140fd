/** Every error guiji raises on purpose carries a stable code; the CLI maps codes to exit codes. */
export type ErrorCode =
  | 'GUIJI_ERR_CONFIG'
  | 'GUIJI_ERR_USAGE'
  | 'GUIJI_ERR_LOCKED'
  | 'GUIJI_ERR_FILE'
  | 'GUIJI_ERR_CATALOG'
  | 'GUIJI_ERR_LOAD'
  | 'GUIJI_ERR_DB'
  | 'GUIJI_ERR_SOURCE_HTTP';

export interface ErrorContext {
  source?: string;
  file?: string;
  sheet?: string;
  row?: number;
  setting?: string;
  url?: string;
  status?: number;
}

export class GuijiError extends Error {
  readonly code: ErrorCode;
  readonly context: ErrorContext;

  constructor(code: ErrorCode, message: string, options: { cause?: unknown; context?: ErrorContext } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'GuijiError';
    this.code = code;
    this.context = options.context ?? {};
  }
}

export class ConfigError extends GuijiError {
  constructor(setting: string, message: string, cause?: unknown) {
    super('GUIJI_ERR_CONFIG', `${setting}: ${message}`, { cause, context: { setting } });
  }
}

export class LockedError extends GuijiError {
  constructor(message: string) {
    super('GUIJI_ERR_LOCKED', message);
  }
}

/**
 * A whole file that cannot be loaded (unreadable, over a cap, no header, a quote that never closes…). The
 * engineer reads `message` (English, may name the row); the department's clerk reads `messageZh` — Chinese,
 * naming the file's row or sheet where that helps, never a server path, a library or a PostgreSQL message.
 */
export class FileError extends GuijiError {
  readonly messageZh: string;

  constructor(message: string, messageZh: string, options: { cause?: unknown; context?: ErrorContext } = {}) {
    super('GUIJI_ERR_FILE', message, options);
    this.name = 'FileError';
    this.messageZh = messageZh;
  }
}

/** Exit codes of DESIGN.md: 0 done, 1 failed, 2 usage or configuration, 3 locked, 4 partly done. */
export function exitCodeOf(error: unknown): number {
  if (error instanceof GuijiError) {
    switch (error.code) {
      case 'GUIJI_ERR_CONFIG':
      case 'GUIJI_ERR_USAGE':
      case 'GUIJI_ERR_CATALOG':
        return 2;
      case 'GUIJI_ERR_LOCKED':
        return 3;
      default:
        return 1;
    }
  }
  return 1;
}

export function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** The SQLSTATE of a PostgreSQL error (pg and PGlite both expose `code`), or undefined. */
export function sqlState(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) ? code : undefined;
}
