/**
 * `node bin/run-ts.js scripts/bench-typed-copy.ts [--rows N] [--url postgres://…]` — what the typed tables of
 * warehouse v2 cost PostgreSQL alone (docs/warehouse-v2.md): the same generated penalty rows `\copy`'d by psql
 * into
 *   (a) a bare table of 20 text columns (the rows as delivered),
 *   (b) the generated `r_xzcf` with its key and secondary indexes,
 *   (c) the same with its key only (no secondary index),
 *   (d) (c), then its secondary indexes built afterwards (the bulk path for an empty table).
 * Each into a fresh table of a scratch database made for the run and dropped after it. Single runs: on a
 * 2-core machine expect ±1.5 s of noise at 1M rows; run it on a quiet machine.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadCatalog } from '../catalog/load.js';
import { loadConfig } from '../lib/config.js';
import {
  createRandom,
  generateEnterprises,
  generatePenalties,
  PENALTY_HEADER,
} from '../pipelines/demo/generate.js';
import { copyJson, copyValue } from '../pipelines/load/copy-text.js';
import { buildHeaderIndex, matchHeader } from '../pipelines/normalize/headers.js';
import { compileRowValidator } from '../pipelines/validate/row-validator.js';
import { createTableSql, RECORD_ID_SEQUENCE, typedTable } from '../pipelines/warehouse/typed-schema.js';
import { createAjv } from '../schemas/ajv.js';

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 && process.argv[i + 1] ? (process.argv[i + 1] as string) : fallback;
}

const ROWS = Number(arg('rows', '200000'));
const URL_ARG = arg(
  'url',
  process.env.GUIJI_BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres',
);

interface Done {
  code: number | null;
  stdout: string;
  stderr: string;
  ms: number;
}

function run(command: string, args: string[]): Promise<Done> {
  return new Promise((resolve, reject) => {
    const start = performance.now();
    const child = spawn(command, args, {
      env: { ...process.env, PGCLIENTENCODING: 'UTF8' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      stdout += d;
    });
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      stderr += d;
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr, ms: performance.now() - start }));
  });
}

async function psql(url: string, ...commands: string[]): Promise<Done> {
  const args = [url, '-X', '-q', '-t', '-A', '-v', 'ON_ERROR_STOP=1'];
  for (const c of commands) args.push('-c', c);
  const done = await run('psql', args);
  if (done.code !== 0) throw new Error(`psql failed: ${done.stderr.trim()}`);
  return done;
}

async function main(): Promise<void> {
  const config = loadConfig({ env: {} });
  const catalog = loadCatalog(config.catalogDir, config.schemasDir);
  const xzcf = catalog.resources.get('xzcf')!;
  const def = typedTable(xzcf);
  const fields = def.columns.filter((c) => c.field);

  // the rows: the demo's penalties, validated as a drop would be, so the typed columns hold what the loader
  // will write
  const random = createRandom(16);
  const plan = generatePenalties(random, generateEnterprises(random, 2000), ROWS, { faultShare: 0 });
  const match = matchHeader(buildHeaderIndex(catalog), PENALTY_HEADER);
  if (match?.resource.id !== 'xzcf' || !match) throw new Error('the demo header no longer maps to xzcf');
  const validate = compileRowValidator(createAjv(), catalog, match.resource, match.version, match.columns);
  const bare: string[] = [];
  const typed: string[] = [];
  const keys = new Set<string>();
  plan.rows.forEach((row, i) => {
    const result = validate(row);
    if (!result.ok || keys.has(result.value.naturalKey)) return;
    const r = result.value;
    keys.add(r.naturalKey);
    bare.push(row.map((cell) => copyValue(cell)).join('\t'));
    typed.push(
      [
        '1',
        '1',
        String(i + 2),
        r.producedDate ?? '\\N',
        r.uscc ?? '',
        copyValue(r.naturalKey),
        r.uscc ?? '\\N',
        r.uscc ? 'uscc' : '\\N',
        copyValue(r.department),
        'public',
        r.contentHash,
        'drops',
        '2019',
        copyJson(catalog.version),
        ...fields.map((c) => copyValue(r.data[c.field!.code])),
      ].join('\t'),
    );
  });
  const typedColumns = [
    'first_run_id',
    'run_id',
    'row_number',
    'produced_date',
    'uscc',
    'natural_key',
    'matched_uscc',
    'match_method',
    'department',
    'disclosure',
    'content_hash',
    'source',
    'schema_version',
    'catalog_version',
    ...fields.map((c) => c.name),
  ];

  const dir = mkdtempSync(join(tmpdir(), 'guiji-typed-copy-'));
  const database = `guiji_typed_copy_${process.pid}`;
  const admin = new URL(URL_ARG);
  const url = new URL(URL_ARG);
  url.pathname = `/${database}`;
  try {
    await writeFile(join(dir, 'bare.tsv'), `${bare.join('\n')}\n`);
    await writeFile(join(dir, 'typed.tsv'), `${typed.join('\n')}\n`);
    await psql(admin.toString(), `CREATE DATABASE "${database}"`);
    const ddl = createTableSql(def);
    const create = ddl[0] as string;
    const indexes = def.indexes.map((x) => x.sql);
    const scenarios: {
      name: string;
      table: string;
      setup: string[];
      file: string;
      columns: string;
      after: string[];
    }[] = [
      {
        name: '(a) bare, 20 text columns',
        table: 'bare',
        setup: [`CREATE TABLE bare (${PENALTY_HEADER.map((_, i) => `c${i + 1} text`).join(', ')})`],
        file: 'bare.tsv',
        columns: '',
        after: [],
      },
      {
        name: '(b) r_xzcf, key + secondary indexes',
        table: 'r_xzcf',
        setup: [create, ...indexes],
        file: 'typed.tsv',
        columns: `(${typedColumns.join(', ')})`,
        after: [],
      },
      {
        name: '(c) r_xzcf, key only',
        table: 'r_xzcf',
        setup: [create],
        file: 'typed.tsv',
        columns: `(${typedColumns.join(', ')})`,
        after: [],
      },
      {
        name: '(d) r_xzcf, key only, then its indexes built',
        table: 'r_xzcf',
        setup: [create],
        file: 'typed.tsv',
        columns: `(${typedColumns.join(', ')})`,
        after: indexes,
      },
    ];
    console.log(
      `${bare.length} rows (${ROWS} generated), PostgreSQL ${(await psql(url.toString(), 'SHOW server_version')).stdout.trim()}`,
    );
    for (const s of scenarios) {
      await psql(
        url.toString(),
        `DROP TABLE IF EXISTS ${s.table}`,
        `DROP SEQUENCE IF EXISTS ${RECORD_ID_SEQUENCE}`,
        `CREATE SEQUENCE ${RECORD_ID_SEQUENCE} AS bigint CACHE 100`,
        ...s.setup,
      );
      await psql(url.toString(), 'CHECKPOINT');
      const copy = await run('psql', [
        url.toString(),
        '-X',
        '-v',
        'ON_ERROR_STOP=1',
        '-c',
        `\\copy ${s.table} ${s.columns} FROM '${join(dir, s.file)}'`,
      ]);
      if (copy.code !== 0) throw new Error(`${s.name}: ${copy.stderr.trim()}`);
      let afterMs = 0;
      if (s.after.length) afterMs = (await psql(url.toString(), ...s.after)).ms;
      const size = Number(
        (await psql(url.toString(), `SELECT pg_total_relation_size('${s.table}')`)).stdout.trim(),
      );
      const seconds = (copy.ms + afterMs) / 1000;
      console.log(
        `${s.name.padEnd(48)} ${seconds.toFixed(2).padStart(7)} s${afterMs ? ` (indexes ${(afterMs / 1000).toFixed(2)} s)` : ''}  ${(size / 1048576).toFixed(0).padStart(5)} MB  ${Math.round(bare.length / seconds)} rows/s`,
      );
    }
  } finally {
    await psql(admin.toString(), `DROP DATABASE IF EXISTS "${database}"`).catch((error: unknown) => {
      console.error(`could not drop the scratch database ${database}: ${(error as Error).message}`);
    });
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
