/**
 * The console's 异议 and 修复 actions: the very functions `guiji objection` and `guiji repair` call (the rules,
 * the deadline, the audit row written in the change's transaction), with the console's actor as who acted.
 */
import type { FastifyRequest } from 'fastify';
import { GuijiError } from '../../lib/errors.js';
import {
  listObjections,
  type Objection,
  type Outcome,
  openObjection,
  resolveObjection,
} from '../publication/objections.js';
import { type PublicationContext, publicationContext } from '../publication/record.js';
import { applyRepair, listRepairs, type Repair } from '../publication/repairs.js';
import { qualityCalendar } from '../quality/workdays.js';
import { actorOfRequest, audit, type ConsoleContext } from './context.js';
import { viaOf } from './security.js';

/** Objections whose deadline is this many working days away or fewer are shown on 首页. */
export const DEADLINE_NEAR_WORKDAYS = 3;

/** The publication context of the console: the configured day (GUIJI_TODAY), else today in Asia/Shanghai. */
export function consolePublication(ctx: ConsoleContext): PublicationContext {
  return publicationContext(ctx.db, ctx.catalog, ctx.config);
}

export function objectionList(
  ctx: ConsoleContext,
  filter: { open?: boolean | undefined; overdue?: boolean | undefined },
): Promise<Objection[]> {
  const { db, today } = consolePublication(ctx);
  return listObjections(db, { open: filter.open ?? false, overdue: filter.overdue ?? false, today });
}

/** Open objections whose deadline is past or at most three working days away, the nearest first. */
export async function objectionsDue(ctx: ConsoleContext): Promise<Objection[]> {
  const { today } = consolePublication(ctx);
  const near = qualityCalendar(ctx.config.catalogDir).addWorkdays(today, DEADLINE_NEAR_WORKDAYS);
  const open = await objectionList(ctx, { open: true });
  return open.filter((o) => o.deadline <= near).sort((a, b) => a.deadline.localeCompare(b.deadline));
}

export function repairList(ctx: ConsoleContext): Promise<Repair[]> {
  return listRepairs(consolePublication(ctx));
}

/**
 * Runs a publication action as the console's actor: done, its audit row is the publication function's own;
 * refused or failed, the console's audit records the attempt.
 */
async function act<T>(
  ctx: ConsoleContext,
  request: FastifyRequest,
  action: string,
  target: string,
  fn: (pub: PublicationContext, by: string) => Promise<T>,
): Promise<T> {
  const entry = { action, target, ip: request.ip, via: viaOf(request) };
  try {
    const result = await fn(consolePublication(ctx), actorOfRequest(request));
    ctx.logger.info({ audit: true, ...entry, outcome: 'done' }, `console action ${action} done`);
    return result;
  } catch (error) {
    const detail = error instanceof GuijiError ? error.message : 'internal error';
    await audit(ctx, { ...entry, outcome: 'failed', detail });
    throw error;
  }
}

export function consoleOpenObjection(
  ctx: ConsoleContext,
  request: FastifyRequest,
  input: { record: number; received: string; reason: string },
): Promise<Objection> {
  return act(ctx, request, 'objection.open', `record ${input.record}`, (pub, by) =>
    openObjection(pub, { ...input, by }),
  );
}

export function consoleResolveObjection(
  ctx: ConsoleContext,
  request: FastifyRequest,
  input: { id: number; outcome: Outcome; note?: string | undefined },
): Promise<Objection> {
  return act(ctx, request, 'objection.resolve', `objection ${input.id}`, (pub, by) =>
    resolveObjection(pub, {
      id: input.id,
      outcome: input.outcome,
      ...(input.note?.trim() ? { note: input.note.trim() } : {}),
      by,
    }),
  );
}

export function consoleApplyRepair(
  ctx: ConsoleContext,
  request: FastifyRequest,
  input: { record: number; date: string; note?: string | undefined },
): Promise<Repair> {
  return act(ctx, request, 'repair.apply', `record ${input.record}`, (pub, by) =>
    applyRepair(pub, {
      record: input.record,
      date: input.date,
      ...(input.note?.trim() ? { note: input.note.trim() } : {}),
      by,
    }),
  );
}
