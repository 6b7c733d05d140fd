import { timingSafeEqual } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { chmodSync, rmSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import type { PGlite } from '@electric-sql/pglite';

/**
 * Serves an embedded PGlite warehouse over PostgreSQL's wire protocol on a Unix socket (or 127.0.0.1 when the
 * socket's path would be too long), so that other guiji processes reach the warehouse through `pg` while a
 * long-lived process holds it.
 *
 * PGlite is one session: clients take turns. A client owns the session from its first message until the
 * server reports it idle outside a transaction (ReadyForQuery 'I'); the others wait in line. So one client's
 * open transaction, or its Parse/Bind/Execute before Sync, never interleaves with another client's messages.
 * Session-level state (advisory locks, SET, temporary tables) is shared by every client: guiji's run locks on
 * a served warehouse are lock files, not advisory locks.
 *
 * PGlite's backend cannot run `COPY … FROM STDIN` (the WebAssembly instance exits): the server answers the
 * copy sub-protocol itself and runs the statement as `COPY … FROM '/dev/blob'` with the rows received, in the
 * client's transaction.
 */

const SSL_REQUEST = 80877103;
const GSSENC_REQUEST = 80877104;
const CANCEL_REQUEST = 80877102;
/** The socket file name libpq and pg look for in the `host` directory. */
export const SOCKET_PORT = 5432;
const MAX_SOCKET_PATH = 100;

export interface ServedAddress {
  /** A directory holding the Unix socket `.s.PGSQL.<port>`, or 127.0.0.1. */
  host: string;
  port: number;
}

export class PgliteServer {
  private server: Server | null = null;
  private socketPath: string | null = null;
  private owner: Session | null = null;
  private readonly line: (() => void)[] = [];
  private readonly sessions = new Set<Session>();
  private startup: Uint8Array | null = null;
  /** 'queued': a client's message waits in line for another client's turn to end (what tests wait on). */
  readonly events = new EventEmitter();

  /**
   * @param password what a client must send (cleartext over the local socket) before it is let in; null lets
   * every client in (the socket file's mode is the only guard).
   */
  constructor(
    readonly pglite: PGlite,
    readonly password: string | null = null,
    private readonly onError: (error: unknown) => void = () => {},
  ) {}

  /** Listens in `socketDir` (or on 127.0.0.1 when that path is too long) and returns where. */
  async listen(socketDir: string): Promise<ServedAddress> {
    // PGlite answers one StartupMessage (authentication ok, parameters, ready); every client gets that answer
    this.startup = Buffer.from(await this.pglite.execProtocolRaw(startupMessage()));
    const server = createServer((socket) => this.accept(socket));
    this.server = server;
    const socketPath = join(socketDir, `.s.PGSQL.${SOCKET_PORT}`);
    if (socketPath.length <= MAX_SOCKET_PATH) {
      // a socket file left by a holder that died
      rmSync(socketPath, { force: true });
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(socketPath, () => resolve());
      });
      this.socketPath = socketPath;
      chmodSync(socketPath, 0o600);
      return { host: socketDir, port: SOCKET_PORT };
    }
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    const address = server.address();
    if (!address || typeof address === 'string') throw new Error('the warehouse server has no TCP address');
    return { host: '127.0.0.1', port: address.port };
  }

  async close(): Promise<void> {
    const server = this.server;
    this.server = null;
    for (const session of this.sessions) session.socket.destroy();
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
    if (this.socketPath) rmSync(this.socketPath, { force: true });
  }

  private accept(socket: Socket): void {
    const session = new Session(this, socket);
    this.sessions.add(session);
    socket.on('close', () => {
      this.sessions.delete(session);
      session.closed().catch(this.onError);
    });
    socket.on('error', () => {
      // a client gone mid-message: 'close' follows and cleans up
    });
  }

  /** The answer to a client's StartupMessage: PGlite's own answer to the server's, replayed. */
  startupReply(): Uint8Array {
    if (!this.startup) throw new Error('the warehouse server is not listening');
    return this.startup;
  }

  /** Waits for the session to be this client's. */
  async acquire(session: Session): Promise<void> {
    if (this.owner === session) return;
    if (this.owner === null && this.line.length === 0) {
      this.owner = session;
      return;
    }
    const turn = new Promise<void>((resolve) => this.line.push(resolve));
    this.events.emit('queued', this.line.length);
    await turn;
    this.owner = session;
  }

  release(session: Session): void {
    if (this.owner !== session) return;
    this.owner = null;
    const next = this.line.shift();
    if (next) next();
  }

  isOwner(session: Session): boolean {
    return this.owner === session;
  }

  reportError(error: unknown): void {
    this.onError(error);
  }
}

class Session {
  private buffer: Buffer = Buffer.alloc(0);
  private started = false;
  private readonly pending: Buffer[] = [];
  private working = false;
  /** The transaction status of the last ReadyForQuery sent to this client, 'C' while a cycle is open. */
  private status: 'I' | 'T' | 'E' | 'C' = 'I';
  private copy: { statement: string; chunks: Buffer[] } | null = null;
  private gone = false;
  private authenticating = false;

  constructor(
    private readonly server: PgliteServer,
    readonly socket: Socket,
  ) {
    socket.setNoDelay(true);
    socket.on('data', (data: Buffer) => this.receive(data));
  }

  private receive(data: Buffer): void {
    this.buffer = this.buffer.length ? Buffer.concat([this.buffer, data]) : data;
    for (;;) {
      if (!this.started) {
        if (this.buffer.length < 8) break;
        const length = this.buffer.readInt32BE(0);
        if (this.buffer.length < length) break;
        const code = this.buffer.readInt32BE(4);
        this.buffer = this.buffer.subarray(length);
        if (code === SSL_REQUEST || code === GSSENC_REQUEST) {
          this.socket.write('N');
        } else if (code === CANCEL_REQUEST) {
          // not supported: queries run one session at a time
          this.socket.end();
          return;
        } else {
          this.started = true;
          if (this.server.password === null) this.socket.write(this.server.startupReply());
          else {
            this.authenticating = true;
            // AuthenticationCleartextPassword
            this.socket.write(Buffer.from([0x52, 0, 0, 0, 8, 0, 0, 0, 3]));
          }
        }
        continue;
      }
      if (this.buffer.length < 5) break;
      const length = this.buffer.readInt32BE(1) + 1;
      if (this.buffer.length < length) break;
      if (this.authenticating) {
        const message = this.buffer.subarray(0, length);
        this.buffer = this.buffer.subarray(length);
        if (message[0] !== 0x70 || !samePassword(message.subarray(5, length - 1), this.server.password)) {
          this.socket.end(Buffer.concat([errorResponse('28P01', 'password authentication failed')]));
          return;
        }
        this.authenticating = false;
        this.socket.write(this.server.startupReply());
        continue;
      }
      // copied: the rest of the chunk must not stay pinned by a message waiting its turn
      this.pending.push(Buffer.from(this.buffer.subarray(0, length)));
      this.buffer = this.buffer.subarray(length);
    }
    this.work().catch((error: unknown) => {
      this.server.reportError(error);
      this.socket.destroy();
    });
  }

  private async work(): Promise<void> {
    if (this.working) return;
    this.working = true;
    try {
      for (let message = this.pending.shift(); message; message = this.pending.shift()) {
        if (this.gone) return;
        await this.server.acquire(this);
        if (this.gone) {
          await this.closed();
          return;
        }
        const reply = await this.handle(message);
        if (reply.length && !this.gone) this.socket.write(reply);
        // idle outside a transaction, between two cycles: another client may have the session
        if (this.status === 'I') this.server.release(this);
      }
    } finally {
      this.working = false;
    }
  }

  private async handle(message: Buffer): Promise<Uint8Array> {
    const type = String.fromCharCode(message[0] as number);
    if (this.copy) return this.handleCopy(type, message);
    if (type === 'X') {
      this.socket.end();
      return new Uint8Array();
    }
    if (type === 'Q') {
      const sql = message.toString('utf8', 5, message.length - 1);
      const copyIn = /^\s*COPY\s+([\s\S]+?)\s+FROM\s+STDIN\b([\s\S]*?);?\s*$/i.exec(sql);
      if (copyIn) {
        this.copy = { statement: `COPY ${copyIn[1]} FROM '/dev/blob'${copyIn[2] ?? ''}`, chunks: [] };
        this.status = 'C';
        // CopyInResponse: text format, no per-column formats
        return Buffer.from([0x47, 0, 0, 0, 7, 0, 0, 0]);
      }
    }
    // copied: PGlite's answer may be a view of memory its next statement reuses, and the socket writes later
    const reply = Buffer.from(await this.server.pglite.execProtocolRaw(message));
    const status = lastReadyStatus(reply);
    this.status = status ?? 'C';
    return reply;
  }

  private async handleCopy(type: string, message: Buffer): Promise<Uint8Array> {
    const copy = this.copy as { statement: string; chunks: Buffer[] };
    if (type === 'd') {
      copy.chunks.push(message.subarray(5));
      return new Uint8Array();
    }
    if (type === 'H' || type === 'S') return new Uint8Array();
    this.copy = null;
    const before = this.server.pglite.isInTransaction();
    if (type === 'f') {
      this.status = before ? 'E' : 'I';
      return Buffer.concat([
        errorResponse('57014', 'COPY from stdin failed: the client cancelled it'),
        ready(this.status),
      ]);
    }
    try {
      const result = await this.server.pglite.query(copy.statement, [], { blob: new Blob(copy.chunks) });
      this.status = this.server.pglite.isInTransaction() ? 'T' : 'I';
      return Buffer.concat([commandComplete(`COPY ${result.affectedRows ?? 0}`), ready(this.status)]);
    } catch (error) {
      const code = (error as { code?: unknown }).code;
      this.status = before ? 'E' : 'I';
      return Buffer.concat([
        errorResponse(typeof code === 'string' ? code : 'XX000', (error as Error).message),
        ready(this.status),
      ]);
    }
  }

  /** The client went away: undo what it left open, then let the next one in. */
  async closed(): Promise<void> {
    this.gone = true;
    this.pending.length = 0;
    if (!this.server.isOwner(this)) return;
    try {
      if (this.copy || this.status === 'C') {
        this.copy = null;
        await this.server.pglite.execProtocolRaw(Buffer.from([0x53, 0, 0, 0, 4])); // Sync
      }
      if (this.server.pglite.isInTransaction() || this.status === 'T' || this.status === 'E') {
        await this.server.pglite.execProtocolRaw(query('ROLLBACK'));
      }
    } finally {
      this.status = 'I';
      this.server.release(this);
    }
  }
}

function samePassword(given: Buffer, expected: string | null): boolean {
  const want = Buffer.from(expected ?? '', 'utf8');
  return given.length === want.length && timingSafeEqual(given, want);
}

/** The status byte of the last ReadyForQuery in a reply, or null when the reply holds none. */
function lastReadyStatus(reply: Uint8Array): 'I' | 'T' | 'E' | null {
  let status: 'I' | 'T' | 'E' | null = null;
  const view = Buffer.from(reply.buffer, reply.byteOffset, reply.byteLength);
  let at = 0;
  while (at + 5 <= view.length) {
    const length = view.readInt32BE(at + 1);
    if (view[at] === 0x5a && length === 5) status = String.fromCharCode(view[at + 5] as number) as 'I';
    at += 1 + length;
  }
  return status;
}

function message(type: string, body: Buffer): Buffer {
  const head = Buffer.alloc(5);
  head.write(type, 0, 'latin1');
  head.writeInt32BE(body.length + 4, 1);
  return Buffer.concat([head, body]);
}

function cstring(text: string): Buffer {
  return Buffer.concat([Buffer.from(text, 'utf8'), Buffer.from([0])]);
}

/** A protocol 3.0 StartupMessage for user postgres, database postgres. */
function startupMessage(): Buffer {
  const body = Buffer.concat([
    Buffer.from([0, 3, 0, 0]),
    cstring('user'),
    cstring('postgres'),
    cstring('database'),
    cstring('postgres'),
    Buffer.from([0]),
  ]);
  const head = Buffer.alloc(4);
  head.writeInt32BE(body.length + 4, 0);
  return Buffer.concat([head, body]);
}

function query(sql: string): Buffer {
  return message('Q', cstring(sql));
}

function ready(status: 'I' | 'T' | 'E'): Buffer {
  return message('Z', Buffer.from(status, 'latin1'));
}

function commandComplete(tag: string): Buffer {
  return message('C', cstring(tag));
}

function errorResponse(code: string, text: string): Buffer {
  return message(
    'E',
    Buffer.concat([
      cstring('SERROR'),
      cstring('VERROR'),
      cstring(`C${code}`),
      cstring(`M${text}`),
      Buffer.from([0]),
    ]),
  );
}
