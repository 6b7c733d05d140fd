/**
 * The console's guards: where it may listen, who may act, and what a page may load.
 *
 * - It listens on loopback unless told otherwise; any other address needs GUIJI_SERVE_TOKEN.
 * - Every action (a POST) needs the token: in the `x-guiji-token` header (scripts), in the form's `token` field,
 *   or as the session cookie a person gets by signing in with it, together with the form's CSRF field (a
 *   keyed hash of the token an attacking site cannot compute). Without a configured token actions are refused.
 * - A POST sent by another site is refused before anything else: `Sec-Fetch-Site` must be same-origin (or none,
 *   a typed URL or a script) and an `Origin` header, when there is one, must be this server's own.
 * - Content-Security-Policy: no script at all, styles only from the console's own stylesheet, images from it or
 *   `data:` (the server-rendered SVG charts), forms only to itself, no framing.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { ConfigError } from '../../lib/errors.js';

const LOOPBACK = new Set(['127.0.0.1', '::1', 'localhost']);

export const CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'none'",
  "style-src 'self'",
  "img-src 'self' data:",
  "form-action 'self'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
].join('; ');

/** The full HTML report keeps its inline stylesheet: its own policy allows that and nothing else. */
export const REPORT_SECURITY_POLICY =
  "default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'none'; base-uri 'none'";

export const TOKEN_HEADER = 'x-guiji-token';
export const SESSION_COOKIE = 'guiji_session';

/** Refuses (exit 2) to listen off loopback without a token. */
export function checkListenAddress(host: string, token: string | null): void {
  if (!LOOPBACK.has(host) && !token)
    throw new ConfigError(
      'GUIJI_SERVE_TOKEN',
      `the console would listen on ${host}, reachable from other machines: set GUIJI_SERVE_TOKEN (16 characters or more) or leave --host at 127.0.0.1`,
    );
}

function keyed(token: string, purpose: string): string {
  return createHmac('sha256', token).update(purpose).digest('base64url');
}

function same(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** The cookie value of a signed-in person and the CSRF field of their forms, both derived from the token. */
export function sessionOf(token: string): string {
  return keyed(token, 'guiji-console-session');
}
export function csrfOf(token: string): string {
  return keyed(token, 'guiji-console-csrf');
}

export function cookies(request: FastifyRequest): Map<string, string> {
  const out = new Map<string, string>();
  for (const part of (request.headers.cookie ?? '').split(';')) {
    const at = part.indexOf('=');
    if (at > 0) out.set(part.slice(0, at).trim(), decodeURIComponent(part.slice(at + 1).trim()));
  }
  return out;
}

/** Whether the request was sent by a page of another site (a cross-site form or fetch). */
export function crossSite(request: FastifyRequest): boolean {
  const site = request.headers['sec-fetch-site'];
  if (site !== undefined && site !== 'same-origin' && site !== 'none') return true;
  const origin = request.headers.origin;
  if (origin === undefined) return false;
  try {
    return new URL(origin).host !== request.headers.host;
  } catch {
    return true;
  }
}

export type Refusal = 'cross-site' | 'no-token-configured' | 'bad-token';

/** Why an action may not go ahead, or null when it may. */
export function refusal(request: FastifyRequest, token: string | null): Refusal | null {
  if (crossSite(request)) return 'cross-site';
  if (!token) return 'no-token-configured';
  const header = request.headers[TOKEN_HEADER];
  if (typeof header === 'string' && same(header, token)) return null;
  const body = (request.body ?? {}) as Record<string, unknown>;
  if (typeof body.token === 'string' && same(body.token, token)) return null;
  const session = cookies(request).get(SESSION_COOKIE);
  if (
    session &&
    same(session, sessionOf(token)) &&
    typeof body.csrf === 'string' &&
    same(body.csrf, csrfOf(token))
  )
    return null;
  return 'bad-token';
}

/** Whether the person viewing holds the session of the token (shows the forms' actions). */
export function signedIn(request: FastifyRequest, token: string | null): boolean {
  const session = cookies(request).get(SESSION_COOKIE);
  return !!token && !!session && same(session, sessionOf(token));
}

/** The headers every answer carries. */
export function secure(reply: FastifyReply): void {
  reply.header('content-security-policy', CONTENT_SECURITY_POLICY);
  reply.header('x-content-type-options', 'nosniff');
  // same-origin, not no-referrer: under no-referrer a browser sends `Origin: null` with its forms, which the guard refuses
  reply.header('referrer-policy', 'same-origin');
  reply.header('x-frame-options', 'DENY');
  reply.header('cross-origin-opener-policy', 'same-origin');
  reply.header('cache-control', 'no-store');
}

/** How a request offers the token, for the audit log: header, form field or session cookie. */
export function viaOf(request: FastifyRequest): string {
  if (request.headers[TOKEN_HEADER] !== undefined) return 'header';
  const body = (request.body ?? {}) as Record<string, unknown>;
  return body.token !== undefined ? 'form' : 'session';
}
