/** The console's pages: server-rendered HTML over the same functions as the API, Chinese first. */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { listReviews } from '../match/review.js';
import type { Outcome } from '../publication/objections.js';
import { renderHtml } from '../report/html.js';
import type { Lang } from '../report/labels.js';
import { NotFound, OPEN_OBJECTION_BODY, REPAIR_BODY, RESOLVE_BODY } from './api.js';
import { MONTH, monthReport } from './briefing.js';
import { audit, type ConsoleContext, decideReview } from './context.js';
import { departmentAttention } from './departments.js';
import { enterpriseProfile, publicPreview, searchEnterprises } from './enterprises.js';
import { feedbackWorkbook } from './feedback.js';
import { consoleLabels } from './labels.js';
import {
  homePage,
  loginPage,
  objectionsPage,
  type PageView,
  profilePage,
  qualityPage,
  rejectedPage,
  repairsPage,
  reviewsPage,
  runPage,
  runsPage,
  searchPage,
} from './pages.js';
import {
  consoleApplyRepair,
  consoleOpenObjection,
  consolePublication,
  consoleResolveObjection,
  objectionList,
  objectionsDue,
  repairList,
} from './publication.js';
import { listRuns, rejectedByFile, runDetail } from './runs.js';
import { cookies, csrfOf, REPORT_SECURITY_POLICY, SESSION_COOKIE, sessionOf, signedIn } from './security.js';
import { CONSOLE_CSS } from './style.js';

const LANG_COOKIE = 'guiji_lang';

/** The language asked for (`?lang=`, remembered in a cookie), Chinese by default. */
export function langOf(request: FastifyRequest, reply?: FastifyReply): Lang {
  const asked = (request.query as { lang?: string } | undefined)?.lang;
  if (asked === 'en' || asked === 'zh') {
    reply?.header('set-cookie', `${LANG_COOKIE}=${asked}; Path=/; SameSite=Lax; Max-Age=31536000`);
    return asked;
  }
  return cookies(request).get(LANG_COOKIE) === 'en' ? 'en' : 'zh';
}

export function viewOf(ctx: ConsoleContext, request: FastifyRequest, reply?: FastifyReply): PageView {
  const lang = langOf(request, reply);
  const isIn = signedIn(request, ctx.token);
  return {
    t: consoleLabels(lang),
    lang,
    path: request.url.split('?')[0] ?? '/',
    signedIn: isIn,
    csrf: isIn && ctx.token ? csrfOf(ctx.token) : null,
  };
}

const page = (reply: FastifyReply, body: string) => reply.type('text/html; charset=utf-8').send(body);

const langQuery = { lang: { enum: ['zh', 'en'] } };

export function registerPages(app: FastifyInstance, ctx: ConsoleContext): void {
  const { db, catalog } = ctx;

  app.get('/static/console.css', async (_request, reply) =>
    reply.type('text/css; charset=utf-8').header('cache-control', 'max-age=3600').send(CONSOLE_CSS),
  );

  app.get(
    '/',
    { schema: { querystring: { type: 'object', properties: langQuery } } },
    async (request, reply) => {
      const [last, attention, reviews, departments, objections] = await Promise.all([
        listRuns(db, { limit: 10 }),
        listRuns(db, { limit: 10, status: ['failed', 'partial', 'interrupted'] }),
        listReviews(db, catalog, { limit: 100 }),
        departmentAttention(db, catalog),
        objectionsDue(ctx),
      ]);
      const today = consolePublication(ctx).today;
      const data = { last, attention, reviews, departments, objections, today };
      return page(reply, homePage(viewOf(ctx, request, reply), data));
    },
  );

  app.get<{ Querystring: { q?: string } }>(
    '/enterprises',
    {
      schema: {
        querystring: { type: 'object', properties: { q: { type: 'string', maxLength: 100 }, ...langQuery } },
      },
    },
    async (request, reply) => {
      const q = request.query.q?.trim() ?? '';
      const hits = q ? await searchEnterprises(db, q) : null;
      return page(reply, searchPage(viewOf(ctx, request, reply), q, hits));
    },
  );

  app.get<{ Params: { uscc: string }; Querystring: { view?: string } }>(
    '/enterprises/:uscc',
    {
      schema: {
        params: {
          type: 'object',
          properties: { uscc: { type: 'string', pattern: '^[0-9A-HJ-NPQRTUWXY]{18}$' } },
        },
        querystring: { type: 'object', properties: { view: { enum: ['full', 'public'] }, ...langQuery } },
      },
    },
    async (request, reply) => {
      const profile = await enterpriseProfile(db, catalog, request.params.uscc);
      if (!profile) throw new NotFound(request.params.uscc);
      const preview =
        request.query.view === 'public' ? await publicPreview(db, catalog, profile.records) : null;
      return page(reply, profilePage(viewOf(ctx, request, reply), catalog, profile, preview));
    },
  );

  app.get<{ Querystring: { kind?: string; source?: string } }>(
    '/runs',
    {
      schema: {
        querystring: {
          type: 'object',
          properties: {
            kind: { type: 'string', pattern: '^[a-z-]{0,20}$' },
            source: { type: 'string', pattern: '^[a-z-]{0,40}$' },
            ...langQuery,
          },
        },
      },
    },
    async (request, reply) => {
      const filter = { kind: request.query.kind || undefined, source: request.query.source || undefined };
      const runs = await listRuns(db, { ...filter, limit: 100 });
      return page(reply, runsPage(viewOf(ctx, request, reply), runs, filter));
    },
  );

  app.get<{ Params: { id: number } }>(
    '/runs/:id',
    { schema: { params: { type: 'object', properties: { id: { type: 'integer', minimum: 1 } } } } },
    async (request, reply) => {
      const detail = await runDetail(db, request.params.id);
      if (!detail) throw new NotFound(`#${request.params.id}`);
      return page(reply, runPage(viewOf(ctx, request, reply), detail));
    },
  );

  app.get<{ Params: { id: number; sha256: string } }>(
    '/runs/:id/files/:sha256/feedback.xlsx',
    {
      schema: {
        params: {
          type: 'object',
          properties: {
            id: { type: 'integer', minimum: 1 },
            sha256: { type: 'string', pattern: '^[0-9a-f]{64}$' },
          },
        },
      },
    },
    async (request, reply) => {
      const workbook = await feedbackWorkbook(db, request.params.id, request.params.sha256);
      if (!workbook) throw new NotFound(request.params.sha256);
      return reply
        .type('application/vnd.openxmlformats-officedocument.spreadsheetml.sheet')
        .header(
          'content-disposition',
          `attachment; filename="feedback.xlsx"; filename*=UTF-8''${encodeURIComponent(workbook.name)}`,
        )
        .send(workbook.bytes);
    },
  );

  app.get<{ Querystring: { month?: string } }>(
    '/quality',
    {
      schema: {
        querystring: {
          type: 'object',
          properties: { month: { type: 'string', pattern: MONTH.source }, ...langQuery },
        },
      },
    },
    async (request, reply) => {
      const month = request.query.month ?? (await latestMonth(ctx));
      const report = month ? await monthReport(db, catalog, month, ctx.config.catalogDir) : null;
      return page(reply, qualityPage(viewOf(ctx, request, reply), month ?? '', report));
    },
  );

  app.get<{ Querystring: { month: string } }>(
    '/quality/full',
    {
      schema: {
        querystring: {
          type: 'object',
          required: ['month'],
          properties: { month: { type: 'string', pattern: MONTH.source }, ...langQuery },
        },
      },
    },
    async (request, reply) => {
      const report = await monthReport(db, catalog, request.query.month, ctx.config.catalogDir);
      if (!report) throw new NotFound(request.query.month);
      reply.header('content-security-policy', REPORT_SECURITY_POLICY);
      return page(reply, renderHtml(report, langOf(request, reply)));
    },
  );

  app.get<{ Querystring: { done?: string } }>(
    '/reviews',
    {
      schema: {
        querystring: {
          type: 'object',
          properties: {
            done: { type: 'string', pattern: '^(accepted|rejected)-[0-9]{1,18}$' },
            ...langQuery,
          },
        },
      },
    },
    async (request, reply) => {
      const view = viewOf(ctx, request, reply);
      const reviews = await listReviews(db, catalog, { limit: 200 });
      const done = request.query.done?.split('-');
      const notice = done
        ? `${view.t.decided}: #${done[1]} ${done[0] === 'accepted' ? view.t.accept : view.t.reject}`
        : null;
      return page(reply, reviewsPage(view, reviews, notice));
    },
  );

  for (const kind of ['accept', 'reject'] as const)
    app.post<{ Params: { id: number }; Body: { uscc?: string } }>(
      `/reviews/:id/${kind}`,
      {
        schema: {
          params: { type: 'object', properties: { id: { type: 'integer', minimum: 1 } } },
          body: {
            type: 'object',
            properties: {
              uscc: { type: 'string', pattern: '^[0-9A-HJ-NPQRTUWXY]{18}$' },
              csrf: { type: 'string' },
              token: { type: 'string' },
            },
          },
        },
      },
      async (request, reply) => {
        const id = request.params.id;
        const result = await decideReview(ctx, request, kind, id, request.body.uscc);
        return reply.redirect(`/reviews?done=${result.status}-${id}`, 303);
      },
    );

  app.get<{ Querystring: { run?: number } }>(
    '/rejected',
    {
      schema: {
        querystring: { type: 'object', properties: { run: { type: 'integer', minimum: 1 }, ...langQuery } },
      },
    },
    async (request, reply) => {
      const files = await rejectedByFile(db, { runId: request.query.run, limit: 50, perFile: 100 });
      return page(reply, rejectedPage(viewOf(ctx, request, reply), files));
    },
  );

  registerPublicationPages(app, ctx);

  app.get(
    '/login',
    { schema: { querystring: { type: 'object', properties: langQuery } } },
    async (request, reply) => page(reply, loginPage(viewOf(ctx, request, reply), false)),
  );

  // sign-in checks the token itself (the action guard lets /login through with only the cross-site check)
  app.post<{ Body: { token?: string } }>(
    '/login',
    { schema: { body: { type: 'object', properties: { token: { type: 'string', maxLength: 1000 } } } } },
    async (request, reply) => {
      const given = request.body.token ?? '';
      if (!ctx.token || sessionOf(given) !== sessionOf(ctx.token)) {
        await audit(ctx, {
          action: 'login',
          target: 'console',
          outcome: 'refused',
          ip: request.ip,
          detail: 'bad-token',
        });
        return page(reply.code(403), loginPage(viewOf(ctx, request), true));
      }
      await audit(ctx, { action: 'login', target: 'console', outcome: 'done', ip: request.ip });
      reply.header(
        'set-cookie',
        `${SESSION_COOKIE}=${sessionOf(ctx.token)}; Path=/; HttpOnly; SameSite=Strict`,
      );
      return reply.redirect('/reviews', 303);
    },
  );

  app.post('/logout', async (request, reply) => {
    await audit(ctx, { action: 'logout', target: 'console', outcome: 'done', ip: request.ip });
    reply.header('set-cookie', `${SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0`);
    return reply.redirect('/', 303);
  });
}

/** 异议 and 修复: the lists, and their forms posting to the functions the API and the CLI use. */
function registerPublicationPages(app: FastifyInstance, ctx: ConsoleContext): void {
  const flag = { type: 'boolean' };
  app.get<{ Querystring: { open?: boolean; overdue?: boolean; done?: string } }>(
    '/objections',
    {
      schema: {
        querystring: {
          type: 'object',
          properties: { open: flag, overdue: flag, done: { type: 'string', pattern: DONE }, ...langQuery },
        },
      },
    },
    async (request, reply) => {
      const view = viewOf(ctx, request, reply);
      const { open, overdue } = request.query;
      const list = await objectionList(ctx, { open, overdue });
      const today = consolePublication(ctx).today;
      const notice = doneNotice(view, request.query.done);
      return page(reply, objectionsPage(view, list, today, { open, overdue }, notice));
    },
  );

  app.post<{ Body: { record: number; received: string; reason: string } }>(
    '/objections',
    { schema: { body: OPEN_OBJECTION_BODY } },
    async (request, reply) => {
      const o = await consoleOpenObjection(ctx, request, request.body);
      return reply.redirect(`/objections?done=objection-${o.id}`, 303);
    },
  );

  app.post<{ Params: { id: number }; Body: { outcome: Outcome; note?: string } }>(
    '/objections/:id/resolve',
    {
      schema: {
        params: { type: 'object', properties: { id: { type: 'integer', minimum: 1 } } },
        body: RESOLVE_BODY,
      },
    },
    async (request, reply) => {
      const o = await consoleResolveObjection(ctx, request, { id: request.params.id, ...request.body });
      return reply.redirect(`/objections?done=objection-${o.id}`, 303);
    },
  );

  app.get<{ Querystring: { done?: string } }>(
    '/repairs',
    {
      schema: {
        querystring: {
          type: 'object',
          properties: { done: { type: 'string', pattern: DONE }, ...langQuery },
        },
      },
    },
    async (request, reply) => {
      const view = viewOf(ctx, request, reply);
      const notice = doneNotice(view, request.query.done);
      return page(reply, repairsPage(view, await repairList(ctx), notice));
    },
  );

  app.post<{ Body: { record: number; date: string; note?: string } }>(
    '/repairs',
    { schema: { body: REPAIR_BODY } },
    async (request, reply) => {
      const r = await consoleApplyRepair(ctx, request, request.body);
      return reply.redirect(`/repairs?done=repair-${r.id}`, 303);
    },
  );
}

const DONE = '^(objection|repair)-[0-9]{1,18}$';

function doneNotice(view: PageView, done: string | undefined): string | null {
  if (!done) return null;
  const [kind, id] = done.split('-');
  return `${view.t.decided}: ${kind === 'repair' ? view.t.repairs : view.t.objections} #${id}`;
}

/** The China month of the latest finished run: the 质量 page's default. */
async function latestMonth(ctx: ConsoleContext): Promise<string | null> {
  const [row] = await ctx.db.query<{ month: string }>(
    `SELECT to_char(started_at AT TIME ZONE 'Asia/Shanghai', 'YYYY-MM') AS month FROM runs
     WHERE status <> 'running' ORDER BY id DESC LIMIT 1`,
  );
  return row?.month ?? null;
}
