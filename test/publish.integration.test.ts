import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Warehouse } from '../lib/db.js';
import { type Manifest, type PublishResult, publishFeed, publishStatus } from '../pipelines/publish/feed.js';
import {
  company,
  LEGAL_REP,
  PERSONS,
  personalData,
  shop,
  writePersonsDrop,
} from './fixtures/persons/data.js';
import { runCli } from './helpers/cli.js';
import { makeEnv, type TestEnv, WAREHOUSE_KIND } from './helpers/env.js';
import { changeStates, ensurePublicationTables, type StateChange } from './helpers/publication-state.js';

/**
 * Issue 14 item 8, the publication feed, over the publication state (migration 011): the test sets the states
 * and their events itself (test/helpers/publication-state.ts).
 */

const masked = (id: string) => `${id.slice(0, 6)}********${id.slice(-4)}`;
const AT = (day: number) => `2026-12-0${day}T09:00:00+08:00`;

describe(`guiji publish: the publication feed (${WAREHOUSE_KIND})`, () => {
  let env: TestEnv;
  let db: Warehouse;
  let out: string;
  /** Record ids by subject name as loaded (the warehouse's own, unmasked). */
  const ids = new Map<string, { resource: string; id: number }>();
  let first: PublishResult;
  /** The last event id before the test's own: the run's publication step made events, removed here. */
  let base = 0;

  const changesFor = (names: string[], state: StateChange['state'], at: string, reason?: string) =>
    names.map((name) => {
      const r = ids.get(name);
      if (!r) throw new Error(`no record of ${name}`);
      return {
        resource: r.resource,
        recordId: r.id,
        state,
        at,
        publicFrom: '2024-03-01',
        publicUntil: '2027-03-01',
        ...(reason ? { reason } : {}),
      };
    });
  const read = (dir: string, name: string) => readFileSync(join(dir, name), 'utf8');
  const csvRows = (text: string) =>
    text
      .trimEnd()
      .split('\r\n')
      .map((line) => line.split(','));

  beforeAll(async () => {
    env = await makeEnv('publish');
    out = join(env.dir, 'publish');
    db = await env.open();
    await writePersonsDrop(env.config.dropDir);
    const { summary } = await env.run(db);
    expect(summary.status).toBe('succeeded');
    const rows = await db.query<{ resource: string; record_id: string; subject_name: string }>(
      `SELECT resource, record_id, subject_name FROM common_records
       WHERE resource IN ('xzcf', 'xzxk', 'hyjr', 'enterprise') ORDER BY record_id`,
    );
    await ensurePublicationTables(db);
    const [last] = await db.query<{ id: string }>(
      'SELECT coalesce(max(id), 0) AS id FROM publication_events',
    );
    base = Number(last?.id);
    await db.query('DELETE FROM publication_events');
    for (const r of rows)
      ids.set(r.resource === 'hyjr' ? 'ban' : r.resource === 'enterprise' ? 'register' : r.subject_name, {
        resource: r.resource,
        id: Number(r.record_id),
      });
  }, 240_000);

  afterAll(async () => {
    await db?.close();
    await env?.cleanup();
  });

  it('writes every record made public, masked, in the exchange layout, with a manifest', async () => {
    const people = [PERSONS.li.name, PERSONS.zhou.name, PERSONS.chen.name, PERSONS.wu.name];
    await changeStates(db, [
      ...changesFor([company.name, ...people, 'ban'], 'public', AT(1)),
      ...changesFor([shop.name], 'pending', AT(1)),
    ]);
    first = await publishFeed(db, env.catalog, { outDir: out, now: () => new Date(AT(2)) });
    const e = first.export;
    expect(e).toMatchObject({ id: 1, afterEventId: 0, toEventId: base + 7, published: 6, withdrawn: 0 });
    expect(readdirSync(out)).toEqual(['publish-000001']);
    const dir = join(out, 'publish-000001');
    const manifest = JSON.parse(read(dir, 'manifest.json')) as Manifest;
    expect(manifest).toEqual(e?.manifest);
    expect(manifest).toMatchObject({
      export: 1,
      exportedAt: '2026-12-02T09:00:00.000+08:00',
      range: { afterEventId: 0, toEventId: base + 7, firstEventAt: '2026-12-01T09:00:00.000+08:00' },
      counts: { published: 6, withdrawn: 0, resources: { xzcf: { published: 4 }, xzxk: { published: 1 } } },
    });
    expect(manifest.files.map((f) => f.name)).toEqual([
      'hyjr.publish.csv',
      'hyjr.publish.jsonl',
      'xzcf.publish.csv',
      'xzcf.publish.jsonl',
      'xzxk.publish.csv',
      'xzxk.publish.jsonl',
    ]);
    for (const f of manifest.files) {
      const bytes = readFileSync(join(dir, f.name));
      expect(f.sha256).toBe(createHash('sha256').update(bytes).digest('hex'));
      expect(f.bytes).toBe(bytes.length);
    }
    // field codes as headers, the catalog's order; guiji's own columns named GUIJI_*
    const [header, ...rows] = csvRows(read(dir, 'xzcf.publish.csv'));
    const codes = env.catalog.resources.get('xzcf')!.current.fields.map((f) => f.code);
    expect(header).toEqual(['GUIJI_RECORD_ID', ...codes, 'GUIJI_PUBLIC_FROM', 'GUIJI_PUBLIC_UNTIL']);
    expect(rows).toHaveLength(4);
    const lines = read(dir, 'xzcf.publish.jsonl')
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, string | null>);
    const byName = new Map(lines.map((l) => [l.CF_XDR_MC, l]));
    expect(byName.get('李**')).toMatchObject({
      GUIJI_RECORD_ID: String(ids.get(PERSONS.li.name)?.id),
      CF_XDR_ZJHM: masked(PERSONS.li.id),
      CF_XDR_LB: '自然人',
      GUIJI_PUBLIC_FROM: '2024-03-01',
      GUIJI_PUBLIC_UNTIL: '2027-03-01',
    });
    expect(byName.get(company.name)).toMatchObject({
      CF_FRDB: LEGAL_REP.name,
      CF_FR_ZJHM: masked(LEGAL_REP.id),
    });
    expect(byName.has(shop.name)).toBe(false); // pending: not public
    // masked as the public view is: no full ID number, no person's full name, in any file
    for (const name of [...manifest.files.map((f) => f.name), 'manifest.json'])
      expect(personalData(read(dir, name)), name).toEqual([]);
    const [recorded] = await db.query<{ n: number; directory: string }>(
      'SELECT count(*)::int AS n, max(directory) AS directory FROM publication_exports',
    );
    expect(recorded).toEqual({ n: 1, directory: dir });
  });

  it('writes nothing new when nothing changed since the last export', async () => {
    const again = await publishFeed(db, env.catalog, { outDir: out, now: () => new Date(AT(3)) });
    expect(again.export).toBeNull();
    expect(again.lastExport).toMatchObject({ id: 1, toEventId: base + 7 });
    expect(readdirSync(out)).toEqual(['publish-000001']);
    const [recorded] = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM publication_exports');
    expect(recorded?.n).toBe(1);
  });

  it('writes the withdrawals and the new publications since the last export, and only those', async () => {
    await changeStates(db, [
      ...changesFor([PERSONS.li.name], 'withdrawn', AT(4), 'expired'),
      ...changesFor([shop.name], 'public', AT(4)),
      // suspended by an objection, then published again: sent again (its content may be corrected)
      ...changesFor([PERSONS.chen.name], 'suspended', AT(4), 'objection'),
      ...changesFor([PERSONS.chen.name], 'public', AT(5)),
      // never sent: public and withdrawn again between two exports
      ...changesFor(['register'], 'public', AT(4)),
      ...changesFor(['register'], 'withdrawn', AT(5), 'revoked'),
    ]);
    const second = await publishFeed(db, env.catalog, { outDir: out, now: () => new Date(AT(6)) });
    expect(second.export).toMatchObject({
      id: 2,
      afterEventId: base + 7,
      toEventId: base + 13,
      published: 2,
      withdrawn: 1,
    });
    expect(readdirSync(out)).toEqual(['publish-000001', 'publish-000002']);
    const dir = join(out, 'publish-000002');
    const manifest = second.export!.manifest;
    expect(manifest.files.map((f) => f.name)).toEqual([
      'xzcf.publish.csv',
      'xzcf.publish.jsonl',
      'xzcf.withdraw.csv',
      'xzcf.withdraw.jsonl',
    ]);
    expect(manifest.range).toMatchObject({
      afterEventId: base + 7,
      lastEventAt: '2026-12-05T09:00:00.000+08:00',
    });
    const [header, ...withdrawn] = csvRows(read(dir, 'xzcf.withdraw.csv'));
    expect(header).toEqual([
      'GUIJI_RECORD_ID',
      'CF_CFJGDM',
      'CF_WSH',
      'CF_XDR_SHXYM',
      'CF_XDR_MC',
      'GUIJI_STATE',
      'GUIJI_REASON',
      'GUIJI_CHANGED_AT',
    ]);
    expect(withdrawn).toEqual([
      [
        String(ids.get(PERSONS.li.name)?.id),
        expect.any(String),
        '界市监罚〔2024〕2号',
        '',
        '李**',
        'withdrawn',
        'expired',
        '2026-12-04T09:00:00.000+08:00',
      ],
    ]);
    const published = read(dir, 'xzcf.publish.jsonl')
      .trimEnd()
      .split('\n')
      .map((l) => (JSON.parse(l) as Record<string, string>).CF_XDR_MC);
    expect(published.sort()).toEqual([shop.name, '陈**'].sort());
    for (const f of manifest.files) expect(personalData(read(dir, f.name)), f.name).toEqual([]);
  });

  it('publish status: the exports newest first, and the changes waiting', async () => {
    expect(await publishStatus(db)).toMatchObject({
      publicationTables: true,
      exportedToEventId: base + 13,
      waitingEvents: 0,
      exports: [
        { id: 2, published: 2, withdrawn: 1 },
        { id: 1, published: 6, withdrawn: 0 },
      ],
    });
    await changeStates(db, changesFor([PERSONS.zhou.name], 'withdrawn', AT(7), 'repaired'));
    expect((await publishStatus(db)).waitingEvents).toBe(1);
  });

  it('guiji publish --out DIR: exports with --json, then says in Chinese that nothing changed', async () => {
    await db.close(); // the embedded warehouse belongs to one process at a time
    try {
      const run = await runCli(['publish', '--out', out, '--json'], env.env);
      expect(run.code, run.stderr).toBe(0);
      const result = JSON.parse(run.stdout) as PublishResult;
      expect(result.export).toMatchObject({
        id: 3,
        afterEventId: base + 13,
        toEventId: base + 14,
        published: 0,
        withdrawn: 1,
      });
      const again = await runCli(['publish', '--out', out], env.env);
      expect(again.code, again.stderr).toBe(0);
      expect(again.stdout).toContain('以来没有新的公示变化');
    } finally {
      db = await env.open();
    }
  }, 240_000);
});
