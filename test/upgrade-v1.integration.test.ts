import { rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Catalog, Resource } from '../catalog/load.js';
import { openWarehouse, type Warehouse } from '../lib/db.js';
import { GuijiError } from '../lib/errors.js';
import { prepareWarehouse } from '../pipelines/warehouse/prepare.js';
import { recordJsonSql, typedTable } from '../pipelines/warehouse/typed-schema.js';
import { type UpgradeResult, upgradeFromV1 } from '../pipelines/warehouse/upgrade-v1.js';
import { USCC_PLACEHOLDER } from '../schemas/identifiers.js';
import { withNewVersion } from './helpers/catalog-copy.js';
import { makeEnv, type TestEnv, WAREHOUSE_KIND } from './helpers/env.js';
import { buildV1Warehouse, RETIRED_RESOURCE, type V1Fixture } from './helpers/v1-warehouse.js';

/** The warehouse of a test env without the migrations env.open() would run (the fixture runs its own). */
function openBare(env: TestEnv): Promise<Warehouse> {
  return openWarehouse({
    home: env.config.home,
    databaseUrl: env.config.databaseUrl,
    schema: env.config.dbSchema,
  });
}

async function dropEnv(env: TestEnv | undefined, db: Warehouse | undefined): Promise<void> {
  if (!env) return;
  if (env.config.databaseUrl) {
    const admin = db ?? (await openBare(env));
    await admin.query(`DROP SCHEMA IF EXISTS "${env.config.dbSchema}" CASCADE`);
    if (!db) await admin.close();
  }
  await db?.close();
  rmSync(env.dir, { recursive: true, force: true });
}

const MOVED = ['enterprise', 'xzcf', 'xzxk'];

type Row = Record<string, unknown>;

/** Bytewise order, as COLLATE "C" sorts. */
function byteOrder(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

/** The history as the v1 warehouse had it, record_id aside. */
function historySnapshot(db: Warehouse): Promise<Row[]> {
  return db.query(
    `SELECT id, resource, natural_key, version, schema_version, content_hash, data, provenance, run_id,
            changed_at::text, superseded_at::text, superseded_by_run
     FROM record_history ORDER BY id`,
  );
}

function v1Digest(db: Warehouse): Promise<Row[]> {
  return db.query(
    `SELECT count(*)::int AS n, md5(string_agg(o::text, '|' ORDER BY resource, natural_key)) AS digest FROM records_v1 o`,
  );
}

/**
 * Every record of records_v1 of `resource` against its row in r_<resource>: the fields rebuilt from the typed
 * columns equal `data`, every record column is as the contract maps it, the provenance rebuilds from the
 * columns and its origin; and the history rows carry the record's id.
 */
async function expectMovedExactly(db: Warehouse, catalog: Catalog, id: string): Promise<void> {
  const resource = catalog.resources.get(id) as Resource;
  const def = typedTable(resource);
  const rows = await db.query<{
    v1: Row;
    v2: Row | null;
    rebuilt: Row;
    origin: Row | null;
    sjc: string | null;
  }>(
    `SELECT to_jsonb(o) AS v1, to_jsonb(r) AS v2, ${recordJsonSql(def, 'r')} AS rebuilt,
            to_jsonb(g) AS origin,
            to_char(r.delivered_at AT TIME ZONE 'Asia/Shanghai', 'YYYY-MM-DD HH24:MI:SS') AS sjc
     FROM records_v1 o
     LEFT JOIN ${def.name} r ON r.natural_key = o.natural_key
     LEFT JOIN origins g ON g.id = r.origin_id
     WHERE o.resource = $1`,
    [id],
  );
  const [{ n } = { n: -1 }] = await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${def.name}`);
  expect(n).toBe(rows.length);
  expect(rows.length).toBeGreaterThan(0);
  for (const { v1, v2, rebuilt, origin, sjc } of rows) {
    const key = String(v1.natural_key);
    expect(v2, key).not.toBeNull();
    const moved = v2 as Row;
    expect(rebuilt, key).toEqual(v1.data);
    const data = v1.data as Record<string, string>;
    const own = data[resource.subject.uscc];
    const provenance = v1.provenance as Row;
    expect(
      {
        uscc: moved.uscc,
        matched_uscc: moved.matched_uscc,
        match_method: moved.match_method,
        match_score: moved.match_score,
        match_flags: moved.match_flags,
        version: moved.version,
        schema_version: moved.schema_version,
        content_hash: moved.content_hash,
        department: moved.department,
        produced_date: moved.produced_date,
        received_at: moved.received_at,
        changed_at: moved.changed_at,
        disclosure: moved.disclosure,
        source: moved.source,
        raw_digest: moved.raw_digest,
        first_run_id: moved.first_run_id,
        run_id: moved.run_id,
        catalog_version: moved.catalog_version,
        sheet: moved.sheet,
        row_number: moved.row_number,
        origin_record: moved.origin_record,
        upgraded_from: moved.upgraded_from,
        original: moved.original,
      },
      key,
    ).toEqual({
      uscc: own && own !== USCC_PLACEHOLDER ? own : '',
      matched_uscc: v1.match_method === null ? null : v1.uscc,
      match_method: v1.match_method,
      match_score: v1.match_score,
      match_flags: v1.match_flags,
      version: v1.version,
      schema_version: v1.schema_version,
      content_hash: v1.content_hash,
      department: v1.department,
      produced_date: v1.produced_date,
      received_at: v1.received_at,
      changed_at: v1.changed_at,
      disclosure: v1.disclosure,
      source: v1.source,
      raw_digest: v1.raw_digest,
      first_run_id: v1.first_run_id,
      run_id: v1.run_id,
      catalog_version: catalog.version,
      sheet: provenance.sheet ?? null,
      row_number: provenance.row ?? null,
      origin_record: provenance.recordId ?? null,
      upgraded_from: provenance.upgradedFrom ?? null,
      original: provenance.original ?? null,
    });
    // the provenance, whole, from the columns and the origin
    const o = origin as Row;
    expect(o, key).not.toBeNull();
    const rebuiltProvenance = Object.fromEntries(
      Object.entries({
        source: moved.source,
        file: o.name,
        sha256: o.kind === 'file' ? o.key : undefined,
        sheet: moved.sheet,
        row: moved.row_number,
        recordId: moved.origin_record,
        sjc,
        upgradedFrom: moved.upgraded_from,
        original: moved.original,
      }).filter(([, value]) => value !== null && value !== undefined),
    );
    expect(rebuiltProvenance, key).toEqual(provenance);
    expect(o.source, key).toBe(v1.source);
    expect(o.kind, key).toBe(provenance.sha256 ? 'file' : 'stream');
  }

  // record ids: given in (uscc, natural_key) order, as the key sorts
  const moved = rows.map((r) => r.v2 as Row);
  moved.sort(
    (a, b) =>
      byteOrder(String(a.uscc), String(b.uscc)) || byteOrder(String(a.natural_key), String(b.natural_key)),
  );
  const ids = moved.map((r) => BigInt(r.record_id as number));
  for (let i = 1; i < ids.length; i++)
    expect(ids[i]! > ids[i - 1]!, String(moved[i]?.natural_key)).toBe(true);

  // the history of the resource: each row carries its record's id
  const history = await db.query<{ natural_key: string; record_id: string | null; expected: string | null }>(
    `SELECT h.natural_key, h.record_id::text, r.record_id::text AS expected
     FROM record_history h LEFT JOIN ${def.name} r ON r.natural_key = h.natural_key
     WHERE h.resource = $1`,
    [id],
  );
  for (const h of history) {
    expect(h.expected, h.natural_key).not.toBeNull();
    expect(h.record_id, h.natural_key).toBe(h.expected);
  }
}

/** Every record id of every typed table: present and unique. */
async function expectIdsUnique(db: Warehouse): Promise<void> {
  const ids = await db.query<{ n: number; distinct_ids: number; nulls: number }>(
    `SELECT count(*)::int AS n, count(DISTINCT record_id)::int AS distinct_ids,
            count(*) FILTER (WHERE record_id IS NULL)::int AS nulls
     FROM (${MOVED.map((id) => `SELECT record_id FROM r_${id}`).join(' UNION ALL ')}) t`,
  );
  expect(ids[0]?.nulls).toBe(0);
  expect(ids[0]?.distinct_ids).toBe(ids[0]?.n);
}

describe(`the upgrade of a v1 warehouse to the typed tables (${WAREHOUSE_KIND})`, () => {
  let env: TestEnv;
  let db: Warehouse;
  let fixture: V1Fixture;
  let historyBefore: Row[];
  let v1Before: Row[];
  let first: UpgradeResult[];

  beforeAll(async () => {
    env = await makeEnv('upgrade_v1');
    db = await openBare(env);
    fixture = await buildV1Warehouse(db, env.catalog);
    historyBefore = await historySnapshot(db);
    v1Before = await v1Digest(db);
  }, 120_000);

  afterAll(async () => {
    await dropEnv(env, db);
  });

  it('has a fixture with what the upgrade must carry over', async () => {
    expect([...fixture.records.keys()].sort()).toEqual([...MOVED, RETIRED_RESOURCE]);
    const kinds = await db.query<Row>(
      `SELECT count(*) FILTER (WHERE match_method = 'uscc')::int AS by_code,
              count(*) FILTER (WHERE match_method = 'name')::int AS by_name,
              count(*) FILTER (WHERE match_method = 'manual' AND uscc <> data->>'CF_XDR_SHXYM')::int AS reviewed,
              count(*) FILTER (WHERE match_method IS NULL AND uscc IS NOT NULL)::int AS unmatched_code,
              count(*) FILTER (WHERE match_method IS NULL AND uscc IS NULL)::int AS unmatched_none,
              count(*) FILTER (WHERE data->>'CF_XDR_SHXYM' = $1)::int AS placeholder,
              count(*) FILTER (WHERE provenance ? 'upgradedFrom')::int AS older_set,
              count(*) FILTER (WHERE provenance ? 'sjc')::int AS platform,
              count(*) FILTER (WHERE provenance ? 'sheet')::int AS sheets,
              count(*) FILTER (WHERE version > 1)::int AS versions,
              count(*) FILTER (WHERE match_flags <> '{}')::int AS flagged
       FROM records_v1 WHERE resource <> $2`,
      [USCC_PLACEHOLDER, RETIRED_RESOURCE],
    );
    for (const [kind, count] of Object.entries(kinds[0] ?? {})) expect(count, kind).toBeGreaterThan(0);
    expect([...fixture.history.values()].reduce((a, b) => a + b, 0)).toBeGreaterThan(5);
  });

  it('reports a resource whose records hold a field the catalog has no column for, and moves none of it', async () => {
    // a catalog that knows only xzcf, in a new version without CF_SY
    const shrunk = withNewVersion(env.catalog, 'xzcf', '2028', (fields) =>
      fields.filter((f) => f.code !== 'CF_SY'),
    );
    const only: Catalog = {
      ...shrunk,
      resources: new Map([['xzcf', shrunk.resources.get('xzcf') as Resource]]),
    };
    const result = await upgradeFromV1(db, only);
    expect(result.resources).toEqual([]);
    expect(result.leftBehind).toEqual([
      { resource: 'enterprise', records: fixture.records.get('enterprise'), reason: 'not-in-catalog' },
      { resource: 'xzxk', records: fixture.records.get('xzxk'), reason: 'not-in-catalog' },
      {
        resource: RETIRED_RESOURCE,
        records: fixture.records.get(RETIRED_RESOURCE),
        reason: 'not-in-catalog',
      },
      { resource: 'xzcf', records: fixture.records.get('xzcf'), reason: 'fields-not-in-catalog' },
    ]);
    expect(await db.query('SELECT * FROM warehouse_upgrades')).toEqual([]);
    expect(await db.query('SELECT 1 FROM r_xzcf')).toEqual([]);
    expect(await db.query('SELECT * FROM origins')).toEqual([]);
  });

  it('moves every record of every catalog resource, once, even with two upgrades at the same time', async () => {
    // PGlite has one connection: there the two calls share it and take turns
    const other = WAREHOUSE_KIND === 'postgres' ? await openBare(env) : db;
    try {
      first = await Promise.all([upgradeFromV1(db, env.catalog), upgradeFromV1(other, env.catalog)]);
    } finally {
      if (other !== db) await other.close();
    }
    const moved = first.flatMap((r) => r.resources).sort((a, b) => (a.resource < b.resource ? -1 : 1));
    expect(moved).toEqual(
      MOVED.map((resource) => ({
        resource,
        records: fixture.records.get(resource),
        history: fixture.history.get(resource) ?? 0,
      })),
    );
    for (const r of first)
      expect(r.leftBehind).toEqual([
        {
          resource: RETIRED_RESOURCE,
          records: fixture.records.get(RETIRED_RESOURCE),
          reason: 'not-in-catalog',
        },
      ]);
    expect(
      await db.query('SELECT resource, records::int, history::int FROM warehouse_upgrades ORDER BY resource'),
    ).toEqual(moved);
  });

  it('keeps every field, record column and provenance part of every record, and ids its history', async () => {
    for (const id of MOVED) await expectMovedExactly(db, env.catalog, id);
    await expectIdsUnique(db);
  });

  it('leaves records_v1 and the history as they were, and the retired resource unmoved', async () => {
    expect(await v1Digest(db)).toEqual(v1Before);
    expect(await historySnapshot(db)).toEqual(historyBefore);
    const retired = await db.query<{ n: number; ids: number }>(
      `SELECT count(*)::int AS n, count(record_id)::int AS ids FROM record_history WHERE resource = $1`,
      [RETIRED_RESOURCE],
    );
    expect(retired).toEqual([{ n: fixture.history.get(RETIRED_RESOURCE), ids: 0 }]);
  });

  it('makes one origin per file and per platform stream, from the first run that wrote it', async () => {
    const origins = await db.query<Row>(
      `SELECT source, kind, key, name, first_run_id::int FROM origins ORDER BY source, key`,
    );
    const expected = await db.query<Row>(
      `SELECT source, CASE WHEN provenance ? 'sha256' THEN 'file' ELSE 'stream' END AS kind,
              coalesce(provenance->>'sha256', provenance->>'file') AS key, min(provenance->>'file') AS name,
              min(first_run_id)::int AS first_run_id
       FROM records_v1 WHERE resource <> $1 GROUP BY 1, 2, 3 ORDER BY 1, 3`,
      [RETIRED_RESOURCE],
    );
    expect(origins).toEqual(expected);
    expect(origins.filter((o) => o.kind === 'stream').map((o) => o.name)).toEqual(['xzcf', 'xzxk']);
  });

  it('serves the records view with every v1 column as records_v1 had it', async () => {
    await prepareWarehouse(db, env.catalog);
    const columns = `resource, natural_key, version, schema_version, content_hash, data, uscc, subject_name,
      department, produced_date, received_at, changed_at, disclosure, match_method, match_score, match_flags,
      source, provenance, first_run_id, run_id, raw_digest`;
    const view = await db.query<Row>(
      `SELECT ${columns} FROM records ORDER BY resource COLLATE "C", natural_key COLLATE "C"`,
    );
    const v1 = await db.query<Row>(
      `SELECT ${columns} FROM records_v1 WHERE resource <> $1 ORDER BY resource COLLATE "C", natural_key COLLATE "C"`,
      [RETIRED_RESOURCE],
    );
    expect(view.length).toBe(v1.length);
    for (let i = 0; i < v1.length; i++) expect(view[i], String(v1[i]?.natural_key)).toEqual(v1[i]);
  });

  it('does nothing the second time', async () => {
    const before = await db.query(
      `SELECT (SELECT max(record_id) FROM r_xzcf) AS max_id, (SELECT count(*) FROM origins) AS origins,
              (SELECT json_agg(w ORDER BY resource) FROM warehouse_upgrades w) AS upgrades`,
    );
    const again = await upgradeFromV1(db, env.catalog);
    expect(again).toEqual({
      resources: [],
      leftBehind: [
        {
          resource: RETIRED_RESOURCE,
          records: fixture.records.get(RETIRED_RESOURCE),
          reason: 'not-in-catalog',
        },
      ],
    });
    expect(
      await db.query(
        `SELECT (SELECT max(record_id) FROM r_xzcf) AS max_id, (SELECT count(*) FROM origins) AS origins,
                (SELECT json_agg(w ORDER BY resource) FROM warehouse_upgrades w) AS upgrades`,
      ),
    ).toEqual(before);
    for (const id of MOVED)
      expect(await db.query(`SELECT count(*)::int AS n FROM r_${id}`)).toEqual([
        { n: fixture.records.get(id) },
      ]);
  });
});

describe(`an upgrade that fails half-way (${WAREHOUSE_KIND})`, () => {
  let env: TestEnv;
  let db: Warehouse;
  let fixture: V1Fixture;

  beforeAll(async () => {
    env = await makeEnv('upgrade_v1_fail');
    db = await openBare(env);
  }, 120_000);

  afterAll(async () => {
    await dropEnv(env, db);
  });

  it('returns at once on a warehouse without records_v1', async () => {
    await expect(upgradeFromV1(db, env.catalog)).resolves.toEqual({ resources: [], leftBehind: [] });
    fixture = await buildV1Warehouse(db, env.catalog);
  }, 120_000);

  it('leaves the resources before the failure moved and the failed one untouched; a rerun completes', async () => {
    // the second resource's table refuses a row in the middle of its insert
    await db.query(`CREATE FUNCTION refuse_row() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN IF NEW.version = 3 THEN RAISE EXCEPTION 'refused for the test'; END IF; RETURN NEW; END $$`);
    await db.query(
      `CREATE TRIGGER refuse BEFORE INSERT ON r_xzcf FOR EACH ROW EXECUTE FUNCTION refuse_row()`,
    );
    const failed = await upgradeFromV1(db, env.catalog).then(
      () => null,
      (error: unknown) => error,
    );
    expect(failed).toBeInstanceOf(GuijiError);
    expect((failed as GuijiError).message).toMatch(/moving xzcf .*refused for the test/);

    expect(await db.query('SELECT resource FROM warehouse_upgrades')).toEqual([{ resource: 'enterprise' }]);
    expect(await db.query('SELECT count(*)::int AS n FROM r_enterprise')).toEqual([
      { n: fixture.records.get('enterprise') },
    ]);
    await expectMovedExactly(db, env.catalog, 'enterprise');
    for (const id of ['xzcf', 'xzxk']) {
      expect(await db.query(`SELECT count(*)::int AS n FROM r_${id}`)).toEqual([{ n: 0 }]);
      expect(
        await db.query(
          'SELECT count(*)::int AS n FROM record_history WHERE resource = $1 AND record_id IS NOT NULL',
          [id],
        ),
      ).toEqual([{ n: 0 }]);
    }
    // the failed resource's origins went with it
    expect(await db.query(`SELECT name FROM origins WHERE source <> 'drops' OR name LIKE 'scjgj/%'`)).toEqual(
      [],
    );
    // its indexes too were put back as they were
    expect(
      (
        await db.query<{ indexname: string }>(
          `SELECT indexname::text FROM pg_indexes WHERE schemaname = $1 AND tablename = 'r_xzcf' ORDER BY 1`,
          [db.schema],
        )
      ).map((i) => i.indexname),
    ).toEqual(['r_xzcf_matched', 'r_xzcf_pkey', 'r_xzcf_record_id', 'r_xzcf_run_id', 'r_xzcf_warned']);

    await db.query('DROP TRIGGER refuse ON r_xzcf');
    // the rerun as `guiji migrate` (and every command that writes) makes it
    const rerun = (await prepareWarehouse(db, env.catalog)).upgraded;
    expect(rerun.resources.map((r) => [r.resource, r.records])).toEqual([
      ['xzcf', fixture.records.get('xzcf')],
      ['xzxk', fixture.records.get('xzxk')],
    ]);
    for (const id of MOVED) await expectMovedExactly(db, env.catalog, id);
    await expectIdsUnique(db);
  }, 120_000);
});

/**
 * The upgrade's time on a large warehouse: `GUIJI_BENCH_UPGRADE=200000` (penalties) runs it, skipped otherwise;
 * `GUIJI_BENCH_UPGRADE_BULK=0` keeps the indexes in place while inserting, for comparison.
 */
const BENCH_PENALTIES = Number(process.env.GUIJI_BENCH_UPGRADE ?? 0);

describe.runIf(BENCH_PENALTIES > 0)(`the upgrade of ${BENCH_PENALTIES} penalties (${WAREHOUSE_KIND})`, () => {
  let env: TestEnv;
  let db: Warehouse;

  beforeAll(async () => {
    env = await makeEnv('upgrade_v1_bench');
    db = await openBare(env);
  });

  afterAll(async () => {
    await dropEnv(env, db);
  });

  it('moves them and says how long it took', async () => {
    let started = performance.now();
    const fixture = await buildV1Warehouse(db, env.catalog, {
      penalties: BENCH_PENALTIES,
      enterprises: 2000,
    });
    const built = performance.now() - started;
    await db.query('VACUUM ANALYZE records_v1');
    started = performance.now();
    const result = await upgradeFromV1(db, env.catalog, {
      bulk: process.env.GUIJI_BENCH_UPGRADE_BULK !== '0',
    });
    const took = performance.now() - started;
    const xzcf = result.resources.find((r) => r.resource === 'xzcf');
    expect(xzcf?.records).toBe(fixture.records.get('xzcf'));
    const [size] = await db.query<{ table: string; indexes: string }>(
      `SELECT pg_size_pretty(pg_table_size('r_xzcf')) AS table, pg_size_pretty(pg_indexes_size('r_xzcf')) AS indexes`,
    );
    console.log(
      `upgrade of ${xzcf?.records} penalties (${WAREHOUSE_KIND}): ${(took / 1000).toFixed(1)} s ` +
        `(fixture built in ${(built / 1000).toFixed(1)} s; r_xzcf ${size?.table} + indexes ${size?.indexes})`,
    );
  }, 1_800_000);
});
