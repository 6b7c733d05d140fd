/**
 * The JSON API behind every page, under /api. Fastify validates each request (querystring, params, body) and
 * serialises each answer with its schema (ajv and fast-json-stringify): a field left out of a schema is not sent.
 */
import type { FastifyInstance } from 'fastify';
import { listReviews } from '../match/review.js';
import type { Outcome } from '../publication/objections.js';
import { MONTH, monthReport } from './briefing.js';
import { type ConsoleContext, decideReview } from './context.js';
import { enterpriseProfile, publicPreview, searchEnterprises } from './enterprises.js';
import {
  consoleApplyRepair,
  consoleOpenObjection,
  consoleResolveObjection,
  objectionList,
  repairList,
} from './publication.js';
import { listRuns, rejectedByFile, runDetail } from './runs.js';

const nullable = (type: string) => ({ type: [type, 'null'] });
const USCC_PATTERN = '^[0-9A-HJ-NPQRTUWXY]{18}$';

const hit = {
  type: 'object',
  required: ['uscc', 'name'],
  properties: {
    uscc: { type: 'string' },
    name: { type: 'string' },
    status: nullable('string'),
    formerName: nullable('string'),
  },
};

const version = {
  type: 'object',
  properties: {
    version: { type: 'integer' },
    runId: { type: 'integer' },
    changedAt: { type: 'string' },
    supersededAt: { type: 'string' },
    fields: { type: 'object', additionalProperties: true },
  },
};

const record = {
  type: 'object',
  required: ['resource', 'recordId', 'version', 'fields'],
  properties: {
    resource: { type: 'string' },
    resourceName: { type: 'string' },
    recordId: { type: 'integer' },
    version: { type: 'integer' },
    ownUscc: { type: 'string' },
    matchMethod: nullable('string'),
    matchScore: nullable('number'),
    matchFlags: { type: 'array', items: { type: 'string' } },
    disclosure: { type: 'string' },
    department: nullable('string'),
    producedDate: nullable('string'),
    receivedAt: { type: 'string' },
    changedAt: { type: 'string' },
    runId: { type: 'integer' },
    fields: { type: 'object', additionalProperties: true },
    history: { type: 'array', items: version },
    publication: {
      type: ['object', 'null'],
      properties: {
        state: { enum: ['pending', 'public', 'suspended', 'withdrawn'] },
        reason: nullable('string'),
        publicFrom: nullable('string'),
        publicUntil: nullable('string'),
      },
    },
  },
};

const enterprise = {
  type: 'object',
  properties: {
    uscc: { type: 'string' },
    name: { type: 'string' },
    regNo: nullable('string'),
    orgCode: nullable('string'),
    legalRep: nullable('string'),
    regDate: nullable('string'),
    status: nullable('string'),
    address: nullable('string'),
    names: { type: 'array', items: { type: 'string' } },
  },
};

const sourceLine = {
  type: 'object',
  properties: Object.fromEntries([
    ...['source', 'status'].map((k) => [k, { type: 'string' }]),
    ['error', nullable('string')],
    ...['read', 'inserted', 'updated', 'unchanged', 'quarantined', 'duplicates', 'unmatched'].map((k) => [
      k,
      { type: 'integer' },
    ]),
  ]),
};

const runLine = {
  type: 'object',
  properties: {
    runId: { type: 'integer' },
    kind: { type: 'string' },
    status: { type: 'string' },
    startedAt: { type: 'string' },
    finishedAt: nullable('string'),
    sources: { type: 'array', items: sourceLine },
  },
};

const fileLine = {
  type: 'object',
  properties: {
    sha256: { type: 'string' },
    name: { type: 'string' },
    status: { type: 'string' },
    resources: { type: 'array', items: { type: 'string' } },
    rowsRead: { type: 'integer' },
    rowsQuarantined: { type: 'integer' },
    error: nullable('string'),
    reason: nullable('string'),
    finishedAt: { type: 'string' },
  },
};

const issue = {
  type: 'object',
  properties: {
    type: { type: 'string' },
    field: nullable('string'),
    value: nullable('string'),
    message: { type: 'string' },
    messageZh: { type: 'string' },
  },
};

const review = {
  type: 'object',
  properties: {
    id: { type: 'integer' },
    resource: { type: 'string' },
    naturalKey: { type: 'string' },
    name: nullable('string'),
    regNo: nullable('string'),
    orgCode: nullable('string'),
    candidates: { type: 'array', items: { type: 'object', additionalProperties: true } },
    runId: { type: 'integer' },
    queuedAt: { type: 'string' },
  },
};

const decision = {
  type: 'object',
  properties: {
    id: { type: 'integer' },
    resource: { type: 'string' },
    naturalKey: { type: 'string' },
    status: { type: 'string' },
    uscc: nullable('string'),
    enterprise: nullable('string'),
    score: nullable('number'),
  },
};

const errorBody = {
  type: 'object',
  properties: {
    error: { type: 'object', properties: { code: { type: 'string' }, message: { type: 'string' } } },
  },
};

const idParams = {
  type: 'object',
  required: ['id'],
  properties: { id: { type: 'integer', minimum: 1, maximum: Number.MAX_SAFE_INTEGER } },
};

const objection = {
  type: 'object',
  properties: {
    id: { type: 'integer' },
    record: { type: 'integer' },
    resource: { type: 'string' },
    received: { type: 'string' },
    deadline: { type: 'string' },
    status: { type: 'string' },
    reason: { type: 'string' },
    outcome: nullable('string'),
  },
};

const repair = {
  type: 'object',
  properties: {
    id: { type: 'integer' },
    record: { type: 'integer' },
    resource: { type: 'string' },
    date: { type: 'string' },
    status: { type: 'string' },
    source: { type: 'string' },
    by: { type: 'string' },
    at: { type: 'string' },
  },
};

/** The fields an action's body may carry besides its own: the token (scripts, forms) and the CSRF field. */
const credentials = { token: { type: 'string' }, csrf: { type: 'string' } };
export const DAY = { type: 'string', format: 'date', pattern: '^[0-9]{4}-[0-9]{2}-[0-9]{2}$' };
export const RECORD_ID = { type: 'integer', minimum: 1, maximum: Number.MAX_SAFE_INTEGER };
export const NOTE = { type: 'string', maxLength: 2000 };

/** The bodies of the 异议 and 修复 actions, shared by the API and the pages' forms. */
export const OPEN_OBJECTION_BODY = {
  type: 'object',
  required: ['record', 'received', 'reason'],
  properties: { record: RECORD_ID, received: DAY, reason: { ...NOTE, minLength: 1 }, ...credentials },
};
export const RESOLVE_BODY = {
  type: 'object',
  required: ['outcome'],
  properties: { outcome: { enum: ['upheld', 'corrected', 'rejected'] }, note: NOTE, ...credentials },
};
export const REPAIR_BODY = {
  type: 'object',
  required: ['record', 'date'],
  properties: { record: RECORD_ID, date: DAY, note: NOTE, ...credentials },
};

export class NotFound extends Error {}

export function registerApi(app: FastifyInstance, ctx: ConsoleContext): void {
  const { db, catalog } = ctx;

  app.get<{ Querystring: { q: string } }>(
    '/api/enterprises',
    {
      schema: {
        querystring: {
          type: 'object',
          required: ['q'],
          properties: { q: { type: 'string', minLength: 1, maxLength: 100 } },
        },
        response: { 200: { type: 'object', properties: { enterprises: { type: 'array', items: hit } } } },
      },
    },
    async (request) => ({ enterprises: await searchEnterprises(db, request.query.q) }),
  );

  app.get<{ Params: { uscc: string }; Querystring: { view?: 'full' | 'public' } }>(
    '/api/enterprises/:uscc',
    {
      schema: {
        params: {
          type: 'object',
          required: ['uscc'],
          properties: { uscc: { type: 'string', pattern: USCC_PATTERN } },
        },
        querystring: { type: 'object', properties: { view: { enum: ['full', 'public'] } } },
        response: {
          200: { type: 'object', properties: { enterprise, records: { type: 'array', items: record } } },
          404: errorBody,
        },
      },
    },
    async (request) => {
      const profile = await enterpriseProfile(db, catalog, request.params.uscc);
      if (!profile) throw new NotFound(`no enterprise ${request.params.uscc} in the register`);
      if (request.query.view !== 'public') return profile;
      const { legalRep: _l, address: _a, ...shown } = profile.enterprise;
      return {
        enterprise: { ...shown, legalRep: null, address: null },
        records: await publicPreview(db, catalog, profile.records),
      };
    },
  );

  app.get<{ Querystring: { kind?: string; source?: string; status?: string; limit: number } }>(
    '/api/runs',
    {
      schema: {
        querystring: {
          type: 'object',
          properties: {
            kind: { type: 'string', pattern: '^[a-z-]{1,20}$' },
            source: { type: 'string', pattern: '^[a-z-]{1,40}$' },
            status: { enum: ['running', 'succeeded', 'partial', 'failed', 'interrupted'] },
            limit: { type: 'integer', minimum: 1, maximum: 500, default: 50 },
          },
        },
        response: { 200: { type: 'object', properties: { runs: { type: 'array', items: runLine } } } },
      },
    },
    async (request) => {
      const { kind, source, status, limit } = request.query;
      return { runs: await listRuns(db, { kind, source, status: status ? [status] : undefined, limit }) };
    },
  );

  app.get<{ Params: { id: number } }>(
    '/api/runs/:id',
    {
      schema: {
        params: idParams,
        response: {
          200: { type: 'object', properties: { run: runLine, files: { type: 'array', items: fileLine } } },
          404: errorBody,
        },
      },
    },
    async (request) => {
      const detail = await runDetail(db, request.params.id);
      if (!detail) throw new NotFound(`no run ${request.params.id}`);
      return detail;
    },
  );

  app.get<{ Querystring: { month: string } }>(
    '/api/report',
    {
      schema: {
        querystring: {
          type: 'object',
          required: ['month'],
          properties: { month: { type: 'string', pattern: MONTH.source } },
        },
        response: {
          200: { type: 'object', required: ['reportVersion', 'scope'], additionalProperties: true },
          404: errorBody,
        },
      },
    },
    async (request) => {
      const report = await monthReport(db, catalog, request.query.month, ctx.config.catalogDir);
      if (!report) throw new NotFound(`no finished run in ${request.query.month}`);
      return report;
    },
  );

  app.get<{ Querystring: { run?: number; limit: number } }>(
    '/api/rejected',
    {
      schema: {
        querystring: {
          type: 'object',
          properties: {
            run: { type: 'integer', minimum: 1 },
            limit: { type: 'integer', minimum: 1, maximum: 200, default: 50 },
          },
        },
        response: {
          200: {
            type: 'object',
            properties: {
              files: {
                type: 'array',
                items: {
                  type: 'object',
                  properties: {
                    file: { type: 'string' },
                    sha256: nullable('string'),
                    runId: { type: 'integer' },
                    rows: { type: 'integer' },
                    sample: {
                      type: 'array',
                      items: {
                        type: 'object',
                        properties: {
                          sheet: nullable('string'),
                          row: nullable('integer'),
                          resource: nullable('string'),
                          issues: { type: 'array', items: issue },
                        },
                      },
                    },
                  },
                },
              },
            },
          },
        },
      },
    },
    async (request) => ({
      files: await rejectedByFile(db, { runId: request.query.run, limit: request.query.limit, perFile: 100 }),
    }),
  );

  app.get<{ Querystring: { limit: number } }>(
    '/api/reviews',
    {
      schema: {
        querystring: {
          type: 'object',
          properties: { limit: { type: 'integer', minimum: 1, maximum: 1000, default: 100 } },
        },
        response: { 200: { type: 'object', properties: { reviews: { type: 'array', items: review } } } },
      },
    },
    async (request) => ({ reviews: await listReviews(db, catalog, { limit: request.query.limit }) }),
  );

  const decide = (kind: 'accept' | 'reject') =>
    app.post<{ Params: { id: number }; Body: { uscc?: string } | undefined }>(
      `/api/reviews/:id/${kind}`,
      {
        schema: {
          params: idParams,
          body: {
            type: ['object', 'null'],
            properties: {
              uscc: { type: 'string', pattern: USCC_PATTERN },
              token: { type: 'string' },
              csrf: { type: 'string' },
            },
          },
          response: { 200: decision, 400: errorBody, 403: errorBody },
        },
      },
      async (request) => decideReview(ctx, request, kind, request.params.id, request.body?.uscc),
    );
  decide('accept');
  decide('reject');
  registerPublicationApi(app, ctx);
}

function registerPublicationApi(app: FastifyInstance, ctx: ConsoleContext): void {
  app.get<{ Querystring: { open?: boolean; overdue?: boolean } }>(
    '/api/objections',
    {
      schema: {
        querystring: {
          type: 'object',
          properties: { open: { type: 'boolean' }, overdue: { type: 'boolean' } },
        },
        response: {
          200: { type: 'object', properties: { objections: { type: 'array', items: objection } } },
        },
      },
    },
    async (request) => ({ objections: await objectionList(ctx, request.query) }),
  );

  app.post<{ Body: { record: number; received: string; reason: string } }>(
    '/api/objections',
    { schema: { body: OPEN_OBJECTION_BODY, response: { 200: objection, 400: errorBody, 403: errorBody } } },
    async (request) => consoleOpenObjection(ctx, request, request.body),
  );

  app.post<{ Params: { id: number }; Body: { outcome: Outcome; note?: string } }>(
    '/api/objections/:id/resolve',
    {
      schema: {
        params: idParams,
        body: RESOLVE_BODY,
        response: { 200: objection, 400: errorBody, 403: errorBody },
      },
    },
    async (request) => consoleResolveObjection(ctx, request, { id: request.params.id, ...request.body }),
  );

  app.get(
    '/api/repairs',
    {
      schema: {
        response: { 200: { type: 'object', properties: { repairs: { type: 'array', items: repair } } } },
      },
    },
    async () => ({ repairs: await repairList(ctx) }),
  );

  app.post<{ Body: { record: number; date: string; note?: string } }>(
    '/api/repairs',
    { schema: { body: REPAIR_BODY, response: { 200: repair, 400: errorBody, 403: errorBody } } },
    async (request) => consoleApplyRepair(ctx, request, request.body),
  );
}
