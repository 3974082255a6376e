// The HTML pages of the status page: the overview, job listings (/jobs, /dlq) and one job. They read
// through the core (inspect, queues, schedules) and render views/*.ejs; actions post to /api/* (api.ts).

import { type Request, type Response, Router } from 'express';
import { InputError } from '../errors.js';
import { countDead, displayState, getJob, listJobsPage, type LogTail, readLogTail, readStatus, redactEnv } from '../inspect.js';
import { ID_PATTERN, type Job, QUEUE_PATTERN } from '../job.js';
import { parseListQuery, recentActivity, statusPayload, type WebContext } from './api.js';
import { stateBars, throughputColumns } from './charts.js';

/** Bytes of each attempt's log shown on the job page (the end of it). */
const LOG_TAIL_BYTES = 64 * 1024;

/** GET /, /jobs, /dlq, /jobs/:id. */
export function pagesRouter(ctx: WebContext): Router {
  const router = Router();

  router.get('/', async (req, res) => {
    const [status, recent] = await Promise.all([statusPayload(ctx), recentActivity(ctx, 10)]);
    res.render('overview', {
      title: 'Overview',
      nav: 'overview',
      queues: status.queues,
      schedules: status.schedules,
      back: req.originalUrl,
      counts: status.counts,
      status,
      recent,
      stateChart: stateBars(status.counts),
      throughput: throughputColumns(status.throughput.minutes),
      notice: notice(req),
    });
  });

  router.get('/jobs', async (req, res) => {
    await listPage(req, res, 'all');
  });

  router.get('/dlq', async (req, res) => {
    await listPage(req, res, 'dead');
  });

  /** /jobs and /dlq: one page of a listing, with the counts for the tabs. */
  async function listPage(req: Request, res: Response, defaultState: 'all' | 'dead'): Promise<void> {
    const dlq = defaultState === 'dead';
    const t = ctx.now();
    try {
      const query = parseListQuery(req.query, defaultState);
      if (dlq) query.state = 'dead';
      const [page, status] = await Promise.all([
        listJobsPage(ctx.store, { ...query, now: t, maxRetries: ctx.config.maxRetries }),
        readStatus(ctx.store, t, ctx.config.staleAfterMs),
      ]);
      // An exact id typed in the filter: offer the job itself even when the page does not hold it.
      const exact = query.q && ID_PATTERN.test(query.q) && !page.jobs.some((j) => j.id === query.q) ? await getJob(ctx.store, query.q) : null;
      res.render(dlq ? 'dlq' : 'jobs', {
        title: dlq ? 'Dead letter queue' : 'Jobs',
        nav: dlq ? 'dlq' : 'jobs',
        counts: status.counts,
        query,
        page: { ...page, jobs: page.jobs.map(redactEnv) },
        exact: exact && redactEnv(exact),
        now: t,
        stateOf: (j: Job) => displayState(j, t),
        pageUrl: (params: Record<string, string | number | undefined>) => listUrl(dlq ? '/dlq' : '/jobs', { state: dlq ? undefined : query.state, q: query.q, limit: query.limit === 50 ? undefined : query.limit, ...params }),
        back: req.originalUrl,
        notice: notice(req),
      });
    } catch (err) {
      if (err instanceof InputError) return ctx.sendError(req, res, 400, err.message);
      throw err;
    }
  }

  router.get('/jobs/:id', async (req, res) => {
    const id = req.params.id;
    const t = ctx.now();
    const [job, dead] = await Promise.all([ID_PATTERN.test(id) ? getJob(ctx.store, id) : null, countDead(ctx.store)]);
    if (!job) return ctx.sendError(req, res, 404, `No job with id "${id.slice(0, 140)}" in any state`);
    const runs = (job.history?.length ?? 0) + (job.state === 'processing' ? 1 : 0);
    const logs: { run: number; log: LogTail | null }[] = [];
    for (let run = runs; run >= 1; run--) logs.push({ run, log: await readLogTail(ctx.store, job.id, run, LOG_TAIL_BYTES) });
    res.render('job', {
      title: `Job ${job.id}`,
      nav: 'jobs',
      counts: { dead }, // the nav's dead-letter badge
      job: redactEnv(job),
      state: displayState(job, t),
      logs,
      now: t,
      back: req.originalUrl,
      notice: notice(req),
    });
  });

  return router;
}

/** A listing URL with its query string, leaving out empty parameters. */
function listUrl(path: string, params: Record<string, string | number | undefined>): string {
  const search = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== '' && v !== 'all') search.set(k, String(v));
  const s = search.toString();
  return s ? `${path}?${s}` : path;
}

/** The outcome of the last action, from the query string the action redirected to (fixed wording). */
function notice(req: Request): { kind: 'ok' | 'warn'; text: string } | null {
  const q = req.query;
  const n = Number(q.n ?? 0);
  const failed = Number(q.failed ?? 0);
  const id = typeof q.id === 'string' && ID_PATTERN.test(q.id) ? q.id : null;
  if (q.done === 'retried') {
    const what = n === 1 && id ? `job ${id}` : `${n} job${n === 1 ? '' : 's'}`;
    const text = `Moved ${what} back to pending.${failed > 0 ? ` ${failed} could not be retried (moved meanwhile).` : ''}`;
    return { kind: failed > 0 ? 'warn' : 'ok', text };
  }
  if (q.done === 'cancelled' && id) return { kind: 'ok', text: `Cancelled job ${id}: it is in the dead letter queue.` };
  const queue = typeof q.queue === 'string' && QUEUE_PATTERN.test(q.queue) ? q.queue : null;
  if ((q.done === 'paused' || q.done === 'resumed') && queue) {
    return { kind: 'ok', text: q.done === 'paused' ? `Paused queue ${queue}: what runs finishes, nothing new starts.` : `Resumed queue ${queue}.` };
  }
  return null;
}
