import { afterEach, describe, expect, it } from 'vitest';
import {
  createSharingClient,
  decodeDatas,
  type SharingClientOptions,
} from '../connectors/sharing-platform/client.js';
import { GuijiError } from '../lib/errors.js';
import {
  DEFAULT_SHARING_APP_KEY,
  DEFAULT_SHARING_APP_SECRET,
  type RunningSharingSimulator,
  startSharingSimulator,
} from '../pipelines/simulate/sharing-platform.js';

const FAST_RETRY = { maxAttempts: 12, baseDelayMs: 5, maxDelayMs: 40, maxRetryAfterMs: 50 };
const ALL = ['2000-01-01 00:00:00', '2030-01-01 00:00:00'] as const;

let sims: RunningSharingSimulator[] = [];
afterEach(async () => {
  await Promise.all(sims.map((s) => s.close()));
  sims = [];
});

async function sim(options: Parameters<typeof startSharingSimulator>[0]): Promise<RunningSharingSimulator> {
  const s = await startSharingSimulator({ hangMs: 2_000, ...options });
  sims.push(s);
  return s;
}

function client(s: RunningSharingSimulator, extra: Partial<SharingClientOptions> = {}) {
  return createSharingClient({
    baseUrl: s.url,
    appKey: DEFAULT_SHARING_APP_KEY,
    appSecret: DEFAULT_SHARING_APP_SECRET,
    // long enough never to fire on a busy machine: tests that count requests must not see a spurious retry
    timeoutMs: 10_000,
    retry: FAST_RETRY,
    quotaBaseDelayMs: 5,
    quotaMaxDelayMs: 40,
    requestsPerSecond: 1000,
    ...extra,
  });
}

async function pullIds(
  c: ReturnType<typeof createSharingClient>,
  id: string,
  from: string,
  to: string,
  pageSize = 20,
) {
  const ids: string[] = [];
  for await (const page of c.pull(id, from, to, { pageSize })) {
    for (const row of page.rows) ids.push(String(row['ID']));
  }
  return ids;
}

describe('data-sharing platform client against the simulator', () => {
  it('gets a token by key, signs data calls and decodes datas given as a JSON string', async () => {
    const s = await sim({ records: 120, seed: 2, datasAsString: 'always' });
    const c = client(s);
    const rows: Record<string, unknown>[] = [];
    for await (const page of c.pull('xzxk', ...ALL, { pageSize: 25 })) rows.push(...page.rows);
    expect(rows.map((r) => r['ID'])).toEqual(s.store.idsIn('xzxk', ...ALL).map((r) => r.id));
    expect(rows[0]).toHaveProperty('XK_WSH');
    expect(s.stats.datasAsString).toBe(5);
    expect(s.stats.tokens).toEqual({ byKey: 1, bySec: 0 });
    expect(s.stats.rejected).toEqual({});
  });

  it('asked for 500 a page, a platform serving 100 of 5,000 yields all 5,000 once (declared or not)', async () => {
    for (const declarePageSize of [false, true]) {
      const s = await sim({ records: 5_000, seed: 3, clampPageSize: 100, declarePageSize });
      const ids = await pullIds(client(s), 'xzxk', ...ALL, 500);
      expect(ids).toEqual(s.store.idsIn('xzxk', ...ALL).map((r) => r.id));
      expect(ids).toHaveLength(5_000);
      expect(s.stats.served).toBe(50);
    }
  });

  it('decodes datas whether an object or a string', () => {
    const datas = { total: 1, rows: [{ ID: 'a' }] };
    expect(decodeDatas(datas)).toEqual(datas);
    expect(decodeDatas(JSON.stringify(datas))).toEqual(datas);
    expect(decodeDatas('not json')).toBeUndefined();
  });

  it('reads the page size and number datas declares, and refuses datas without a total', () => {
    expect(decodeDatas({ total: '5', pageNum: '2', pageSize: 2, rows: [{ ID: 'c' }] })).toEqual({
      total: 5,
      pageNo: 2,
      pageSize: 2,
      rows: [{ ID: 'c' }],
    });
    // without a total the pager could not tell the last page from a short one
    expect(decodeDatas({ rows: [{ ID: 'a' }] })).toBeUndefined();
    expect(decodeDatas({ total: '', rows: [] })).toBeUndefined();
  });

  it('a wrong app secret is a configuration error naming GUIJI_SHARING_APP_SECRET, without the secret', async () => {
    const s = await sim({ records: 20, seed: 1 });
    const secret = 'not-the-secret-Yp42';
    const error = await pullIds(client(s, { appSecret: secret }), 'xzxk', ...ALL).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(GuijiError);
    expect((error as GuijiError).code).toBe('GUIJI_ERR_CONFIG');
    expect((error as GuijiError).context.setting).toBe('GUIJI_SHARING_APP_SECRET');
    expect((error as Error).message).toContain('GUIJI_SHARING_APP_SECRET');
    expect((error as Error).message).not.toContain(secret);
  });

  it('renews the request secret by the refresh secret before it ends, and by key once the refresh secret ends', async () => {
    // one clock for the platform and the client, moved by the test: no waiting, no race with real time
    let now = Date.parse('2026-03-02T09:00:00+08:00');
    const clock = () => now;
    const s = await sim({
      records: 60,
      seed: 4,
      requestSecretTtlMs: 400,
      refreshSecretTtlMs: 1_200,
      now: clock,
    });
    const c = client(s, { refreshAheadMs: 100, now: clock });
    expect(await pullIds(c, 'xzxk', ...ALL)).toHaveLength(60);
    expect(s.stats.tokens).toEqual({ byKey: 1, bySec: 0 });
    now += 299; // 101 ms before the request secret ends: still outside refreshAhead
    expect(await pullIds(c, 'xzxk', ...ALL)).toHaveLength(60);
    expect(s.stats.tokens).toEqual({ byKey: 1, bySec: 0 });
    now += 1; // 100 ms before its end: within refreshAhead, renewed by the refresh secret
    expect(await pullIds(c, 'xzxk', ...ALL)).toHaveLength(60);
    expect(s.stats.tokens).toEqual({ byKey: 1, bySec: 1 });
    now += 1_200; // both secrets of the renewal have ended
    expect(await pullIds(c, 'xzxk', ...ALL)).toHaveLength(60);
    expect(s.stats.tokens).toEqual({ byKey: 2, bySec: 1 });
    expect(s.stats.rejected).toEqual({});
  });

  it('a request secret the platform declares expired (11) is refreshed and the call retried', async () => {
    const s = await sim({ records: 60, seed: 4 });
    const c = client(s);
    const ids: string[] = [];
    let first = true;
    for await (const page of c.pull('xzxk', ...ALL, { pageSize: 20 })) {
      ids.push(...page.rows.map((r) => String(r['ID'])));
      if (first) s.expireRequestSecrets();
      first = false;
    }
    expect(new Set(ids)).toEqual(new Set(s.store.ids('xzxk')));
    expect(s.stats.rejected['11']).toBe(1);
    expect(s.stats.tokens).toEqual({ byKey: 1, bySec: 1 });
  });

  it('pulls every record of the window through 5xx, timeouts, quota answers and secret expiry', async () => {
    const s = await sim({ records: 500, seed: 11, faults: '5xx=0.1,timeout=0.05,quota=0.05,expire=0.02' });
    const c = client(s, { retryBudget: 1000, timeoutMs: 150 }); // the held requests time out
    const ids = await pullIds(c, 'xzxk', ...ALL, 4);
    expect(new Set(ids)).toEqual(new Set(s.store.ids('xzxk')));
    expect(s.stats.faults['5xx']).toBeGreaterThan(0);
    expect(s.stats.faults.timeout).toBeGreaterThan(0);
    expect(s.stats.faults.quota).toBeGreaterThan(0);
    expect(s.stats.faults.expire).toBeGreaterThan(0);
    expect(s.stats.datasAsString).toBeGreaterThan(0);
  });

  it('windows are half-open', async () => {
    const s = await sim({ records: 200, seed: 8 });
    const all = s.store.idsIn('xzxk', ...ALL);
    const at = all[77] as { id: string; sjc: string };
    const c = client(s);
    const before = await pullIds(c, 'xzxk', ALL[0], at.sjc);
    const after = await pullIds(c, 'xzxk', at.sjc, ALL[1]);
    expect(before).not.toContain(at.id);
    expect(after).toContain(at.id);
    expect(before.length + after.length).toBe(200);
  });

  it('a persistent quota fails the source within its budget', async () => {
    const s = await sim({ records: 20, seed: 1, faults: 'quota=1' });
    const c = client(s, { retryBudget: 4 });
    const error = await pullIds(c, 'xzxk', ...ALL).catch((e: unknown) => e);
    expect((error as GuijiError).code).toBe('GUIJI_ERR_SOURCE_HTTP');
    expect((error as Error).message).toMatch(/quota/);
    expect(s.stats.faults.quota).toBe(5);
  });
});
