/**
 * `guiji doctor`'s one signed request to each platform. Every use of the platform clients by the doctor is in
 * this file (the clients' public `create…Client(options).pull`), so that a change of the clients' shape is
 * met here and nowhere else.
 */
import { CREDIT_SOURCE, createCreditClient } from '../../connectors/credit-platform/client.js';
import { createSharingClient, type SHARING_SOURCE } from '../../connectors/sharing-platform/client.js';
import type { Config } from '../../lib/config.js';
import { ConfigError, messageOf, unreachableReason } from '../../lib/errors.js';

export interface ProbeResult {
  ok: boolean;
  detail: string;
}

/** No retries: the doctor reports what the first answer says, in seconds, instead of a night's patience. */
const NO_RETRY = { retry: { maxAttempts: 1 }, retryBudget: 0 } as const;

/**
 * Asks the platform for the first page (one row) of its first dataset or interface over the last hour: the
 * request is signed (the sharing platform's after a token request) and must be accepted.
 */
export async function probePlatform(
  config: Readonly<Config>,
  source: typeof CREDIT_SOURCE | typeof SHARING_SOURCE,
  now: number = Date.now(),
): Promise<ProbeResult> {
  const credit = source === CREDIT_SOURCE;
  const prefix = credit ? 'GUIJI_CREDIT' : 'GUIJI_SHARING';
  const url = credit ? config.creditUrl : config.sharingUrl;
  const appKey = credit ? config.creditAppKey : config.sharingAppKey;
  const appSecret = credit ? config.creditAppSecret : config.sharingAppSecret;
  if (!url) return { ok: false, detail: `${prefix}_URL is not set` };
  if (!appKey) return { ok: false, detail: `${prefix}_APP_KEY is not set` };
  if (!appSecret) return { ok: false, detail: `${prefix}_APP_SECRET is not set` };
  const options = {
    baseUrl: url,
    appKey,
    appSecret,
    timeoutMs: credit ? config.creditTimeoutMs : config.sharingTimeoutMs,
    pageSize: 1,
    ...NO_RETRY,
  };
  const stream = credit
    ? (config.creditDatasets.split(',')[0] as string)
    : (config.sharingInterfaces.split(',')[0]?.split('=')[0] as string);
  const client = credit ? createCreditClient(options) : createSharingClient(options);
  const from = now - 3_600_000;
  try {
    for await (const page of client.pull(stream, from, now, { pageSize: 1 })) {
      return {
        ok: true,
        detail: `${redactedBase(url)}: signed request accepted (${stream}: ${page.total} records in the last hour)`,
      };
    }
    return { ok: true, detail: `${redactedBase(url)}: signed request accepted (${stream})` };
  } catch (error) {
    if (error instanceof ConfigError) return { ok: false, detail: messageOf(error) };
    const unreachable = unreachableReason(error);
    if (unreachable)
      return { ok: false, detail: `cannot reach ${redactedBase(url)} (${prefix}_URL): ${unreachable}` };
    return { ok: false, detail: `${messageOf(error)} (${prefix}_URL)` };
  }
}

/** The platform's address without credentials or query (an app key may travel there). */
function redactedBase(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}${u.pathname.replace(/\/+$/, '')}`;
  } catch {
    return '(unparseable URL)';
  }
}
