/** The HTTP plumbing the platform simulators share: 127.0.0.1 only, JSON answers, held sockets, clean close. */
import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Listening {
  url: string;
  server: Server;
  close(): Promise<void>;
}

/** Starts `handler` on 127.0.0.1:`port` (0 = any free port). `close()` also drops held (timed-out) requests. */
export async function listenLocal(
  port: number,
  handler: (req: IncomingMessage, res: ServerResponse) => unknown,
): Promise<Listening> {
  const held = new Set<NodeJS.Timeout>();
  const server = createServer((req, res) => {
    Promise.resolve(handler(req, res)).catch((error: unknown) => {
      if (!res.headersSent) sendJson(res, 500, { code: '99', msg: `simulator error: ${String(error)}` });
      else res.destroy();
    });
  });
  server.keepAliveTimeout = 5_000;
  server.on('hold', (timer: NodeJS.Timeout) => held.add(timer));
  server.listen(port, '127.0.0.1');
  await once(server, 'listening');
  const { port: actual } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${actual}`,
    server,
    async close() {
      for (const timer of held) clearTimeout(timer);
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await closed;
    },
  };
}

/** Holds a request without answering for `ms`, then destroys the socket (a platform that hangs). */
export function hang(server: Server, res: ServerResponse, ms: number): void {
  const timer = setTimeout(() => res.destroy(), ms);
  timer.unref();
  server.emit('hold', timer);
}

export function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
) {
  sendJsonText(res, status, JSON.stringify(body), headers);
}

/** Sends `text`, already JSON, as the answer. */
export function sendJsonText(
  res: ServerResponse,
  status: number,
  text: string,
  headers: Record<string, string> = {},
) {
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': String(Buffer.byteLength(text)),
    ...headers,
  });
  res.end(text);
}

export async function readBody(req: IncomingMessage, limit = 1 << 20): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > limit) throw new Error('request body too large');
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}
