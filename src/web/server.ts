// The status page: an express app (it does not listen; `queuectl dashboard` does) rendering views/*.ejs.
// Every route reads and acts through the core (inspect, admin, stats); nothing here knows a path.
//
//   GET /            (pages.ts) overview: counts, charts, workers, recent activity (live with /static/app.js)
//   GET /jobs        jobs by state, text filter, cursor pages       GET /jobs/:id  one job, attempts, logs
//   GET /dlq         dead letter queue: retry one, selected or all  GET /metrics   Prometheus text
//   GET /healthz     "ok"                                           /api/*         see api.ts
//
// Pages work without JavaScript: actions are plain forms posting to /api/* with the CSRF token, answered
// by a redirect back. Job-derived text goes through EJS's escaping <%= %> only.

import { join } from 'node:path';
import express, { type NextFunction, type Request, type Response } from 'express';
import type { Config } from '../config.js';
import { LISTING_ORDER } from '../inspect.js';
import { collectMetrics, METRICS_CONTENT_TYPE } from '../metrics.js';
import { exists, type Store } from '../store.js';
import { formatDuration } from '../units.js';
import { apiRouter, type WebContext } from './api.js';
import { pagesRouter } from './pages.js';
import { niceMax, PAGE_STATES, STATE_CHART, THROUGHPUT_CHART } from './charts.js';
import { createCsrf, CSRF_FIELD, isLoopbackHost, loopbackHostOnly, requireToken, securityHeaders, type SendError } from './security.js';

export interface AppOptions {
  store: Store;
  config: Config;
  /** Every request but /healthz and /static/ must carry it (see security.ts); newAccessToken() makes one. */
  token: string;
  /** Folder of the EJS templates, with static/ (app.js, app.css) inside. */
  viewsDir: string;
  /** Address the server will listen on; on loopback, Host names are checked too. @default '127.0.0.1' */
  host?: string;
  /** The clock. @default Date.now */
  now?: () => number;
  /** Seconds between live refreshes of the overview. @default 2 */
  refreshSeconds?: number;
}

/** Builds the app. */
export function createApp(opts: AppOptions): express.Express {
  const app = express();
  const now = opts.now ?? Date.now;
  app.disable('x-powered-by');
  app.set('views', opts.viewsDir);
  app.set('view engine', 'ejs');
  app.enable('view cache');
  app.set('query parser', 'simple');

  const sendError: SendError = (req, res, status, message) => {
    const path = req.baseUrl + req.path; // req.path alone is relative to the router that answers
    const api = path.startsWith('/api/') || path === '/metrics';
    const kind = req.accepts(api ? ['json', 'html'] : ['html', 'json']);
    res.status(status);
    if (kind === 'html') res.render('error', { title: `Error ${status}`, status, message, nav: '', counts: null });
    else res.json({ error: message });
  };
  const csrf = createCsrf(sendError);
  const ctx: WebContext = { store: opts.store, config: opts.config, now, csrf, sendError };

  Object.assign(app.locals, {
    csrfField: CSRF_FIELD,
    csrfToken: csrf.token,
    root: opts.store.root,
    refreshSeconds: opts.refreshSeconds ?? 2,
    PAGE_STATES,
    LISTING_ORDER,
    STATE_CHART,
    THROUGHPUT_CHART,
    fmt: viewHelpers(),
  });

  // Security headers first, so static files and errors carry them too.
  app.use(securityHeaders());
  if (isLoopbackHost(opts.host ?? '127.0.0.1')) app.use(loopbackHostOnly(sendError));
  // Never without a token: loopback is open to every local account (see security.ts).
  if (typeof opts.token !== 'string' || opts.token.length < 12) throw new Error('createApp needs a token of at least 12 characters');
  app.use(requireToken(opts.token, sendError));
  app.use('/static', express.static(join(opts.viewsDir, 'static'), { index: false, redirect: false, fallthrough: true }));
  app.use(express.urlencoded({ extended: false, limit: '256kb', parameterLimit: 2000 }));
  app.use(express.json({ limit: '256kb' }));

  app.get('/healthz', async (_req, res) => {
    const ok = await exists(opts.store.pending);
    res.status(ok ? 200 : 503).type('text/plain').send(ok ? 'ok\n' : `queue root ${opts.store.root} is not readable\n`);
  });

  app.get('/metrics', async (_req, res) => {
    res.type(METRICS_CONTENT_TYPE).send(await collectMetrics(opts.store, opts.config.staleAfterMs, now()));
  });

  app.use('/api', apiRouter(ctx));

  app.use(pagesRouter(ctx));

  app.use((req, res) => sendError(req, res, 404, `Nothing at ${req.path.slice(0, 200)}`));
  app.use((err: unknown, req: Request, res: Response, _next: NextFunction) => {
    const status = (err as { status?: number }).status;
    if (typeof status === 'number' && status >= 400 && status < 500) return sendError(req, res, status, (err as Error).message);
    sendError(req, res, 500, `Internal error: ${(err as Error)?.message ?? String(err)}`);
  });
  return app;
}

/** Formatting for the templates. */
function viewHelpers() {
  const int = new Intl.NumberFormat('en-US');
  return {
    int: (n: number) => int.format(n),
    dur: (ms: number) => formatDuration(ms),
    /** "3m ago", "in 5s", "now". */
    rel: (ms: number, now: number) => {
      const d = ms - now;
      if (!Number.isFinite(d)) return '-';
      if (Math.abs(d) < 1000) return 'now';
      return d > 0 ? `in ${formatDuration(d)}` : `${formatDuration(-d)} ago`;
    },
    /** "2026-11-28 04:20:09" (UTC). */
    time: (iso: string | undefined) => (iso ? iso.replace('T', ' ').replace(/\.\d+Z$|Z$/, '') : '-'),
    /** One line, at most n characters. */
    cut: (text: string, n: number) => {
      const one = text.replace(/\s*\n\s*/g, ' ⏎ ');
      return one.length <= n ? one : `${one.slice(0, n - 1)}…`;
    },
    bytes: (n: number) => (n < 1024 ? `${n} B` : n < 1024 * 1024 ? `${(n / 1024).toFixed(1)} KB` : `${(n / 1024 / 1024).toFixed(1)} MB`),
    niceMax,
  };
}
