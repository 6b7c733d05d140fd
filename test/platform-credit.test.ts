import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { type CreditClientOptions, createCreditClient } from '../connectors/credit-platform/client.js';
import { fetchJson } from '../connectors/http/fetch-json.js';
import { GuijiError } from '../lib/errors.js';
import {
  DEFAULT_CREDIT_APP_KEY,
  DEFAULT_CREDIT_APP_SECRET,
  type RunningSimulator,
  startCreditSimulator,
} from '../pipelines/simulate/credit-platform.js';
import { parseShortPage } from '../pipelines/simulate/pages.js';
import { createStore } from '../pipelines/simulate/store.js';

const FAST_RETRY = { maxAttempts: 12, baseDelayMs: 5, maxDelayMs: 40, maxRetryAfterMs: 50 };
const ALL = ['2000-01-01 00:00:00', '2030-01-01 00:00:00'] as const;

let sims: RunningSimulator[] = [];
afterEach(async () => {
  await Promise.all(sims.map((s) => s.close()));
  sims = [];
});

async function sim(options: Parameters<typeof startCreditSimulator>[0]): Promise<RunningSimulator> {
  const s = await startCreditSimulator({ hangMs: 2_000, retryAfterSeconds: 0, ...options });
  sims.push(s);
  return s;
}

function client(s: RunningSimulator, extra: Partial<CreditClientOptions> = {}) {
  return createCreditClient({
    baseUrl: s.url,
    appKey: DEFAULT_CREDIT_APP_KEY,
    appSecret: DEFAULT_CREDIT_APP_SECRET,
    // long enough never to fire on a busy machine: tests that count requests must not see a spurious retry
    timeoutMs: 10_000,
    retry: FAST_RETRY,
    requestsPerSecond: 1000,
    ...extra,
  });
}

async function pullIds(
  c: ReturnType<typeof createCreditClient>,
  dataset: string,
  from: string,
  to: string,
  pageSize = 50,
): Promise<string[]> {
  const ids: string[] = [];
  for await (const page of c.pull(dataset, from, to, { pageSize })) {
    for (const row of page.rows) ids.push(String(row['ID']));
  }
  return ids;
}

describe('credit platform client against the simulator', () => {
  it('signs requests the simulator accepts and pulls a window in (SJC, ID) order with field codes', async () => {
    const s = await sim({ records: 300, seed: 7 });
    const c = client(s);
    const rows: Record<string, unknown>[] = [];
    for await (const page of c.pull('xzcf', ...ALL, { pageSize: 40 })) rows.push(...page.rows);
    const expected = s.store.idsIn('xzcf', ...ALL).map((r) => r.id);
    expect(rows.map((r) => r['ID'])).toEqual(expected);
    expect(rows).toHaveLength(100);
    const first = rows[0] as Record<string, unknown>;
    expect(first).toHaveProperty('CF_WSH');
    expect(first).toHaveProperty('CF_XDR_SHXYM');
    expect(String(first['SJC'])).toMatch(/^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$/);
    for (let i = 1; i < rows.length; i++) {
      const a = rows[i - 1] as Record<string, unknown>;
      const b = rows[i] as Record<string, unknown>;
      expect(`${a['SJC']} ${a['ID']}` < `${b['SJC']} ${b['ID']}`).toBe(true);
    }
    expect(s.stats.rejected).toEqual({});
  });

  it('asked for 500 a page, a platform serving 100 of 5,000 yields all 5,000 once (declared or not)', async () => {
    for (const declarePageSize of [true, false]) {
      const s = await sim({ records: 15_000, seed: 3, clampPageSize: 100, declarePageSize });
      const ids = await pullIds(client(s), 'xzcf', ...ALL, 500);
      expect(ids).toEqual(s.store.idsIn('xzcf', ...ALL).map((r) => r.id));
      expect(ids).toHaveLength(5_000);
      expect(s.stats.served).toBe(50);
    }
  });

  it('a wrong secret is a configuration error naming GUIJI_CREDIT_APP_SECRET, without the secret', async () => {
    const s = await sim({ records: 30, seed: 1 });
    const secret = 'wrong-secret-Zq81xk';
    const c = client(s, { appSecret: secret });
    const error = await pullIds(c, 'xzxk', ...ALL).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(GuijiError);
    expect((error as GuijiError).code).toBe('GUIJI_ERR_CONFIG');
    expect((error as GuijiError).context.setting).toBe('GUIJI_CREDIT_APP_SECRET');
    expect((error as Error).message).toContain('GUIJI_CREDIT_APP_SECRET');
    expect(JSON.stringify({ m: (error as Error).message, c: (error as GuijiError).context })).not.toContain(
      secret,
    );
    expect(s.stats.rejected['14']).toBe(1);
  });

  it('pulls every record of the window through 5xx, timeouts, quota answers and expired timestamps', async () => {
    const s = await sim({ records: 1200, seed: 42, faults: '5xx=0.1,timeout=0.05,quota=0.05,expire=0.02' });
    const c = client(s, { retryBudget: 1000, timeoutMs: 150 }); // the held requests time out
    for (const dataset of ['xzxk', 'xzcf', 'lhcj']) {
      const ids = await pullIds(c, dataset, ...ALL, 10);
      const expected = s.store.ids(dataset);
      expect(new Set(ids)).toEqual(new Set(expected));
    }
    expect(s.stats.faults['5xx']).toBeGreaterThan(0);
    expect(s.stats.faults.timeout).toBeGreaterThan(0);
    expect(s.stats.faults.quota).toBeGreaterThan(0);
    expect(s.stats.faults.expire).toBeGreaterThan(0);
  });

  it('windows are half-open: a record updated exactly at `to` is left for the next window', async () => {
    const s = await sim({ records: 600, seed: 3 });
    const all = s.store.idsIn('xzxk', ...ALL);
    const at = all[120] as { id: string; sjc: string };
    const fromRow = all[40] as { id: string; sjc: string };
    const c = client(s);
    const first = await pullIds(c, 'xzxk', fromRow.sjc, at.sjc);
    const second = await pullIds(c, 'xzxk', at.sjc, ALL[1]);
    expect(first).toContain(fromRow.id);
    expect(first).not.toContain(at.id);
    expect(second).toContain(at.id);
    expect(new Set([...first, ...second])).toEqual(
      new Set(s.store.idsIn('xzxk', fromRow.sjc, ALL[1]).map((r) => r.id)),
    );
    expect(first.length + second.length).toBe(s.store.idsIn('xzxk', fromRow.sjc, ALL[1]).length);
  });

  it('records updated while paging (drift) do not make the pager skip the records behind them', async () => {
    const s = await sim({ records: 900, seed: 5, faults: 'drift=0.3' });
    const to = '2025-07-01 00:00:00'; // a frozen window in the past: updates move records out of it
    const c = client(s);
    const ids = new Set(await pullIds(c, 'xzcf', ALL[0], to, 20));
    expect(s.stats.faults.drift).toBeGreaterThan(3);
    const stillInWindow = s.store.idsIn('xzcf', ALL[0], to).map((r) => r.id);
    for (const id of stillInWindow) expect(ids.has(id)).toBe(true);
  });

  it('an updated record comes back with a newer SJC in a later window', async () => {
    const s = await sim({ records: 90, seed: 9 });
    const id = s.store.ids('lhcj')[0] as string;
    const row = s.store.update('lhcj', id, '2026-01-02 03:04:05');
    const c = client(s);
    const later: Record<string, unknown>[] = [];
    for await (const page of c.pull('lhcj', '2026-01-01 00:00:00', '2026-02-01 00:00:00'))
      later.push(...page.rows);
    expect(later).toHaveLength(1);
    expect(later[0]).toMatchObject({ ID: id, SJC: '2026-01-02 03:04:05', BZ: row['BZ'] });
  });

  it('a store that keeps rendered rows serves the same rows, and an update replaces the kept one', async () => {
    const kept = createStore({ records: 60, seed: 4, keepRendered: true });
    const fresh = createStore({ records: 60, seed: 4 });
    kept.prerender();
    const id = kept.ids('xzcf')[3] as string;
    const updated = kept.update('xzcf', id, '2026-01-02 03:04:05');
    fresh.update('xzcf', id, '2026-01-02 03:04:05');
    const page = kept.queryJson('xzcf', ...ALL, 1, 100);
    expect(JSON.parse(page.rowsJson)).toEqual(fresh.query('xzcf', ...ALL, 1, 100).rows);
    expect(page.total).toBe(20);
    const rows = JSON.parse(page.rowsJson) as Record<string, unknown>[];
    expect(rows.at(-1)).toMatchObject({ ID: id, SJC: '2026-01-02 03:04:05', BZ: updated['BZ'] });
  });

  it('a skewed clock fails with a message about the clock after re-signing', async () => {
    const s = await sim({ records: 30, seed: 1 });
    const c = client(s, { now: () => Date.now() - 10 * 60_000 });
    const error = await pullIds(c, 'xzxk', ...ALL).catch((e: unknown) => e);
    expect((error as GuijiError).code).toBe('GUIJI_ERR_SOURCE_HTTP');
    expect((error as Error).message).toMatch(/clock/);
    expect(s.stats.rejected['11']).toBe(4);
  });

  it('a platform that keeps failing fails the source with the URL without its query, within the budget', async () => {
    const s = await sim({ records: 30, seed: 1, faults: '5xx=1' });
    const c = client(s, { retryBudget: 5 });
    const error = await pullIds(c, 'xzxk', ...ALL).catch((e: unknown) => e);
    expect((error as GuijiError).code).toBe('GUIJI_ERR_SOURCE_HTTP');
    expect((error as GuijiError).context.status).toBeGreaterThanOrEqual(500);
    expect((error as Error).message).toContain(`${s.url}/api/v1/xzxk/records`);
    expect((error as Error).message).not.toContain('?');
    expect((error as Error).message).toMatch(/budget/);
    expect(c.budget.used).toBe(5);
  });
});

describe('guiji simulate --short-page', () => {
  it('reads PAGE:ROWS[:TIMES|always] and names the expected form when it cannot', () => {
    expect(parseShortPage('3:40')).toEqual({ pageNo: 3, rows: 40, times: 1 });
    expect(parseShortPage('3:40:2')).toEqual({ pageNo: 3, rows: 40, times: 2 });
    expect(parseShortPage('3:40:always')).toEqual({ pageNo: 3, rows: 40, times: Number.POSITIVE_INFINITY });
    expect(() => parseShortPage('3')).toThrow(/PAGE:ROWS/);
  });
});

describe('credit platform answers as real platforms send them', () => {
  it('reads the bare `{ total, rows }` answer some platforms send (a real-shaped 行政处罚 answer)', async () => {
    const answer = readFileSync(
      join(import.meta.dirname, 'fixtures/platform/credit-bare-answer.json'),
      'utf8',
    );
    const server = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(answer);
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    try {
      const { port } = server.address() as AddressInfo;
      const c = createCreditClient({
        baseUrl: `http://127.0.0.1:${port}`,
        appKey: 'k',
        appSecret: 's',
        timeoutMs: 5_000,
      });
      const pages = [];
      for await (const page of c.pull('xzcf', ...ALL)) pages.push(page);
      expect(pages).toHaveLength(1);
      expect(pages[0]).toMatchObject({ total: 1, pageNo: 1 });
      expect(pages[0]!.rows[0]).toMatchObject({ CF_WSH: '市场【2019】1号', CF_NR_FK: 0.2 });
    } finally {
      server.close();
    }
  });
});

describe('fetchJson', () => {
  it('honours Retry-After: the wait asked for is the one the platform named', async () => {
    let calls = 0;
    const server = createServer((_req, res) => {
      calls++;
      if (calls === 1) {
        res.writeHead(429, { 'retry-after': '7', 'content-type': 'application/json' });
        res.end('{"code":"18"}');
      } else if (calls === 2) {
        // an HTTP date 3 s after the injected clock's now
        res.writeHead(503, { 'retry-after': 'Mon, 02 Mar 2026 01:00:03 GMT' });
        res.end();
      } else {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end('{"code":"00"}');
      }
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    try {
      const { port } = server.address() as AddressInfo;
      const waits: number[] = [];
      const { body } = await fetchJson<{ code: string }>(
        { url: `http://127.0.0.1:${port}/x?token=abc` },
        {
          timeoutMs: 5_000,
          retry: { baseDelayMs: 1, maxDelayMs: 1 },
          now: () => Date.parse('2026-03-02T01:00:00Z'),
          sleep: async (ms) => {
            waits.push(ms);
          },
        },
      );
      expect(body.code).toBe('00');
      expect(waits).toEqual([7_000, 3_000]);
    } finally {
      server.close();
    }
  });
});
