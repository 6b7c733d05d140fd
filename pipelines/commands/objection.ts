import type { Command } from 'commander';
import { UsageError } from '../../lib/errors.js';
import {
  listObjections,
  type Objection,
  OUTCOMES,
  type Outcome,
  openObjection,
  resolveObjection,
} from '../publication/objections.js';
import { dateFlag, idFlag, writeJson } from './context.js';
import { recordFlag, withPublication } from './publication.js';

function print(line: string): void {
  process.stdout.write(`${line}\n`);
}

const STATUS_TEXT = { open: '处理中', resolved: '已办结' } as const;
const OUTCOME_TEXT: Record<Outcome, string> = {
  upheld: '异议成立，撤下',
  corrected: '更正后公示',
  rejected: '异议不成立，恢复公示',
};

function line(o: Objection): string {
  const outcome = o.outcome ? `（${OUTCOME_TEXT[o.outcome]}）` : '';
  return `${o.id}\t记录 ${o.record}\t${o.resource}\t受理 ${o.received}\t期限 ${o.deadline}\t${STATUS_TEXT[o.status]}${outcome}\t${o.reason}`;
}

/** Adds `objection open | list | resolve` (异议: the record's publication is suspended while it is checked). */
export function registerObjectionCommands(program: Command): Command {
  const objection = program.command('objection').description('objections (异议) to published records');

  objection
    .command('open')
    .description(
      'record an objection: publication is suspended at once; the deadline is 20 working days after receipt',
    )
    .requiredOption('--record <id>', 'the record id (the record_id column of the views)')
    .requiredOption('--received <date>', 'the day the objection was received, YYYY-MM-DD')
    .requiredOption('--reason <text>', 'what the party disputes')
    .option('--by <name>', 'who records it (default: the operating-system user)')
    .option('--today <date>', 'the day to decide for (default GUIJI_TODAY, else today in Asia/Shanghai)')
    .option('--json', 'print { id, record, received, deadline, status }')
    .action(
      async (opts: {
        record: string;
        received: string;
        reason: string;
        by?: string;
        today?: string;
        json?: boolean;
      }) => {
        const record = recordFlag(opts.record);
        const received = dateFlag(opts.received, '--received');
        const o = await withPublication(opts.today, (ctx) =>
          openObjection(ctx, { record, received, reason: opts.reason, ...(opts.by ? { by: opts.by } : {}) }),
        );
        if (opts.json)
          writeJson({
            id: o.id,
            record: o.record,
            received: o.received,
            deadline: o.deadline,
            status: o.status,
          });
        else
          print(
            `异议 ${o.id} 已受理：记录 ${o.record} 暂停公示，处理期限 ${o.deadline}（受理后 20 个工作日）`,
          );
      },
    );

  objection
    .command('list')
    .description('objections, oldest first')
    .option('--open', 'only those not yet resolved')
    .option('--overdue', 'only open ones past their deadline')
    .option('--today <date>', 'the day deadlines are compared with (default GUIJI_TODAY, else today)')
    .option(
      '--json',
      'print { objections: [ { id, record, resource, received, deadline, status, reason, outcome } ] }',
    )
    .action(async (opts: { open?: boolean; overdue?: boolean; today?: string; json?: boolean }) => {
      const list = await withPublication(opts.today, (ctx) =>
        listObjections(ctx.db, {
          open: opts.open ?? false,
          overdue: opts.overdue ?? false,
          today: ctx.today,
        }),
      );
      if (opts.json) writeJson({ objections: list });
      else print(list.length ? list.map(line).join('\n') : '没有符合条件的异议');
    });

  objection
    .command('resolve')
    .description(
      'close an objection: upheld withdraws the record, corrected waits for the corrected version, rejected publishes it again',
    )
    .argument('<id>', 'the objection id')
    .requiredOption('--outcome <outcome>', 'upheld, corrected or rejected')
    .option('--note <text>', 'what was found (kept in the audit log)')
    .option('--by <name>', 'who decides (default: the operating-system user)')
    .option('--today <date>', 'the day to decide for (default GUIJI_TODAY, else today in Asia/Shanghai)')
    .option('--json', 'print { id, record, resource, received, deadline, status, reason, outcome }')
    .action(
      async (
        id: string,
        opts: { outcome: string; note?: string; by?: string; today?: string; json?: boolean },
      ) => {
        const objectionId = idFlag(id, '<id>');
        if (!(OUTCOMES as readonly string[]).includes(opts.outcome))
          throw new UsageError(
            '--outcome',
            `应为 upheld（成立）、corrected（更正）或 rejected（不成立），而不是 "${opts.outcome}"`,
          );
        const o = await withPublication(opts.today, (ctx) =>
          resolveObjection(ctx, {
            id: objectionId,
            outcome: opts.outcome as Outcome,
            ...(opts.note ? { note: opts.note } : {}),
            ...(opts.by ? { by: opts.by } : {}),
          }),
        );
        if (opts.json) writeJson(o);
        else print(`异议 ${o.id} 已办结：${OUTCOME_TEXT[o.outcome as Outcome]}`);
      },
    );
  return objection;
}
