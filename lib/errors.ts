/** Every error guiji raises on purpose carries a stable code; the CLI maps codes to exit codes. */
export type ErrorCode =
  | 'GUIJI_ERR_CONFIG'
  | 'GUIJI_ERR_USAGE'
  | 'GUIJI_ERR_LOCKED'
  | 'GUIJI_ERR_FILE'
  | 'GUIJI_ERR_CATALOG'
  | 'GUIJI_ERR_LOAD'
  | 'GUIJI_ERR_DB'
  | 'GUIJI_ERR_SOURCE_HTTP'
  /** Not raised on purpose: a bug or a library's surprise, wrapped by the CLI so that it still has a code. */
  | 'GUIJI_ERR_INTERNAL';

export interface ErrorContext {
  source?: string;
  file?: string;
  sheet?: string;
  row?: number;
  setting?: string;
  url?: string;
  status?: number;
  /** The command-line flag whose value was wrong. */
  flag?: string;
  /** PostgreSQL's SQLSTATE of a database error (`42P01`), for the log and for code that branches on it. */
  sqlState?: string;
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

/** A command-line flag with a value that cannot be used (exit 2); the message names the flag. */
export class UsageError extends GuijiError {
  constructor(flag: string, message: string) {
    super('GUIJI_ERR_USAGE', `${flag}: ${message}`, { context: { flag } });
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
  // no SQLSTATE class starts with E: that keeps errno codes of five letters (EPIPE, EPERM) out
  return typeof code === 'string' && /^[0-9A-DF-Z][0-9A-Z]{4}$/.test(code) ? code : undefined;
}

/** Where a warehouse lives, as a message may name it: never its password. */
export interface WarehouseTarget {
  /** `host:port`, or a description such as "the embedded warehouse in /srv/guiji/.guiji". */
  where: string;
  /** The setting that names it (GUIJI_DATABASE_URL, GUIJI_HOME). */
  setting: string;
}

/** Node's errno codes of a connection that never reached the server, in plain words. */
const UNREACHABLE: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  ENOTFOUND: 'no such host',
  EAI_AGAIN: 'the host name could not be resolved (DNS)',
  ETIMEDOUT: 'the connection timed out',
  EHOSTUNREACH: 'no route to the host',
  ENETUNREACH: 'the network is unreachable',
  ECONNRESET: 'the connection was reset',
  EPIPE: 'the connection was closed',
};

/** SQLSTATEs whose meaning an ops engineer acts on, in plain words (PostgreSQL's appendix A). */
const SQLSTATE_WORDS: Record<string, string> = {
  '28P01': 'the password was refused',
  '28000': 'the login was refused (pg_hba.conf or the user name)',
  '3D000': 'the database does not exist',
  '3F000': 'the schema does not exist',
  '42501': 'permission denied to the database user',
  '42P01': 'a table is missing: the warehouse is not migrated (run `guiji migrate`)',
  '53100': "the database server's disk is full",
  '53200': 'the database server is out of memory',
  '53300': 'the database server has too many connections',
  '57P01': 'the database server is shutting down',
  '57P03': 'the database server is starting up or in recovery',
  '57014': 'the statement was cancelled (statement timeout)',
  '40001': 'a concurrent change conflicted (serialization failure); try again',
  '40P01': 'a deadlock was detected; try again',
  '25006': 'the database is read-only',
};

/** The first error of a cause chain that carries `key` (pg wraps little, knex and we wrap a level or two). */
function findInChain(error: unknown, key: (e: unknown) => string | undefined): string | undefined {
  let current: unknown = error;
  for (let depth = 0; depth < 6 && current; depth++) {
    const found = key(current);
    if (found) return found;
    current = (current as { cause?: unknown }).cause;
  }
  return undefined;
}

const errnoOf = (error: unknown): string | undefined => {
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && code in UNREACHABLE) return code;
  // node's fetch and AggregateError (a host with several addresses) keep the errno deeper
  const errors = (error as { errors?: unknown } | null)?.errors;
  if (Array.isArray(errors)) for (const e of errors) if (errnoOf(e)) return errnoOf(e);
  return undefined;
};

/** Why a connection never reached its server (refused, no such host…) in plain words, or undefined. */
export function unreachableReason(error: unknown): string | undefined {
  const errno = findInChain(error, errnoOf);
  return errno ? UNREACHABLE[errno] : undefined;
}

/**
 * A database failure as a GuijiError an ops engineer can act on: "cannot reach the warehouse at host:port
 * (GUIJI_DATABASE_URL): connection refused", or what the SQLSTATE means in plain words with the SQLSTATE in
 * `context.sqlState`. The server's own message stays in `cause` (the CLI shows it at debug level only): it can
 * quote values of the rows. Null when the error is not a database error.
 */
export function databaseError(error: unknown, target: WarehouseTarget): GuijiError | null {
  if (error instanceof GuijiError && error.code !== 'GUIJI_ERR_DB') return null;
  const errno = findInChain(error, errnoOf);
  if (errno) {
    return new GuijiError(
      'GUIJI_ERR_DB',
      `cannot reach the warehouse at ${target.where} (${target.setting}): ${UNREACHABLE[errno]}${errno === 'ECONNREFUSED' ? ' (is PostgreSQL running and listening there?)' : ''}`,
      { cause: error, context: { setting: target.setting } },
    );
  }
  const state = findInChain(error, sqlState);
  if (state) {
    const words = SQLSTATE_WORDS[state] ?? sqlStateClass(state);
    return new GuijiError(
      'GUIJI_ERR_DB',
      `the warehouse at ${target.where} (${target.setting}) refused: ${words} [SQLSTATE ${state}]`,
      { cause: error, context: { setting: target.setting, sqlState: state } },
    );
  }
  return error instanceof GuijiError ? error : null;
}

/** The class of a SQLSTATE (its first two characters) in plain words. */
function sqlStateClass(state: string): string {
  switch (state.slice(0, 2)) {
    case '08':
      return 'the connection to the database failed';
    case '22':
      return 'a value was out of range or malformed';
    case '23':
      return 'a constraint of the warehouse was violated';
    case '28':
      return 'the login was refused';
    case '40':
      return 'the transaction was rolled back; try again';
    case '42':
      return 'the warehouse does not have the shape guiji expects (run `guiji migrate`)';
    case '53':
      return 'the database server is out of resources';
    case '54':
      return 'a program limit of the database server was exceeded';
    case '57':
      return 'an operator or the server stopped the statement';
    case '58':
      return 'the database server had a system error';
    case 'XX':
      return 'the database server had an internal error';
    default:
      return 'the database reported an error';
  }
}

/**
 * Any error as a GuijiError, for the CLI's last word: ours as they are, a database error in plain words, and
 * anything else as GUIJI_ERR_INTERNAL (its message kept; the stack only at debug level).
 */
export function toGuijiError(error: unknown, target: WarehouseTarget): GuijiError {
  const fromDb = databaseError(error, target);
  if (fromDb) return fromDb;
  if (error instanceof GuijiError) return error;
  return new GuijiError('GUIJI_ERR_INTERNAL', `unexpected error: ${messageOf(error)}`, { cause: error });
}
