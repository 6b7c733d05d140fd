import { messageOf } from '../../lib/errors.js';
import type { AfterNightly } from './scheduler.js';

/**
 * The quality report after each nightly run, through `pipelines/report/`'s `writeReports` when that module
 * provides it. Loaded lazily so that the scheduler does not depend on the report module at start-up.
 *
 * TODO(lead, issue 4 + report issue): confirm the argument shape of `writeReports` once pipelines/report/ lands
 * and replace this lazy lookup by a plain import; until then a missing module is logged and skipped.
 */
export const writeNightlyReport: AfterNightly = async ({ config, db, catalog, logger, run }) => {
  // a variable specifier: the module may not exist yet, and tsc must not require it
  const specifier = '../report/index.js';
  let report: { writeReports?: (options: Record<string, unknown>) => Promise<unknown> };
  try {
    report = (await import(specifier)) as typeof report;
  } catch (error) {
    logger.warn(
      { err: messageOf(error) },
      'no quality report after the nightly run: pipelines/report is not available',
    );
    return;
  }
  if (typeof report.writeReports !== 'function') {
    logger.warn('no quality report after the nightly run: pipelines/report has no writeReports');
    return;
  }
  await report.writeReports({ config, db, catalog, logger, runId: run.runId, run });
  logger.info({ reportDir: config.reportDir }, 'quality report written');
};
