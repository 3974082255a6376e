// The JSON API under /api, and the actions the page's forms post to (the same endpoints: a form post
// is answered with a redirect back to the page, a JSON or fetch request with JSON).
//
//   GET  /api/status           status --json (root, counts, workers, queues, schedules) + throughput of the last hour
//   GET  /api/jobs             ?state=&q=&cursor=&limit=  one page of jobs (env values redacted)
//   GET  /api/jobs/:id         one job (env values redacted)
//   GET  /api/csrf             {token}: the CSRF token for API clients (same-origin readable only)
//   POST /api/jobs/:id/retry   dead -> pending
//   POST /api/jobs/:id/cancel  pending (or running) -> dead, as cancelled
//   POST /api/dlq/retry        ids=... (form checkboxes) or {"ids": [...]}
//   POST /api/dlq/retry-all    every dead job
//   GET  /api/queues           every queue: counts, limit, paused      GET /api/schedules  with next runs
//   POST /api/queues/:name/pause, /api/queues/:name/resume

import express, { type Request, type Response, type Router } from 'express';
import { cancelJob, deadIds, orderForRetry, retryDead } from '../admin.js';
import type { Config } from '../config.js';
import { InputError, JobNotFoundError, QueuectlError } from '../errors.js';
import { getJob, LIST_STATES, type ListState, listJobsPage, type Overview, readOverview, redactEnv } from '../inspect.js';
import { ID_PATTERN, type Job, QUEUE_PATTERN } from '../job.js';
import { listQueues, setPaused } from '../queues.js';
import { listSchedules, viewSchedule } from '../schedules.js';
import { readStats } from '../stats.js';
import type { Store } from '../store.js';
import { type MinuteCount, throughputSeries } from './charts.js';
import type { Csrf, SendError } from './security.js';

/** What the routes share. */
export interface WebContext {
  store: Store;
  config: Config;
  now: () => number;
  csrf: Csrf;
  sendError: SendError;
}

/** GET /api/status: the shape of `queuectl status --json`, plus throughput and the server's clock. */
export interface StatusPayload extends Overview {
  /** Server time of this answer (epoch ms): heartbeat ages are measured against it. */
  now: number;
  throughput: {
    /** The last 60 minutes, oldest first. */
    minutes: MinuteCount[];
    completed: number;
    failed: number;
  };
}

export async function statusPayload(ctx: WebContext): Promise<StatusPayload> {
  const now = ctx.now();
  const [report, stats] = await Promise.all([readOverview(ctx.store, now, ctx.config.staleAfterMs), readStats(ctx.store)]);
  const minutes = throughputSeries(stats, now);
  return {
    ...report,
    now,
    throughput: {
      minutes,
      completed: minutes.reduce((a, m) => a + m.completed, 0),
      failed: minutes.reduce((a, m) => a + m.failed, 0),
    },
  };
}

/** The most recently finished jobs: newest completed and dead, by finish time. */
export async function recentActivity(ctx: WebContext, limit = 10): Promise<Job[]> {
  const now = ctx.now();
  const [completed, dead] = await Promise.all([
    listJobsPage(ctx.store, { state: 'completed', limit, now }),
    listJobsPage(ctx.store, { state: 'dead', limit, now }),
  ]);
  const at = (j: Job) => j.finished_at ?? j.updated_at;
  return [...completed.jobs, ...dead.jobs].sort((a, b) => at(b).localeCompare(at(a))).slice(0, limit);
}

export const LIMIT_DEFAULT = 50;
export const LIMIT_MAX = 500;

export interface ListQuery {
  state: ListState | 'all';
  q: string;
  cursor: string | undefined;
  limit: number;
}

/** Validates ?state=&q=&cursor=&limit= (throws InputError naming the parameter). */
export function parseListQuery(query: Request['query'], defaultState: ListState | 'all' = 'all'): ListQuery {
  const one = (name: string): string | undefined => {
    const v = query[name];
    if (v === undefined || v === '') return undefined;
    if (typeof v !== 'string') throw new InputError(`Expected one value for "${name}"`);
    return v;
  };
  const state = one('state') ?? defaultState;
  if (state !== 'all' && !(LIST_STATES as readonly string[]).includes(state)) {
    throw new InputError(`Expected state to be one of ${LIST_STATES.join(', ')}, all; got ${JSON.stringify(state.slice(0, 40))}`);
  }
  const q = one('q') ?? '';
  if (q.length > 200) throw new InputError('Expected q to be at most 200 characters');
  const cursor = one('cursor');
  if (cursor !== undefined && cursor.length > 400) throw new InputError('Expected cursor to be at most 400 characters');
  const rawLimit = one('limit');
  const limit = rawLimit === undefined ? LIMIT_DEFAULT : Number(rawLimit);
  if (!Number.isInteger(limit) || limit < 1 || limit > LIMIT_MAX) throw new InputError(`Expected limit to be an integer from 1 to ${LIMIT_MAX}, got ${JSON.stringify(rawLimit)}`);
  return { state: state as ListState | 'all', q, cursor, limit };
}

/** HTTP status for an error from the core. */
export function statusFor(err: unknown): number {
  if (err instanceof JobNotFoundError) return 404;
  if (err instanceof InputError) return 409;
  if (err instanceof QueuectlError) return 409;
  return 500;
}

/** A posted form (a browser without our script): answer with a redirect, not JSON. */
function isFormPost(req: Request): boolean {
  return !!req.is('application/x-www-form-urlencoded') && req.accepts(['json', 'html']) === 'html';
}

const SELF = 'http://queuectl.invalid';

/**
 * Where a form wants to go back to: a path on this server only. The check is made on the URL as it will
 * be sent (normalised: "/.//evil.com" becomes "//evil.com", a link to another host), not on the input.
 */
export function safeBack(value: unknown, fallback: string): string {
  if (typeof value !== 'string' || !value.startsWith('/') || value.length > 2000) return fallback;
  let url: URL;
  try {
    url = new URL(value, SELF);
  } catch {
    return fallback;
  }
  const path = url.pathname + url.search;
  if (url.origin !== SELF || !path.startsWith('/') || path.startsWith('//') || path.includes('\\')) return fallback;
  return path;
}

/** `back` (a path that safeBack returned) with the outcome added to its query string, for the page to show. */
function withNotice(back: string, notice: Record<string, string | number>): string {
  const url = new URL(back, SELF);
  for (const k of ['done', 'n', 'id', 'failed']) url.searchParams.delete(k);
  for (const [k, v] of Object.entries(notice)) url.searchParams.set(k, String(v));
  return url.pathname + url.search;
}

function checkId(id: string): string {
  if (!ID_PATTERN.test(id)) throw new InputError(`Invalid job id ${JSON.stringify(id.slice(0, 140))}`);
  return id;
}

/** Retries each id; returns the ones retried and the errors of the rest. */
async function retryMany(ctx: WebContext, ids: string[]): Promise<{ retried: string[]; errors: { id: string; error: string }[] }> {
  const retried: string[] = [];
  const errors: { id: string; error: string }[] = [];
  for (const id of orderForRetry(ctx.store, ids)) {
    try {
      await retryDead(ctx.store, id, ctx.now());
      retried.push(id);
    } catch (err) {
      errors.push({ id, error: (err as Error).message });
    }
  }
  return { retried, errors };
}

export function apiRouter(ctx: WebContext): Router {
  const r = express.Router();
  const fail = (req: Request, res: Response, err: unknown) => {
    const status = statusFor(err);
    ctx.sendError(req, res, status, status === 500 ? `Internal error: ${(err as Error).message}` : (err as Error).message);
  };

  r.get('/status', async (_req, res) => {
    res.json(await statusPayload(ctx));
  });

  r.get('/csrf', (_req, res) => {
    res.json({ token: ctx.csrf.token });
  });

  r.get('/jobs', async (req, res) => {
    let query: ListQuery;
    try {
      query = parseListQuery(req.query);
    } catch (err) {
      return ctx.sendError(req, res, 400, (err as Error).message);
    }
    try {
      const page = await listJobsPage(ctx.store, { ...query, now: ctx.now(), maxRetries: ctx.config.maxRetries });
      res.json({ ...page, jobs: page.jobs.map(redactEnv) });
    } catch (err) {
      if (err instanceof InputError) return ctx.sendError(req, res, 400, err.message);
      throw err;
    }
  });

  r.get('/jobs/:id', async (req, res) => {
    const job = ID_PATTERN.test(req.params.id) ? await getJob(ctx.store, req.params.id) : null;
    if (!job) return ctx.sendError(req, res, 404, new JobNotFoundError(req.params.id.slice(0, 140)).message);
    res.json(redactEnv(job));
  });

  // ---- actions: CSRF-checked; a form gets a redirect back, a script gets JSON ----
  const post = (path: string, action: (req: Request) => Promise<{ json: unknown; notice: Record<string, string | number> }>) => {
    r.post(path, ctx.csrf.check, async (req, res) => {
      try {
        const { json, notice } = await action(req);
        if (isFormPost(req)) return res.redirect(303, withNotice(safeBack(req.body?.back, '/'), notice));
        res.json(json);
      } catch (err) {
        fail(req, res, err);
      }
    });
  };

  post('/jobs/:id/retry', async (req) => {
    const job = await retryDead(ctx.store, checkId(String(req.params.id)), ctx.now());
    return { json: { retried: [job.id] }, notice: { done: 'retried', n: 1, id: job.id } };
  });

  post('/jobs/:id/cancel', async (req) => {
    const { config } = ctx;
    // A running job is killed by its worker; wait about as long as that takes, then report.
    const result = await cancelJob(ctx.store, checkId(String(req.params.id)), {
      now: ctx.now(),
      staleAfterMs: config.staleAfterMs,
      timeoutMs: config.killGraceMs + config.heartbeatIntervalMs * 3 + 2_000,
    });
    return { json: { cancelled: result.id, was: result.was, dependents: result.dependents }, notice: { done: 'cancelled', id: result.id } };
  });

  post('/dlq/retry', async (req) => {
    const raw: unknown = req.body?.ids;
    const ids = (Array.isArray(raw) ? raw : raw === undefined ? [] : [raw]).map(String);
    if (ids.length === 0) throw new InputError('Select at least one job to retry');
    if (ids.length > 1000) throw new InputError('Retry at most 1000 selected jobs at once, or use "Retry all"');
    const { retried, errors } = await retryMany(ctx, ids.map(checkId));
    return { json: { retried, errors }, notice: { done: 'retried', n: retried.length, failed: errors.length } };
  });

  r.get('/queues', async (_req, res) => {
    res.json(await listQueues(ctx.store, ctx.now()));
  });

  r.get('/schedules', async (_req, res) => {
    const t = ctx.now();
    res.json(listSchedules(ctx.store).map((s) => viewSchedule(ctx.store, s, t)));
  });

  for (const [action, paused] of [['pause', true], ['resume', false]] as const) {
    post(`/queues/:name/${action}`, async (req) => {
      const name = String(req.params.name);
      if (!QUEUE_PATTERN.test(name)) throw new InputError(`Invalid queue name ${JSON.stringify(name.slice(0, 80))}`);
      await setPaused(ctx.store, name, paused);
      return { json: { queue: name, paused }, notice: { done: paused ? 'paused' : 'resumed', queue: name } };
    });
  }

  post('/dlq/retry-all', async () => {
    const { retried, errors } = await retryMany(ctx, await deadIds(ctx.store));
    return { json: { retried, errors }, notice: { done: 'retried', n: retried.length, failed: errors.length } };
  });

  return r;
}
