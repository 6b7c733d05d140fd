/**
 * A generated warehouse for the benches: N records of one run straight into the typed tables of warehouse v2
 * (`INSERT … SELECT generate_series`), shared by scripts/bench-report.ts and scripts/bench-console.ts.
 */
import pg from 'pg';
import type { Catalog, FieldDef } from '../catalog/load.js';
import { fromJsonSql, typedTable } from '../pipelines/warehouse/typed-schema.js';

export const DEPARTMENTS = [
  '界首市市场监督管理局',
  '国家税务总局界首市税务局',
  '界首市应急管理局',
  '阜阳市界首市生态环境分局',
  '界首市行政审批局',
  '市人力资源和社会保障局',
  '市发展和改革委员会',
  '界首市某未登记单位',
];

/** Creates the bench's database when missing. */
export async function ensureDatabase(url: string): Promise<void> {
  const name = decodeURIComponent(new URL(url).pathname.slice(1));
  if (!/^[a-z_][a-z0-9_]*$/.test(name)) throw new Error(`not a plain database name: ${name}`);
  const admin = new URL(url);
  admin.pathname = '/postgres';
  const client = new pg.Client({ connectionString: admin.toString() });
  await client.connect();
  try {
    const found = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (!found.rowCount) {
      await client.query(`CREATE DATABASE "${name}"`);
      console.log(`created database ${name}`);
    }
  } finally {
    await client.end();
  }
}

/** The resources of the generated records and which of them each is: i % 10 in [from, to). */
export const SHARES = [
  { resource: 'xzcf', from: 0, to: 6 },
  { resource: 'xzxk', from: 6, to: 9 },
  { resource: 'enterprise', from: 9, to: 10 },
] as const;

/** What a 行政处罚 says besides its subject, department and date (the other resources carry those only). */
const PENALTY_FIELDS: Record<string, string> = {
  CF_XDR_LB: `'法人及非法人组织'`,
  CF_WSH: `'界市监罚〔2025〕' || i || '号'`,
  CF_WFXW: `'未按规定公示年度报告'`,
  CF_SY: `'未在规定期限内公示年度报告'`,
  CF_YJ: `'《企业信息公示暂行条例》第十七条'`,
  CF_CFLB: `'警告'`,
  CF_NR: `'警告'`,
  CF_CFJG: `($4::text[])[1 + (i % 8)]`,
};

export function quoteIdent(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

/**
 * The statement that generates the records of one resource for i in [$2, $3] of run $1 ($4: the departments)
 * straight into its typed table (warehouse v2): the subject, department and produced date in the resource's
 * own fields (and the penalty's usual fields), each typed as the loader types it, the record columns beside.
 * Field codes come from the catalog only.
 */
export function generateSql(catalog: Catalog, share: (typeof SHARES)[number]): string {
  const resource = catalog.resources.get(share.resource);
  if (!resource) throw new Error(`the catalog has no resource ${share.resource}`);
  const def = typedTable(resource);
  const data: Record<string, string> = {
    [resource.subject.name]: 'r.name',
    [resource.subject.uscc]: 'r.uscc',
    ...(resource.departmentField ? { [resource.departmentField]: 'r.department' } : {}),
    [resource.producedDate]: 'r.produced::text',
    ...(share.resource === 'xzcf' ? PENALTY_FIELDS : {}),
  };
  const pairs = Object.entries(data)
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([code, value]) => `'${code}', ${value}`)
    .join(', ');
  const fields = def.columns.filter((c) => c.field);
  return `INSERT INTO ${quoteIdent(def.name)} (natural_key, version, schema_version, catalog_version, content_hash,
            uscc, matched_uscc, department, produced_date, received_at, changed_at, disclosure, match_method,
            match_score, match_flags, source, row_number, first_run_id, run_id, ${fields.map((c) => quoteIdent(c.name)).join(', ')})
   SELECT '${share.resource}:' || i, 1, '${resource.current.version}', '${catalog.version}', md5(i::text),
          r.uscc, CASE WHEN r.method IS NULL THEN NULL ELSE r.uscc END, r.department, r.produced,
          r.produced + ((i * 7) % 30) * interval '1 day' + interval '10 hours', now(), 'public', r.method,
          CASE WHEN r.method IS NULL THEN NULL ELSE 1 END,
          CASE WHEN i % 97 = 0 THEN '{out_of_region}'::text[] WHEN i % 89 = 0 THEN '{name_mismatch}'::text[]
               ELSE '{}'::text[] END,
          CASE WHEN i % 3 = 0 THEN 'credit-platform' ELSE 'drops' END, i, $1, $1,
          ${fields.map((c) => fromJsonSql(c.field as FieldDef, 'd.data')).join(',\n          ')}
   FROM generate_series($2::bigint, $3::bigint) AS i,
   LATERAL (
     SELECT '91341282' || lpad((i % 500000)::text, 9, '0') || 'X' AS uscc,
            '界首市' || (i % 500000) || '号商贸有限公司' AS name,
            ($4::text[])[1 + (i % 8)] AS department,
            date '2024-01-01' + (i % 700)::int AS produced,
            CASE WHEN i % 20 = 0 THEN NULL WHEN i % 50 = 1 THEN 'name' WHEN i % 50 = 2 THEN 'reg_no'
                 ELSE 'uscc' END AS method
   ) r,
   LATERAL (SELECT jsonb_build_object(${pairs}) AS data) d
   WHERE i % 10 >= ${share.from} AND i % 10 < ${share.to}`;
}
