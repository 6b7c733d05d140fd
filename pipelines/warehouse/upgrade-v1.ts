import type { Catalog } from '../../catalog/load.js';
import type { Warehouse } from '../../lib/db.js';
import { GuijiError } from '../../lib/errors.js';

/** What the move of a v1 warehouse's records into the typed tables did. */
export interface UpgradeResult {
  resources: Array<{ resource: string; records: number; history: number }>;
  leftBehind: Array<{ resource: string; records: number }>;
}

/**
 * Placeholder until the upgrade lands: a warehouse whose `records_v1` is empty (every fresh one) has nothing
 * to move; one with rows is refused rather than served without them.
 */
export async function upgradeFromV1(db: Warehouse, _catalog: Catalog): Promise<UpgradeResult> {
  const [present] = await db.query<{ present: boolean }>(
    `SELECT to_regclass('records_v1') IS NOT NULL AS present`,
  );
  if (!present?.present) return { resources: [], leftBehind: [] };
  const [rows] = await db.query<{ any: boolean }>('SELECT EXISTS (SELECT 1 FROM records_v1) AS any');
  if (rows?.any)
    throw new GuijiError('GUIJI_ERR_DB', 'this warehouse holds v1 records, which this build cannot move yet');
  return { resources: [], leftBehind: [] };
}
