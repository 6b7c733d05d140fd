import { expect } from 'vitest';
import type { Warehouse } from '../../lib/db.js';
import type { SimStore } from '../../pipelines/simulate/store.js';

/** Every record id the simulator holds is in the warehouse (loaded or quarantined), and loaded at most once. */
export async function expectEveryRecord(
  db: Warehouse,
  sim: { store: SimStore },
  datasets: string[] = ['xzxk', 'xzcf'],
): Promise<void> {
  for (const dataset of datasets) {
    const loaded = await db.query<{ id: string }>(
      `SELECT provenance->>'recordId' AS id FROM records WHERE resource = $1`,
      [dataset],
    );
    const rejected = await db.query<{ id: string }>(
      `SELECT DISTINCT record_id AS id FROM quarantine WHERE resource = $1`,
      [dataset],
    );
    const ids = new Set([...loaded, ...rejected].map((r) => r.id));
    // two platform records with one natural key (authority, document number, subject) are one record: the
    // later one is a new version of it, so only one of their ids can be on file
    const keyOf = (id: string) => {
      const r = sim.store.row(dataset, id) as Record<string, unknown>;
      const p = dataset === 'xzcf' ? 'CF' : 'XK';
      return dataset === 'xzcf'
        ? `${r.CF_CFJGDM}|${r.CF_WSH}|${r.CF_XDR_SHXYM}`
        : `${r[`${p}_XKJGDM`]}|${r[`${p}_WSH`]}|${r[`${p}_XDR_SHXYM`]}`;
    };
    const keysOnFile = new Set([...ids].filter((id) => sim.store.row(dataset, id)).map(keyOf));
    const missing = sim.store.ids(dataset).filter((id) => !ids.has(id) && !keysOnFile.has(keyOf(id)));
    expect(missing).toEqual([]);
    expect(new Set(loaded.map((r) => r.id)).size).toBe(loaded.length);
    expect(loaded.length).toBeGreaterThan(sim.store.count(dataset) * 0.8);
  }
}
