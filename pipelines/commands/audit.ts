import type { Command } from 'commander';
import { ACTION_TEXT, listAudit } from '../publication/audit.js';
import { limitFlag, writeJson } from './context.js';
import { recordFlag, withPublication } from './publication.js';

/** Adds `audit list`: every change a person made to what is published, newest first. */
export function registerAuditCommands(program: Command): Command {
  const audit = program.command('audit').description('who changed what is published, when, what and why');
  audit
    .command('list')
    .description('the audit log, newest first')
    .option('--record <id>', 'only changes to this record')
    .option('--limit <n>', 'at most this many entries', '100')
    .option(
      '--json',
      'print { entries: [ { id, at, by, action, resource, record, subject, reason, detail } ] } (at with +08:00)',
    )
    .action(async (opts: { record?: string; limit: string; json?: boolean }) => {
      const limit = limitFlag(opts.limit);
      const record = opts.record === undefined ? undefined : recordFlag(opts.record);
      const entries = await withPublication(undefined, (ctx) =>
        listAudit(ctx.db, { limit, ...(record === undefined ? {} : { record }) }),
      );
      if (opts.json) writeJson({ entries });
      else if (!entries.length) process.stdout.write('审计日志中没有记录\n');
      else
        for (const e of entries)
          process.stdout.write(
            `${e.id}\t${e.at.slice(0, 16).replace('T', ' ')}\t${e.by}\t${ACTION_TEXT[e.action] ?? e.action}\t记录 ${e.record ?? ''}\t${e.reason ?? ''}\n`,
          );
    });
  return audit;
}
