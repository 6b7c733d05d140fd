import { writeReports } from '../report/index.js';
import type { AfterNightly } from './scheduler.js';

/**
 * The quality report of each nightly run (HTML, XLSX and the JSON contract) into GUIJI_REPORT_DIR. A failure
 * is logged by the scheduler and the night stands: the run and its metrics are in the warehouse, and
 * `guiji report --run ID` writes the report again.
 */
export const writeNightlyReport: AfterNightly = async ({ config, db, catalog, logger, run }) => {
  const written = await writeReports(db, catalog, {
    outDir: config.reportDir,
    run: run.runId,
    catalogDir: config.catalogDir,
  });
  logger.info({ files: written.files, index: written.index, ms: written.ms }, 'quality report written');
};
