import type { Command } from 'commander';
import { explainConfig } from '../../lib/config.js';
import { GuijiError, messageOf } from '../../lib/errors.js';
import { createLogger } from '../../lib/logger.js';
import { type DoctorReport, runDoctor } from '../doctor/doctor.js';
import { warehouseTarget, writeJson } from './context.js';

function print(line: string): void {
  process.stdout.write(`${line}\n`);
}

function printReport(report: DoctorReport): void {
  print('settings:');
  for (const [name, s] of Object.entries(report.settings)) {
    const value = s.value === null ? '(unset)' : String(s.value);
    print(`  ${name.padEnd(34)} ${value}  [${s.source}${s.variable ? ` ${s.variable}` : ''}]`);
  }
  print('\nchecks:');
  for (const c of report.checks) print(`  ${c.ok ? 'ok  ' : 'FAIL'}  ${c.name.padEnd(17)} ${c.detail}`);
  const failed = report.checks.filter((c) => !c.ok).length;
  print(failed ? `\n${failed} of ${report.checks.length} checks failed` : '\nall checks passed');
}

/** `guiji doctor`: exit 0 when every check passes, 1 when one fails, 2 when the settings themselves are wrong. */
export function registerDoctorCommand(program: Command): void {
  program
    .command('doctor')
    .description(
      'print the effective settings (secrets hidden) and check the catalog, the warehouse and its migrations, the drop folder and each configured platform',
    )
    .option(
      '--json',
      'print { ok, checks: [ { name, ok, detail } ], settings: { VARIABLE: { value, source } } }',
    )
    .action(async (opts: { json?: boolean }) => {
      let explained: ReturnType<typeof explainConfig>;
      try {
        explained = explainConfig();
      } catch (error) {
        if (!(error instanceof GuijiError)) throw error;
        // the settings cannot be read: say so in the doctor's own shape, then exit 2 as any command would
        const report: DoctorReport = {
          ok: false,
          checks: [{ name: 'settings', ok: false, detail: messageOf(error) }],
          settings: {},
        };
        if (opts.json) writeJson(report);
        else printReport(report);
        process.exitCode = 2;
        return;
      }
      const logger = createLogger(explained.config.logLevel, process.stderr);
      const report = await runDoctor({ explained, logger, target: warehouseTarget(explained.config) });
      if (opts.json) writeJson(report);
      else printReport(report);
      process.exitCode = report.ok ? 0 : 1;
    });
}
