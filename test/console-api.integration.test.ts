import { PassThrough } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Warehouse } from '../lib/db.js';
import { createLogger } from '../lib/logger.js';
import type { FiledRecord } from '../pipelines/console/enterprises.js';
import { CONTENT_SECURITY_POLICY } from '../pipelines/console/security.js';
import { buildConsole } from '../pipelines/console/server.js';
import type { Review } from '../pipelines/match/review.js';
import {
  BAICHUAN,
  CLOSE_NAME,
  DONGFANG,
  loadConsoleData,
  OUTSIDER,
  PENALTY_DOC,
  RENAMED,
} from './helpers/console-data.js';
import { makeEnv, type TestEnv, WAREHOUSE_KIND } from './helpers/env.js';

const TOKEN = 'a-long-enough-test-token';
const TODAY = '2024-06-01';

interface Profile {
  enterprise: { uscc: string; name: string; names: string[]; legalRep: string | null };
  records: FiledRecord[];
}

describe(`guiji serve: the console's API and its guards (${WAREHOUSE_KIND})`, () => {
  let env: TestEnv;
  let db: Warehouse;
  let app: FastifyInstance;
  let bare: FastifyInstance;
  const log: string[] = [];

  const json = async <T>(url: string): Promise<T> => {
    const r = await app.inject({ url });
    expect(r.statusCode, r.body).toBe(200);
    return r.json() as T;
  };
  const search = async (q: string) =>
    (
      await json<{ enterprises: { uscc: string; formerName: string | null }[] }>(
        `/api/enterprises?q=${encodeURIComponent(q)}`,
      )
    ).enterprises;
  const waiting = async () => (await json<{ reviews: Review[] }>('/api/reviews')).reviews;

  beforeAll(async () => {
    // the fixture's penalties were decided 2024-03-01: public on this day, not yet repairable
    env = await makeEnv('console-api', { GUIJI_TODAY: TODAY });
    await loadConsoleData(env);
    db = await env.open();
    const stream = new PassThrough();
    stream.on('data', (d: Buffer) => log.push(...d.toString().split('\n').filter(Boolean)));
    const base = { config: env.config, db, catalog: env.catalog };
    app = await buildConsole({ ...base, logger: createLogger('info', stream), token: TOKEN });
    bare = await buildConsole({ ...base, logger: createLogger('silent'), token: null });
  }, 300_000);

  afterAll(async () => {
    await app?.close();
    await bare?.close();
    await db?.close();
    await env?.cleanup();
  });

  it('finds an enterprise by credit code, by name and by former name, normalised as matching does', async () => {
    expect((await search(BAICHUAN.uscc.toLowerCase())).map((h) => h.uscc)).toEqual([BAICHUAN.uscc]);
    expect((await search('百川智能')).map((h) => h.uscc)).toEqual([BAICHUAN.uscc]);
    // the former name, written with full-width brackets, spaces and the long legal form
    const former = await search(' 界首市（百川）电器有限责任公司 ');
    expect(former).toEqual([
      { uscc: BAICHUAN.uscc, name: RENAMED, status: '存续', formerName: BAICHUAN.name },
    ]);
    expect(await search('没有这家企业')).toEqual([]);
    // LIKE's wildcards are taken literally
    expect(await search('%')).toEqual([]);
    const bad = await app.inject({ url: '/api/enterprises' });
    expect(bad.statusCode).toBe(400);
    expect(bad.json()).toMatchObject({ error: { code: 'GUIJI_ERR_USAGE' } });
  });

  it('returns every record filed under a credit code, with its versions, match method and flags', async () => {
    const profile = await json<Profile>(`/api/enterprises/${BAICHUAN.uscc}`);
    expect(profile.enterprise).toMatchObject({
      uscc: BAICHUAN.uscc,
      name: RENAMED,
      names: [BAICHUAN.name, RENAMED],
    });
    expect(profile.records.map((r) => r.resource).sort()).toEqual(['enterprise', 'xzcf', 'xzxk']);
    const penalty = profile.records.find((r) => r.resource === 'xzcf') as FiledRecord;
    expect(penalty).toMatchObject({
      version: 2,
      matchMethod: 'uscc',
      matchFlags: [],
      ownUscc: BAICHUAN.uscc,
    });
    expect(penalty.fields).toMatchObject({ CF_WSH: PENALTY_DOC, CF_WFXW: '虚假宣传（更正）' });
    expect(penalty.history.map((h) => [h.version, h.fields.CF_WFXW])).toEqual([[1, '虚假宣传']]);
    // the other enterprise's records are not there
    expect(profile.records.some((r) => JSON.stringify(r.fields).includes(DONGFANG.name))).toBe(false);
    // a code the register does not hold: its records still have a file, under the name they give
    const outsider = await json<Profile>(`/api/enterprises/${OUTSIDER.uscc}`);
    expect(outsider.enterprise).toMatchObject({ uscc: OUTSIDER.uscc, name: OUTSIDER.name, names: [] });
    expect(outsider.records.map((r) => r.resource)).toEqual(['xzcf']);
    const missing = await app.inject({ url: '/api/enterprises/91341282MA2N0000X0' });
    expect(missing.statusCode).toBe(404);
    expect((await app.inject({ url: '/api/enterprises/DROP%20TABLE' })).statusCode).toBe(400);
  });

  it('shows the public preview masked as the public views are', async () => {
    const preview = await json<Profile>(`/api/enterprises/${BAICHUAN.uscc}?view=public`);
    const full = await json<Profile>(`/api/enterprises/${BAICHUAN.uscc}`);
    const [view] = await db.query<{ row: Record<string, unknown> }>(
      `SELECT row_to_json(v) AS row FROM v_xzcf_public v WHERE uscc = $1`,
      [BAICHUAN.uscc],
    );
    const penalty = preview.records.find((r) => r.resource === 'xzcf') as FiledRecord;
    const sensitive = env.catalog.resources.get('xzcf')!.current.fields.filter((f) => f.sensitive);
    expect(sensitive.length).toBeGreaterThan(0);
    for (const f of sensitive)
      expect(penalty.fields[f.code] ?? null).toEqual(view!.row[f.code.toLowerCase()] ?? null);
    expect(JSON.stringify(preview.records)).not.toEqual(JSON.stringify(full.records));
    expect(preview.enterprise.legalRep).toBeNull();
  });

  it('lists runs filtered by kind and source, and a run with its files loaded and rejected', async () => {
    const { runs } = await json<{ runs: { runId: number; kind: string; sources: { source: string }[] }[] }>(
      '/api/runs?kind=run&source=drops',
    );
    expect(runs.map((r) => r.runId)).toEqual([2, 1]);
    expect((await json<{ runs: unknown[] }>('/api/runs?source=credit-platform')).runs).toEqual([]);
    expect((await json<{ runs: unknown[] }>('/api/runs?kind=backfill')).runs).toEqual([]);
    const detail = await json<{ files: { name: string; sha256: string; rowsQuarantined: number }[] }>(
      '/api/runs/1',
    );
    const penalties = detail.files.find((f) => f.name === '行政处罚.csv');
    expect(penalties?.rowsQuarantined).toBe(1);
    // its feedback workbook, made on request
    const workbook = await app.inject({ url: `/runs/1/files/${penalties!.sha256}/feedback.xlsx` });
    expect(workbook.statusCode).toBe(200);
    expect(workbook.rawPayload.subarray(0, 2).toString()).toBe('PK');
    expect(workbook.headers['content-disposition']).toContain(encodeURIComponent('行政处罚.退回说明.xlsx'));
    const clean = detail.files.find((f) => f.name === '企业登记.csv');
    expect((await app.inject({ url: `/runs/1/files/${clean!.sha256}/feedback.xlsx` })).statusCode).toBe(404);
    expect((await app.inject({ url: `/runs/2/files/${penalties!.sha256}/feedback.xlsx` })).statusCode).toBe(
      404,
    );
    expect((await app.inject({ url: '/runs/1/files/..%2F..%2Fetc/feedback.xlsx' })).statusCode).toBe(400);
    expect((await app.inject({ url: '/api/runs/999' })).statusCode).toBe(404);
    expect((await app.inject({ url: '/api/runs/abc' })).statusCode).toBe(400);
    const { files } = await json<{
      files: { file: string; sample: { row: number; issues: { messageZh: string }[] }[] }[];
    }>('/api/rejected');
    expect(files.map((f) => f.file)).toEqual(['行政处罚.csv']);
    expect(files[0]!.sample[0]!.row).toBe(4);
    expect(files[0]!.sample[0]!.issues[0]!.messageZh).toContain('2024-13-45');
  });

  it("gives a month's briefing, and refuses a month that is not one", async () => {
    const [{ month }] = (await db.query<{ month: string }>(
      `SELECT to_char(started_at AT TIME ZONE 'Asia/Shanghai', 'YYYY-MM') AS month FROM runs ORDER BY id DESC LIMIT 1`,
    )) as [{ month: string }];
    const report = await json<{ scope: { runs: number[] }; totals: { read: number } }>(
      `/api/report?month=${month}`,
    );
    expect(report.scope.runs).toEqual([1, 2]);
    expect(report.totals.read).toBe(10);
    expect((await app.inject({ url: '/api/report?month=2001-01' })).statusCode).toBe(404);
    expect((await app.inject({ url: '/api/report?month=2026-13' })).statusCode).toBe(400);
  });

  it('refuses an action without the token, with a wrong one, and from another site; records each in the audit log', async () => {
    const [review] = await waiting();
    expect(review?.name).toBe(CLOSE_NAME);
    const url = `/api/reviews/${review!.id}/accept`;
    const tries = [
      { headers: {} },
      { headers: { 'x-guiji-token': 'wrong-token-of-some-length' } },
      { headers: { 'x-guiji-token': TOKEN, 'sec-fetch-site': 'cross-site' } },
      { headers: { 'x-guiji-token': TOKEN, origin: 'https://evil.example' } },
    ];
    for (const t of tries) {
      const r = await app.inject({ method: 'POST', url, headers: t.headers, payload: {} });
      expect(r.statusCode, JSON.stringify(t.headers)).toBe(403);
      expect(r.json()).toMatchObject({ error: { code: 'GUIJI_ERR_FORBIDDEN' } });
    }
    // a page's form from another site, even with the token in it
    const form = await app.inject({
      method: 'POST',
      url: `/reviews/${review!.id}/accept`,
      headers: { 'content-type': 'application/x-www-form-urlencoded', 'sec-fetch-site': 'cross-site' },
      payload: `token=${TOKEN}`,
    });
    expect(form.statusCode).toBe(403);
    // a console started without a token takes no action at all
    const off = await bare.inject({ method: 'POST', url, headers: { 'x-guiji-token': TOKEN }, payload: {} });
    expect(off.statusCode).toBe(403);
    expect(off.json().error.message).toContain('GUIJI_SERVE_TOKEN');
    expect(await waiting()).toHaveLength(1);
    const refused = log
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .filter((l) => l.audit && l.outcome === 'refused');
    expect(refused.map((l) => l.detail)).toEqual([
      'bad-token',
      'bad-token',
      'cross-site',
      'cross-site',
      'cross-site',
    ]);
    expect(log.join('\n')).not.toContain(TOKEN);
  });

  it('accepts a review with the token: the record is filed under the enterprise, and the action audited', async () => {
    const [review] = await waiting();
    const r = await app.inject({
      method: 'POST',
      url: `/api/reviews/${review!.id}/accept`,
      headers: { 'x-guiji-token': TOKEN, 'sec-fetch-site': 'same-origin' },
      payload: { uscc: BAICHUAN.uscc },
    });
    expect(r.statusCode, r.body).toBe(200);
    expect(r.json()).toMatchObject({ status: 'accepted', uscc: BAICHUAN.uscc });
    expect(await waiting()).toEqual([]);
    const profile = await json<Profile>(`/api/enterprises/${BAICHUAN.uscc}`);
    const filed = profile.records.find((x) => x.matchMethod === 'manual');
    expect(filed).toMatchObject({ resource: 'xzcf', ownUscc: '' });
    expect(filed?.fields.CF_XDR_MC).toBe(CLOSE_NAME);
    const done = log
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .filter((l) => l.audit && l.outcome === 'done');
    expect(done).toMatchObject([{ action: 'review.accept', target: `review ${review!.id}` }]);
    const rows = await db.query<{
      actor: string;
      action: string;
      reason: string | null;
      detail: { outcome: string };
    }>('SELECT actor, action, reason, detail FROM audit_log ORDER BY id');
    expect(rows.map((r) => [r.action, r.detail.outcome, r.reason])).toEqual([
      ['console.POST /api/reviews/1/accept', 'refused', 'bad-token'],
      ['console.POST /api/reviews/1/accept', 'refused', 'bad-token'],
      ['console.POST /api/reviews/1/accept', 'refused', 'cross-site'],
      ['console.POST /api/reviews/1/accept', 'refused', 'cross-site'],
      ['console.POST /reviews/1/accept', 'refused', 'cross-site'],
      // the console without a token refused too; then the accepted one
      ['console.POST /api/reviews/1/accept', 'refused', 'no-token-configured'],
      ['console.review.accept', 'done', BAICHUAN.uscc],
    ]);
    expect(rows.at(-1)?.actor).toMatch(/^console header /);
    expect(JSON.stringify(rows)).not.toContain(TOKEN);
    // a review that does not exist is a usage error, said in words
    const none = await app.inject({
      method: 'POST',
      url: '/api/reviews/999999/reject',
      headers: { 'x-guiji-token': TOKEN },
    });
    expect(none.statusCode).toBe(400);
    expect(none.json()).toMatchObject({ error: { code: 'GUIJI_ERR_USAGE' } });
  });

  it('serves pages in Chinese (English on request) under a strict policy, every value escaped', async () => {
    const home = await app.inject({ url: '/' });
    expect(home.statusCode).toBe(200);
    expect(home.headers['content-security-policy']).toBe(CONTENT_SECURITY_POLICY);
    expect(CONTENT_SECURITY_POLICY).toContain("script-src 'none'");
    expect(home.body).toContain('需要关注的运行');
    // the penalties and the licence were produced long before they were delivered: their departments are late;
    // departments of the catalog that sent nothing are silent
    const late = /<table id="late">(.*?)<\/table>/s.exec(home.body)?.[1] ?? '';
    expect(late).toContain('界首市市场监督管理局');
    const silent = /<p id="silent">(.*?)<\/p>/s.exec(home.body)?.[1] ?? '';
    expect(silent).not.toContain('界首市市场监督管理局');
    const others = env.catalog.departments.filter(
      (d) => !['界首市市场监督管理局', '界首市行政审批局'].includes(d.name),
    );
    expect(others.length).toBeGreaterThan(0);
    for (const d of others) expect(silent).toContain(d.name);
    const en = await app.inject({ url: '/?lang=en' });
    expect(en.body).toContain('Runs needing attention');
    expect(String(en.headers['set-cookie'])).toContain('guiji_lang=en');
    const hostile = await app.inject({
      url: `/enterprises?q=${encodeURIComponent('"><script>alert(1)</script>')}`,
    });
    expect(hostile.statusCode).toBe(200);
    expect(hostile.body).not.toContain('<script>');
    expect(hostile.body).toContain('&quot;&gt;&lt;script&gt;');
    for (const page of [
      '/runs',
      '/runs/1',
      '/quality',
      '/reviews',
      '/rejected',
      `/enterprises/${BAICHUAN.uscc}`,
    ]) {
      const r = await app.inject({ url: page });
      expect(r.statusCode, page).toBe(200);
      expect(r.body, page).not.toMatch(/<script|style="/);
    }
    expect((await app.inject({ url: '/nowhere' })).statusCode).toBe(404);
  });

  const penaltyOf = async (uscc: string) => {
    const profile = await json<Profile>(`/api/enterprises/${uscc}`);
    return profile.records.find((r) => r.fields.CF_WSH === PENALTY_DOC) as FiledRecord;
  };
  const inPublicView = async (recordId: number) =>
    (await db.query('SELECT 1 FROM v_xzcf_public WHERE record_id = $1', [recordId])).length;
  const act = (url: string, payload: Record<string, unknown>, headers: Record<string, string> = {}) =>
    app.inject({ method: 'POST', url, headers: { 'x-guiji-token': TOKEN, ...headers }, payload });

  it("shows each record's publication state, reason and period in the profile, API and page", async () => {
    const penalty = await penaltyOf(BAICHUAN.uscc);
    const [stored] = await db.query<{ public_from: string; public_until: string | null }>(
      `SELECT public_from::text AS public_from, public_until::text AS public_until FROM publication WHERE record_id = $1`,
      [penalty.recordId],
    );
    expect(penalty.publication).toEqual({
      state: 'public',
      reason: 'period',
      publicFrom: stored?.public_from,
      publicUntil: stored?.public_until,
    });
    expect(penalty.publication?.publicFrom).toBe('2024-03-01');
    // every record carries the state the publication table holds for it, none where it holds none
    const profile = await json<Profile>(`/api/enterprises/${BAICHUAN.uscc}`);
    const states = await db.query<{ record_id: string; state: string }>(
      'SELECT record_id, state FROM publication WHERE record_id = ANY($1::bigint[])',
      [profile.records.map((r) => r.recordId)],
    );
    const byRecord = new Map(states.map((s) => [Number(s.record_id), s.state]));
    for (const r of profile.records)
      expect(r.publication?.state ?? null).toBe(byRecord.get(r.recordId) ?? null);
    const page = await app.inject({ url: `/enterprises/${BAICHUAN.uscc}` });
    expect(page.body).toContain('<span class="publication" data-state="public">公示中</span>');
    expect(page.body).toContain('在公示期内');
  });

  it('opens an objection through the API: token required, the record suspended and listed; resolved rejected, public again', async () => {
    const penalty = await penaltyOf(BAICHUAN.uscc);
    const body = { record: penalty.recordId, received: '2024-05-30', reason: '处罚决定已被复议撤销' };
    const refused = await app.inject({ method: 'POST', url: '/api/objections', payload: body });
    expect(refused.statusCode).toBe(403);
    expect(await json<{ objections: unknown[] }>('/api/objections')).toEqual({ objections: [] });
    expect(await inPublicView(penalty.recordId)).toBe(1);

    const opened = await act('/api/objections', body);
    expect(opened.statusCode, opened.body).toBe(200);
    const objection = opened.json() as { id: number; deadline: string; status: string };
    expect(objection).toMatchObject({ record: penalty.recordId, status: 'open', received: '2024-05-30' });
    expect(objection.deadline > '2024-06-20').toBe(true);
    expect(await inPublicView(penalty.recordId)).toBe(0);
    expect((await penaltyOf(BAICHUAN.uscc)).publication).toMatchObject({
      state: 'suspended',
      reason: 'objection',
    });
    const open = await json<{ objections: { id: number }[] }>('/api/objections?open=true');
    expect(open.objections.map((o) => o.id)).toEqual([objection.id]);
    expect(await json<{ objections: unknown[] }>('/api/objections?overdue=true')).toEqual({ objections: [] });
    const list = await app.inject({ url: '/objections' });
    expect(list.body).toContain('处罚决定已被复议撤销');
    // a second one on the same record is refused in words, not a stack trace
    const again = await act('/api/objections', body);
    expect(again.statusCode).toBe(400);
    expect(again.json().error.message).toContain('未办结的异议');

    const bad = await act(`/api/objections/${objection.id}/resolve`, { outcome: 'maybe' });
    expect(bad.statusCode).toBe(400);
    const resolved = await act(`/api/objections/${objection.id}/resolve`, {
      outcome: 'rejected',
      note: '复议维持原处罚',
    });
    expect(resolved.statusCode, resolved.body).toBe(200);
    expect(resolved.json()).toMatchObject({ status: 'resolved', outcome: 'rejected' });
    expect(await inPublicView(penalty.recordId)).toBe(1);
    expect((await penaltyOf(BAICHUAN.uscc)).publication?.state).toBe('public');
    // audited by the CLI's own function, the console's actor as who
    const audited = await db.query<{ actor: string; action: string; record_id: string }>(
      `SELECT actor, action, record_id FROM audit_log WHERE action LIKE 'objection.%' ORDER BY id`,
    );
    expect(audited.map((a) => [a.action, Number(a.record_id)])).toEqual([
      ['objection.open', penalty.recordId],
      ['objection.resolve', penalty.recordId],
    ]);
    for (const a of audited) expect(a.actor).toMatch(/^console header /);
  });

  it('refuses a repair before the minimum period, in Chinese with the day it becomes possible', async () => {
    const penalty = await penaltyOf(BAICHUAN.uscc);
    const early = await act('/api/repairs', { record: penalty.recordId, date: '2024-04-01' });
    expect(early.statusCode).toBe(400);
    const message = early.json().error.message as string;
    const from = /(\d{4}-\d{2}-\d{2}) 起方可申请信用修复/.exec(message)?.[1];
    expect(from, message).toBeDefined();
    expect(from! > '2024-04-01').toBe(true);
    expect(await json('/api/repairs')).toEqual({ repairs: [] });
    expect(await inPublicView(penalty.recordId)).toBe(1);
    const failed = await db.query<{ action: string; reason: string }>(
      `SELECT action, reason FROM audit_log WHERE action = 'console.repair.apply'`,
    );
    expect(failed).toEqual([{ action: 'console.repair.apply', reason: message }]);
    const page = await app.inject({ url: '/repairs' });
    expect(page.statusCode).toBe(200);
    expect(page.body).toContain('没有信用修复记录');
    // the page's form: refused the same way, in Chinese on the page; without the token, not at all
    const form = (payload: string) =>
      app.inject({
        method: 'POST',
        url: '/repairs',
        headers: { 'content-type': 'application/x-www-form-urlencoded', 'sec-fetch-site': 'same-origin' },
        payload,
      });
    const refusedForm = await form(`record=${penalty.recordId}&date=2024-04-01&token=${TOKEN}`);
    expect(refusedForm.statusCode).toBe(400);
    expect(refusedForm.body).toContain(`${from} 起方可申请信用修复`);
    expect((await form(`record=${penalty.recordId}&date=2024-12-01`)).statusCode).toBe(403);
  });

  it('shows on 首页 the objections near or past their deadline, not the others', async () => {
    const penaltyUnder = async (uscc: string) =>
      (await json<Profile>(`/api/enterprises/${uscc}`)).records.find(
        (r) => r.resource === 'xzcf',
      ) as FiledRecord;
    const open = async (record: FiledRecord, received: string, reason: string) => {
      const r = await act('/api/objections', { record: record.recordId, received, reason });
      expect(r.statusCode, r.body).toBe(200);
      return r.json() as { id: number; deadline: string };
    };
    // past its 20 working days; within three working days of them; received today
    const late = await open(await penaltyUnder(DONGFANG.uscc), '2024-04-01', '主体认定有误');
    const near = await open(await penaltyUnder(OUTSIDER.uscc), '2024-05-07', '处罚已履行完毕');
    const licence = (await json<Profile>(`/api/enterprises/${BAICHUAN.uscc}`)).records.find(
      (r) => r.resource === 'xzxk',
    ) as FiledRecord;
    const fresh = await open(licence, TODAY, '许可已注销');
    expect(late.deadline < TODAY).toBe(true);
    expect(near.deadline >= TODAY).toBe(true);
    expect(fresh.deadline > near.deadline).toBe(true);
    const overdue = await json<{ objections: { id: number }[] }>('/api/objections?overdue=true');
    expect(overdue.objections.map((o) => o.id)).toEqual([late.id]);
    const home = await app.inject({ url: '/' });
    const block = /<table id="objections-due">[\s\S]*?<\/table>/.exec(home.body)?.[0] ?? '';
    expect(block).toContain('主体认定有误');
    expect(block).toContain('处罚已履行完毕');
    expect(block).not.toContain('许可已注销');
  });
});
