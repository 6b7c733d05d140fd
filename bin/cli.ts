/**
 * The `guiji` command line: builds the commander program from the commands in pipelines/commands/, runs it,
 * and maps what a command throws to a message and an exit code.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Command } from 'commander';
import { loadConfig, SETTINGS } from '../lib/config.js';
import { exitCodeOf, toGuijiError, type WarehouseTarget } from '../lib/errors.js';
import { registerAuditCommands } from '../pipelines/commands/audit.js';
import { registerBackfillCommands } from '../pipelines/commands/backfill.js';
import { registerCalendarCommands } from '../pipelines/commands/calendar.js';
import { registerCatalogCommands } from '../pipelines/commands/catalog.js';
import { warehouseTarget, writeJson } from '../pipelines/commands/context.js';
import { registerDemoCommand } from '../pipelines/commands/demo.js';
import { registerDoctorCommand } from '../pipelines/commands/doctor.js';
import { registerIdCommands } from '../pipelines/commands/id.js';
import { registerMigrateCommand } from '../pipelines/commands/migrate.js';
import { registerObjectionCommands } from '../pipelines/commands/objection.js';
import { registerPublicationCommands } from '../pipelines/commands/publication.js';
import { registerPublishCommands } from '../pipelines/commands/publish.js';
import { registerQuarantineCommands } from '../pipelines/commands/quarantine.js';
import { registerRepairCommands } from '../pipelines/commands/repair.js';
import { registerReportCommand } from '../pipelines/commands/report.js';
import { registerReviewCommands } from '../pipelines/commands/review.js';
import { registerRunCommand } from '../pipelines/commands/run.js';
import { registerScheduleCommand } from '../pipelines/commands/schedule.js';
import { registerServeCommand } from '../pipelines/commands/serve.js';
import { registerSimulateCommand } from '../pipelines/commands/simulate.js';
import { registerStatusCommand } from '../pipelines/commands/status.js';
import { registerTemplateCommands } from '../pipelines/commands/template.js';

const settingsHelp = `\nSettings (environment; flags win over environment, environment over guiji.config.json):\n${SETTINGS.map(
  (s) => `  ${s.env.join(' | ').padEnd(34)} ${s.help}`,
).join(
  '\n',
)}\n\nExit codes: 0 done, 1 failed, 2 bad usage or configuration, 3 another run holds the lock, 4 partly done.\n`;

const { version } = JSON.parse(readFileSync(join(import.meta.dirname, '..', 'package.json'), 'utf8')) as {
  version: string;
};

const program = new Command();
program
  .name('guiji')
  .description(
    '归集 — collects enterprise information from departments and platforms into one regulatory warehouse',
  )
  .version(version, '-V, --version', 'print the version of guiji')
  .addHelpText('after', settingsHelp)
  .showHelpAfterError()
  .exitOverride();

registerRunCommand(program);
registerStatusCommand(program);
registerMigrateCommand(program);
registerQuarantineCommands(program);
registerIdCommands(program);
registerDemoCommand(program);
registerCalendarCommands(program);
registerCatalogCommands(program);
registerTemplateCommands(program);
registerReviewCommands(program);
registerReportCommand(program);
registerPublishCommands(program);
registerBackfillCommands(program);
registerScheduleCommand(program);
registerDoctorCommand(program);
registerSimulateCommand(program);
registerPublicationCommands(program);
registerObjectionCommands(program);
registerRepairCommands(program);
registerAuditCommands(program);
registerServeCommand(program);

/** The warehouse a message may name, when the settings can be read at all. */
function targetForMessages(): WarehouseTarget {
  try {
    return warehouseTarget(loadConfig());
  } catch {
    return { where: 'the warehouse', setting: 'GUIJI_DATABASE_URL' };
  }
}

/** Whether the stack and causes of a failure may be printed (GUIJI_LOG_LEVEL=debug or trace). */
function debugWanted(): boolean {
  try {
    return ['debug', 'trace'].includes(loadConfig().logLevel);
  } catch {
    return false;
  }
}

/** An error's stack and every cause's, for GUIJI_LOG_LEVEL=debug. */
function stackOf(error: unknown): string {
  const lines: string[] = [];
  let current: unknown = error;
  for (let depth = 0; current !== undefined && current !== null && depth < 6; depth++) {
    lines.push(
      depth === 0 ? '' : 'caused by:',
      current instanceof Error ? (current.stack ?? current.message) : String(current),
    );
    current = (current as { cause?: unknown }).cause;
  }
  return lines.filter(Boolean).join('\n');
}

/** With `--json`, a failure is JSON on stdout too, so that a script reading stdout always gets JSON. */
const wantsJson = process.argv.slice(2).includes('--json');

try {
  await program.parseAsync(process.argv);
} catch (thrown) {
  const code = (thrown as { code?: string }).code;
  if (typeof code === 'string' && code.startsWith('commander.')) {
    // commander has printed help, the version or the usage error already
    const fine = ['commander.helpDisplayed', 'commander.version'].includes(code);
    if (!fine && wantsJson)
      writeJson({
        error: { code: 'GUIJI_ERR_USAGE', message: (thrown as Error).message.replace(/^error: /, '') },
      });
    process.exitCode = fine ? 0 : 2;
  } else {
    // only the message reaches the user: no stack, no driver's text, no password (the stack at debug level)
    const error = toGuijiError(thrown, targetForMessages());
    process.stderr.write(`guiji: ${error.message}\n`);
    if (debugWanted()) process.stderr.write(`${error.code}\n${stackOf(thrown)}\n`);
    if (wantsJson) writeJson({ error: { code: error.code, message: error.message } });
    process.exitCode = exitCodeOf(error);
  }
}
