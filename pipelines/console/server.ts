/**
 * `guiji serve`'s web application: the pages and the JSON API over one warehouse, behind the guards of
 * security.ts. Built without listening, so that tests drive it with `inject`.
 */
import formbody from '@fastify/formbody';
import Fastify, {
  type FastifyError,
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
} from 'fastify';
import { GuijiError, messageOf } from '../../lib/errors.js';
import { NotFound, registerApi } from './api.js';
import { audit, type ConsoleContext } from './context.js';
import { messagePage } from './pages.js';
import { refusal, secure, viaOf } from './security.js';
import { registerPages, viewOf } from './site.js';

/** Requests larger than this are refused: forms and API bodies are a few fields. */
const BODY_LIMIT = 16 * 1024;

const isApi = (request: FastifyRequest) => request.url.startsWith('/api/');

export async function buildConsole(ctx: ConsoleContext): Promise<FastifyInstance> {
  const app = Fastify({ logger: false, bodyLimit: BODY_LIMIT, trustProxy: false });
  await app.register(formbody);
  app.addHook('onRequest', async (_request, reply) => secure(reply));
  app.addHook('preHandler', async (request, reply) => guardAction(ctx, request, reply));
  app.setErrorHandler((error: FastifyError, request, reply) => answerError(ctx, error, request, reply));
  app.setNotFoundHandler((request, reply) =>
    answer(ctx, request, reply, 404, 'GUIJI_ERR_NOT_FOUND', request.url.split('?')[0] ?? ''),
  );
  registerApi(app, ctx);
  registerPages(app, ctx);
  return app;
}

/** Every POST: refused when cross-site, and (but sign-in, which checks the token itself) without the token. */
async function guardAction(ctx: ConsoleContext, request: FastifyRequest, reply: FastifyReply): Promise<void> {
  if (request.method !== 'POST') return;
  const path = request.url.split('?')[0] ?? '';
  const why = refusal(request, ctx.token);
  if (why === null || (path === '/login' && why !== 'cross-site')) return;
  await audit(ctx, {
    action: `POST ${path}`,
    target: path,
    outcome: 'refused',
    detail: why,
    ip: request.ip,
    via: viaOf(request),
  });
  const t = viewOf(ctx, request).t;
  const message =
    why === 'cross-site'
      ? 'a request from another site is refused'
      : why === 'no-token-configured'
        ? 'actions are disabled: the console was started without GUIJI_SERVE_TOKEN'
        : 'this action needs the token (header x-guiji-token, or sign in)';
  await answer(
    ctx,
    request,
    reply,
    403,
    'GUIJI_ERR_FORBIDDEN',
    isApi(request) ? message : `${t.refusedAction}: ${message}`,
  );
}

function answerError(ctx: ConsoleContext, error: FastifyError, request: FastifyRequest, reply: FastifyReply) {
  if (error.validation) return answer(ctx, request, reply, 400, 'GUIJI_ERR_USAGE', error.message);
  if (error instanceof NotFound)
    return answer(ctx, request, reply, 404, 'GUIJI_ERR_NOT_FOUND', error.message);
  if (error instanceof GuijiError && error.code === 'GUIJI_ERR_USAGE')
    return answer(ctx, request, reply, 400, error.code, error.message);
  if (error.statusCode && error.statusCode >= 400 && error.statusCode < 500)
    return answer(ctx, request, reply, error.statusCode, 'GUIJI_ERR_USAGE', error.message);
  // the engineer's log has the detail; the page and the API say only that it failed
  ctx.logger.error({ err: messageOf(error), url: request.url.split('?')[0] }, 'console request failed');
  return answer(
    ctx,
    request,
    reply,
    500,
    'GUIJI_ERR_INTERNAL',
    'the console failed to answer; see the service log',
  );
}

function answer(
  ctx: ConsoleContext,
  request: FastifyRequest,
  reply: FastifyReply,
  status: number,
  code: string,
  message: string,
) {
  reply.code(status);
  if (isApi(request)) return reply.type('application/json; charset=utf-8').send({ error: { code, message } });
  const view = viewOf(ctx, request);
  const title =
    status === 404
      ? view.t.notFound
      : status === 403
        ? view.t.refusedAction
        : status === 400
          ? view.t.badRequest
          : view.t.failed;
  return reply
    .type('text/html; charset=utf-8')
    .send(messagePage(view, title, status === 500 ? view.t.failed : message));
}
