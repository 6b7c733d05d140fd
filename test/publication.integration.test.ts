import { mkdirSync } from 'node:fs';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Warehouse } from '../lib/db.js';
import {
  AUTHORITIES,
  createRandom,
  generateEnterprises,
  LICENCE_HEADER,
  PENALTY_HEADER,
  writeDelimited,
} from '../pipelines/demo/generate.js';
import { listAudit } from '../pipelines/publication/audit.js';
import { listObjections, openObjection, resolveObjection } from '../pipelines/publication/objections.js';
import { type PublicationContext, publicationContext } from '../pipelines/publication/record.js';
import { applyRepair, revokeRepair } from '../pipelines/publication/repairs.js';
import { setSeverity, setWithdrawal, showPublication } from '../pipelines/publication/show.js';
import { refreshPublication } from '../pipelines/publication/state.js';
import { listQuarantine } from '../pipelines/quarantine.js';
import { gatherReport } from '../pipelines/report/data.js';
import { renderHtml } from '../pipelines/report/html.js';
import { runCli } from './helpers/cli.js';
import { makeEnv, type TestEnv, WAREHOUSE_KIND } from './helpers/env.js';

const TODAY = '2026-10-20';
const REGULATOR = AUTHORITIES[0]!;
const subjects = generateEnterprises(createRandom(14), 6);

/** A 2019-set penalty row of the demo's header, with the given titles set. */
function penalty(docNo: string, subject: number, values: Record<string, string>): string[] {
  const s = subjects[subject]!;
  const row: Record<string, string> = {
    行政相对人名称: s.name,
    行政相对人类别: '法人及非法人组织',
    统一社会信用代码: s.uscc,
    法定代表人: s.legalRep,
    行政处罚决定书文号: docNo,
    违法行为类型: '销售不合格产品',
    违法事实: '抽检不合格',
    处罚依据: '《产品质量法》第四十九条',
    处罚类别: '警告',
    处罚内容: '警告',
    处罚有效期: '2099-12-31',
    处罚机关: REGULATOR.name,
    处罚机关统一社会信用代码: REGULATOR.uscc!,
    数据来源单位: REGULATOR.name,
    数据来源单位统一社会信用代码: REGULATOR.uscc!,
    ...values,
  };
  return PENALTY_HEADER.map((title) => row[title] ?? '');
}

function licence(docNo: string, subject: number, values: Record<string, string>): string[] {
  const s = subjects[subject]!;
  const row: Record<string, string> = {
    行政相对人名称: s.name,
    行政相对人类别: '法人及非法人组织',
    统一社会信用代码: s.uscc,
    法定代表人: s.legalRep,
    行政许可决定文书名称: '食品经营许可决定书',
    行政许可决定文书号: docNo,
    许可类别: '普通',
    许可证书名称: '食品经营许可证',
    许可编号: `JY${docNo.length}3341282100001`,
    许可内容: '预包装食品销售',
    许可决定日期: '2024-03-01',
    有效期自: '2024-03-01',
    有效期至: '2029-02-28',
    许可机关: REGULATOR.name,
    许可机关统一社会信用代码: REGULATOR.uscc!,
    当前状态: '1',
    数据来源单位: REGULATOR.name,
    数据来源单位统一社会信用代码: REGULATOR.uscc!,
    ...values,
  };
  return LICENCE_HEADER.map((title) => row[title] ?? '');
}

const PENALTIES = {
  /** the case: a 2015 warning whose 处罚有效期 ended 2016-03-02 */
  oldWarning: penalty('界市监罚〔2015〕1号', 0, { 处罚决定日期: '2015-03-03', 处罚有效期: '2016-03-02' }),
  /** 责令停产停业 of 2024: serious, 2023 rules, public 3 years */
  serious: penalty('界市监罚〔2024〕7号', 1, {
    处罚类别: '责令停产停业',
    处罚内容: '责令停产停业',
    处罚决定日期: '2024-01-10',
  }),
  /** a warning of 2026: public until 2029-04-30, repairable from 2026-08-01 */
  objected: penalty('界市监罚〔2026〕3号', 2, { 处罚决定日期: '2026-05-01' }),
  /** a warning decided 2026-09-01: repairable from 2026-12-01 */
  repaired: penalty('界市监罚〔2026〕9号', 3, { 处罚决定日期: '2026-09-01' }),
};

describe(`publication: periods, objections, repair, revocation, audit (${WAREHOUSE_KIND})`, () => {
  let env: TestEnv;
  let db: Warehouse;
  const ids: Record<string, number> = {};
  const ctx = (today = TODAY): PublicationContext => publicationContext(db, env.catalog, env.config, today);
  const incoming = () => join(env.config.dropDir, 'incoming');

  const publicIds = async (view: string) =>
    (await db.query<{ record_id: string }>(`SELECT record_id FROM ${view} ORDER BY record_id`)).map((r) =>
      Number(r.record_id),
    );
  const stateOf = async (id: number) =>
    (
      await db.query<{ state: string; reason: string }>(
        `SELECT state, reason FROM publication WHERE record_id = $1`,
        [id],
      )
    )[0];

  beforeAll(async () => {
    env = await makeEnv('publication', { GUIJI_TODAY: TODAY });
    db = await env.open();
    mkdirSync(incoming(), { recursive: true });
    await writeDelimited(join(incoming(), '行政处罚.csv'), PENALTY_HEADER, Object.values(PENALTIES));
    await writeDelimited(join(incoming(), '行政许可.csv'), LICENCE_HEADER, [
      licence('界市监许〔2024〕1号', 4, {}),
      licence('界市监许〔2024〕2号', 5, { 当前状态: '2' }),
    ]);
    const { summary } = await env.run(db);
    expect(await listQuarantine(db, { limit: 5 })).toEqual([]);
    expect(summary.sources[0]).toMatchObject({ read: 6, quarantined: 0 });
    for (const [name, row] of Object.entries(PENALTIES)) {
      const [r] = await db.query<{ record_id: string }>(`SELECT record_id FROM r_xzcf WHERE cf_wsh = $1`, [
        row[4],
      ]);
      ids[name] = Number(r!.record_id);
    }
    for (const [name, doc] of [
      ['valid', '界市监许〔2024〕1号'],
      ['revoked', '界市监许〔2024〕2号'],
    ] as const) {
      const [r] = await db.query<{ record_id: string }>(`SELECT record_id FROM r_xzxk WHERE xk_wsh = $1`, [
        doc,
      ]);
      ids[name] = Number(r!.record_id);
    }
  }, 120_000);

  afterAll(async () => {
    await db.close();
    await env.cleanup();
  });

  it('keeps a 2015 warning whose 处罚有效期 ended 2016-03-02 out of v_xzcf_public, and says why', async () => {
    expect(await stateOf(ids.oldWarning!)).toEqual({ state: 'withdrawn', reason: 'expired' });
    expect(await publicIds('v_xzcf_public')).not.toContain(ids.oldWarning);
    // still in the warehouse and the analysts' view
    expect((await db.query(`SELECT 1 FROM v_xzcf WHERE record_id = $1`, [ids.oldWarning])).length).toBe(1);
    const shown = await showPublication(ctx(), ids.oldWarning!);
    expect(shown).toMatchObject({
      state: 'withdrawn',
      reason: 'expired',
      publicFrom: '2015-03-03',
      publicUntil: '2016-03-02',
    });
    expect(shown.basis).toContain('发改办财金〔2019〕527号');
    expect(shown.why.join('\n')).toContain('公示期至 2016-03-02 已届满');
    await expect(showPublication(ctx(), 999_999_999)).rejects.toThrow('记录编号 999999999 不存在');
  });

  it('publishes a serious penalty for its whole period and no longer (refresh with a later today)', async () => {
    expect(await stateOf(ids.serious!)).toEqual({ state: 'public', reason: 'period' });
    expect(await publicIds('v_xzcf_public')).toContain(ids.serious);
    const [row] = await db.query<{ public_until: string }>(
      `SELECT public_until::text AS public_until FROM v_xzcf_public WHERE record_id = $1`,
      [ids.serious],
    );
    expect(row!.public_until).toBe('2027-01-09');
    const lastDay = await refreshPublication(db, env.catalog, ctx().rules, { today: '2027-01-09' });
    expect(lastDay.changed).toBe(0);
    expect(await publicIds('v_xzcf_public')).toContain(ids.serious);
    const after = await refreshPublication(db, env.catalog, ctx().rules, { today: '2027-01-10' });
    expect(after.changed).toBeGreaterThanOrEqual(1);
    expect(await stateOf(ids.serious!)).toEqual({ state: 'withdrawn', reason: 'expired' });
    expect(await publicIds('v_xzcf_public')).not.toContain(ids.serious);
    // back to today: the state follows the day it is computed for
    await refreshPublication(db, env.catalog, ctx().rules, { today: TODAY });
    expect(await stateOf(ids.serious!)).toEqual({ state: 'public', reason: 'period' });
    const events = await db.query<{ state: string }>(
      `SELECT state FROM publication_events WHERE record_id = $1 ORDER BY id`,
      [ids.serious],
    );
    expect(events.map((e) => e.state)).toEqual(['public', 'withdrawn', 'public']);
  });

  it('withdraws a revoked licence (XK_ZT 2) and keeps it; a valid licence stays public', async () => {
    expect(await stateOf(ids.revoked!)).toEqual({ state: 'withdrawn', reason: 'revoked' });
    expect(await stateOf(ids.valid!)).toEqual({ state: 'public', reason: 'period' });
    expect(await publicIds('v_xzxk_public')).toEqual([ids.valid]);
    expect((await db.query(`SELECT 1 FROM r_xzxk WHERE record_id = $1`, [ids.revoked])).length).toBe(1);
  });

  it('suspends a record at once on an objection, with the deadline 20 working days on across the holidays', async () => {
    const id = ids.objected!;
    expect(await publicIds('v_xzcf_public')).toContain(id);
    const opened = await openObjection(ctx(), {
      record: id,
      received: '2026-09-25',
      reason: '处罚已被复议撤销',
      by: '李四',
    });
    // 中秋 (09-26, 09-27) and 国庆 (10-01…10-07) are not working days, 10-10 is: Monday–Friday would say 10-23
    expect(opened).toMatchObject({
      record: id,
      received: '2026-09-25',
      deadline: '2026-10-29',
      status: 'open',
    });
    expect(await stateOf(id)).toEqual({ state: 'suspended', reason: 'objection' });
    expect(await publicIds('v_xzcf_public')).not.toContain(id);
    await expect(
      openObjection(ctx(), { record: id, received: '2026-09-26', reason: '再次', by: 'x' }),
    ).rejects.toThrow(/已有未办结的异议/);
    expect((await listObjections(db, { overdue: true, today: '2026-10-29' })).length).toBe(0);
    expect((await listObjections(db, { overdue: true, today: '2026-10-30' })).map((o) => o.id)).toEqual([
      opened.id,
    ]);

    const rejected = await resolveObjection(ctx(), { id: opened.id, outcome: 'rejected', by: '王五' });
    expect(rejected).toMatchObject({ status: 'resolved', outcome: 'rejected' });
    expect(await publicIds('v_xzcf_public')).toContain(id);

    const second = await openObjection(ctx(), {
      record: id,
      received: TODAY,
      reason: '主体名称有误',
      by: '李四',
    });
    await resolveObjection(ctx(), { id: second.id, outcome: 'upheld', note: '核实有误' });
    expect(await stateOf(id)).toEqual({ state: 'withdrawn', reason: 'objection-upheld' });
    expect(await publicIds('v_xzcf_public')).not.toContain(id);
  });

  it('keeps a record suspended after a "corrected" outcome until the corrected version is loaded', async () => {
    const id = ids.serious!;
    const o = await openObjection(ctx(), { record: id, received: TODAY, reason: '处罚内容有误', by: '李四' });
    await resolveObjection(ctx(), { id: o.id, outcome: 'corrected', by: '王五' });
    expect(await stateOf(id)).toEqual({ state: 'suspended', reason: 'objection-corrected' });
    await refreshPublication(db, env.catalog, ctx().rules, { today: TODAY, all: true });
    expect(await stateOf(id)).toEqual({ state: 'suspended', reason: 'objection-corrected' });
    const corrected = [...PENALTIES.serious];
    corrected[PENALTY_HEADER.indexOf('处罚内容')] = '责令停产停业三个月';
    await writeDelimited(join(incoming(), '行政处罚-更正.csv'), PENALTY_HEADER, [corrected]);
    const { summary } = await env.run(db);
    expect(summary.sources[0]).toMatchObject({ updated: 1 });
    expect(await stateOf(id)).toEqual({ state: 'public', reason: 'period' });
    const [row] = await db.query<{ cf_nr: string }>(`SELECT cf_nr FROM v_xzcf_public WHERE record_id = $1`, [
      id,
    ]);
    expect(row!.cf_nr).toBe('责令停产停业三个月');
  });

  it('refuses a repair before the minimum period with the date it becomes possible, accepts it after', async () => {
    const id = ids.repaired!;
    await expect(applyRepair(ctx(), { record: id, date: TODAY, by: '赵六' })).rejects.toThrow(
      /2026-12-01 起方可申请信用修复/,
    );
    expect(await stateOf(id)).toEqual({ state: 'public', reason: 'period' });
    const later = ctx('2026-12-05');
    const repair = await applyRepair(later, { record: id, date: '2026-12-01', note: '已履行并作出信用承诺' });
    expect(repair).toMatchObject({
      record: id,
      date: '2026-12-01',
      status: 'applied',
      by: userInfo().username,
    });
    expect(await stateOf(id)).toEqual({ state: 'withdrawn', reason: 'repaired' });
    expect(await publicIds('v_xzcf_public')).not.toContain(id);
    await revokeRepair(later, { id: repair.id, reason: '修复材料不实', by: '赵六' });
    expect(await stateOf(id)).toEqual({ state: 'public', reason: 'period' });
  });

  it('refuses a repair of a licence (no repair for it) in Chinese', async () => {
    await expect(applyRepair(ctx(), { record: ids.valid!, date: TODAY })).rejects.toThrow(/不适用信用修复/);
  });

  it('takes a record down by hand and puts it back; a person decides its severity', async () => {
    const id = ids.serious!;
    const down = await setWithdrawal(ctx(), {
      record: id,
      reason: '法院裁定暂停公示',
      withdraw: true,
      by: '钱八',
    });
    expect(down).toMatchObject({ state: 'withdrawn', reason: 'withdrawn-manually' });
    expect(await publicIds('v_xzcf_public')).not.toContain(id);
    await setWithdrawal(ctx(), { record: id, reason: '裁定解除', withdraw: false, by: '钱八' });
    expect(await stateOf(id)).toEqual({ state: 'public', reason: 'period' });
    const judged = await setSeverity(ctx(), {
      record: ids.repaired!,
      severity: 'serious',
      reason: '涉案金额巨大',
      by: '钱八',
    });
    expect(judged.severity).toBe('serious');
    expect(judged.why.join('\n')).toContain('严重程度由人工认定为严重');
    expect((await listAudit(db, { record: id })).slice(0, 2).map((e) => e.action)).toEqual([
      'publication.restore',
      'publication.withdraw',
    ]);
  });

  it('records every change a person made, with who, what and why', async () => {
    const entries = await listAudit(db, { record: ids.objected! });
    expect(entries.map((e) => [e.action, e.by])).toEqual([
      ['objection.resolve', userInfo().username],
      ['objection.open', '李四'],
      ['objection.resolve', '王五'],
      ['objection.open', '李四'],
    ]);
    expect(entries[3]).toMatchObject({ reason: '处罚已被复议撤销', detail: { deadline: '2026-10-29' } });
    expect(entries[0]!.at).toMatch(/\+08:00$/);
    const repairs = await listAudit(db, { record: ids.repaired! });
    expect(repairs.map((e) => e.action)).toEqual(['publication.severity', 'repair.revoke', 'repair.apply']);
  });

  it('serves the commands: objection open/list, publication show, audit list, refusals in Chinese', async () => {
    await db.close();
    try {
      const env2 = { ...env.env, GUIJI_TODAY: '2026-12-05' };
      const open = await runCli(
        [
          'objection',
          'open',
          '--record',
          String(ids.valid),
          '--received',
          '2026-12-04',
          '--reason',
          '许可已注销',
          '--by',
          '周七',
          '--json',
        ],
        env2,
      );
      expect(open.code, open.stderr).toBe(0);
      const opened = JSON.parse(open.stdout) as Record<string, unknown>;
      expect(Object.keys(opened).sort()).toEqual(['deadline', 'id', 'received', 'record', 'status']);
      expect(opened).toMatchObject({ record: ids.valid, received: '2026-12-04', status: 'open' });

      const list = await runCli(['objection', 'list', '--open', '--json'], env2);
      const { objections } = JSON.parse(list.stdout) as { objections: Record<string, unknown>[] };
      expect(objections).toEqual([
        {
          id: opened.id,
          record: ids.valid,
          resource: 'xzxk',
          received: '2026-12-04',
          deadline: opened.deadline,
          status: 'open',
          reason: '许可已注销',
          outcome: null,
        },
      ]);

      const text = await runCli(['publication', 'show', '--record', String(ids.oldWarning)], env2);
      expect(text.code, text.stderr).toBe(0);
      expect(text.stdout).toContain('已撤下');
      expect(text.stdout).toContain('2016-03-02');

      const early = await runCli(
        ['repair', 'apply', '--record', String(ids.objected), '--date', '2026-06-01'],
        env2,
      );
      expect(early.code).toBe(2);
      expect(early.stderr).toContain('2026-08-01 起方可申请信用修复');
      const audit = await runCli(['audit', 'list', '--record', String(ids.valid), '--json'], env2);
      const { entries } = JSON.parse(audit.stdout) as {
        entries: { by: string; action: string; at: string }[];
      };
      expect(entries).toMatchObject([{ by: '周七', action: 'objection.open' }]);
      expect(entries[0]!.at).toMatch(/\+08:00$/);
    } finally {
      db = await env.open();
    }
  }, 480_000);

  it('lists the open objections past their deadline in the quality report', async () => {
    const [open] = await listObjections(db, { open: true, today: TODAY });
    expect(open).toMatchObject({ record: ids.valid });
    const before = await gatherReport(db, env.catalog, { today: open!.deadline });
    expect(before.objectionsOverdue).toEqual([]);
    const after = await gatherReport(db, env.catalog, { today: '2027-02-01' });
    expect(after.objectionsOverdue).toEqual([
      {
        id: open!.id,
        record: ids.valid,
        resource: 'xzxk',
        received: '2026-12-04',
        deadline: open!.deadline,
        reason: '许可已注销',
      },
    ]);
    const html = renderHtml(after, 'zh');
    expect(html).toContain('逾期未办结的异议');
    expect(html).toContain(open!.deadline);
  });
});
