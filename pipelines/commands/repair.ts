import type { Command } from 'commander';
import { applyRepair, listRepairs, type Repair, revokeRepair } from '../publication/repairs.js';
import { dateFlag, idFlag, writeJson } from './context.js';
import { recordFlag, withPublication } from './publication.js';

function print(line: string): void {
  process.stdout.write(`${line}\n`);
}

function line(r: Repair): string {
  return `${r.id}\t记录 ${r.record}\t${r.resource}\t修复日期 ${r.date}\t${r.status === 'applied' ? '有效' : '已撤销'}\t${r.by}`;
}

/** Adds `repair apply | list | revoke` (信用修复: a penalty taken down early once its minimum period is over). */
export function registerRepairCommands(program: Command): Command {
  const repair = program.command('repair').description('credit repair (信用修复) of published penalties');

  repair
    .command('apply')
    .description(
      'take a penalty down as repaired: accepted once its minimum period is over, refused before with the date',
    )
    .requiredOption('--record <id>', 'the record id (the record_id column of the views)')
    .requiredOption('--date <date>', 'the day the repair was verified, YYYY-MM-DD')
    .option('--note <text>', 'the proof seen (kept in the audit log)')
    .option('--by <name>', 'who applies it (default: the operating-system user)')
    .option('--today <date>', 'the day to decide for (default GUIJI_TODAY, else today in Asia/Shanghai)')
    .option('--json', 'print { id, record, resource, date, status, source, by, at }')
    .action(
      async (opts: {
        record: string;
        date: string;
        note?: string;
        by?: string;
        today?: string;
        json?: boolean;
      }) => {
        const record = recordFlag(opts.record);
        const date = dateFlag(opts.date, '--date');
        const r = await withPublication(opts.today, (ctx) =>
          applyRepair(ctx, {
            record,
            date,
            ...(opts.note ? { note: opts.note } : {}),
            ...(opts.by ? { by: opts.by } : {}),
          }),
        );
        if (opts.json) writeJson(r);
        else print(`信用修复 ${r.id} 已登记：记录 ${r.record} 撤下公示（修复日期 ${r.date}）`);
      },
    );

  repair
    .command('list')
    .description('credit repairs, oldest first')
    .option('--record <id>', 'only this record')
    .option('--json', 'print { repairs: [ { id, record, resource, date, status, source, by, at } ] }')
    .action(async (opts: { record?: string; json?: boolean }) => {
      const record = opts.record === undefined ? undefined : recordFlag(opts.record);
      const list = await withPublication(undefined, (ctx) =>
        listRepairs(ctx, record === undefined ? {} : { record }),
      );
      if (opts.json) writeJson({ repairs: list });
      else print(list.length ? list.map(line).join('\n') : '没有信用修复记录');
    });

  repair
    .command('revoke')
    .description('revoke a repair (entered by mistake, found false): the record follows its period again')
    .argument('<id>', 'the repair id')
    .requiredOption('--reason <text>', 'why (kept in the audit log)')
    .option('--by <name>', 'who decides (default: the operating-system user)')
    .option('--today <date>', 'the day to decide for (default GUIJI_TODAY, else today in Asia/Shanghai)')
    .option('--json', 'print { id, record, resource, date, status, source, by, at }')
    .action(async (id: string, opts: { reason: string; by?: string; today?: string; json?: boolean }) => {
      const repairId = idFlag(id, '<id>');
      const r = await withPublication(opts.today, (ctx) =>
        revokeRepair(ctx, { id: repairId, reason: opts.reason, ...(opts.by ? { by: opts.by } : {}) }),
      );
      if (opts.json) writeJson(r);
      else print(`信用修复 ${r.id} 已撤销：记录 ${r.record} 按其公示期重新计算`);
    });
  return repair;
}
