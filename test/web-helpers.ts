// Helpers for the status page tests: a real queue root, the real app listening on an ephemeral port,
// jobs enqueued through the core, and real `queuectl worker start` processes stopped by signals.

import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { promises as fsp } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { type Config, loadConfig } from '../src/config.js';
import { enqueueJobs } from '../src/enqueue.js';
import { type Counts, readStatus } from '../src/inspect.js';
import type { Job } from '../src/job.js';
import { openStore, type Store } from '../src/store.js';
import { newAccessToken } from '../src/web/security.js';
import { createApp } from '../src/web/server.js';
import { CLI, makeTempRoot, REPO, waitFor } from './helpers.js';

/** Tiny intervals so workers notice jobs and stop quickly. */
export const FAST = { 'heartbeat-interval': '50ms', 'stale-after': '600ms', 'poll-interval': '200ms', 'kill-grace': '500ms', 'backoff-base': '1' };

type TestContext = { after: (fn: () => Promise<void>) => void };

export interface Dashboard {
  root: string;
  dir: string;
  store: Store;
  config: Config;
  /** http://127.0.0.1:<port> */
  base: string;
  /** The dashboard's access token (given, or a fresh random one as `queuectl dashboard` makes). */
  token: string;
  /** A request with the token (Authorization: Bearer), as a script that was given it would send. */
  get(path: string, init?: RequestInit): Promise<Response>;
  /** A request without the token (nothing added): what anyone else who can connect gets. */
  anon(path: string, init?: RequestInit): Promise<Response>;
  /** The CSRF token, as a script would get it. */
  csrf(): Promise<string>;
  enqueue(specs: Record<string, unknown>[]): Promise<Job[]>;
  counts(): Promise<Counts>;
  /** Starts a real worker process on the root (`worker start ARGS`); it is stopped (SIGTERM, then SIGKILL) when the test ends. */
  startWorker(args?: string[]): Promise<Worker>;
}

export interface Worker {
  child: ChildProcess;
  output: () => string;
  /** SIGTERM and wait for the exit (bounded); SIGKILL if it does not come. */
  stop(): Promise<void>;
}

/**
 * A fresh root (FAST config written as config.json, as `config set` would) served by createApp on
 * 127.0.0.1:0, with a token like every dashboard. Everything is torn down when the test ends: workers, then the server, then the folder.
 */
export async function startDashboard(t: TestContext, opts: { token?: string; refreshSeconds?: number } = {}): Promise<Dashboard> {
  const tmp = await makeTempRoot();
  await fsp.mkdir(tmp.root, { mode: 0o700 });
  await fsp.writeFile(join(tmp.root, 'config.json'), JSON.stringify(FAST), { mode: 0o600 });
  const store = await openStore(tmp.root);
  const config = await loadConfig(store);
  const token = opts.token ?? newAccessToken();
  const app = createApp({ store, config, token, viewsDir: join(REPO, 'views'), refreshSeconds: opts.refreshSeconds });
  const server = app.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const workers: Worker[] = [];
  t.after(async () => {
    await Promise.all(workers.map((w) => w.stop()));
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await tmp.cleanup();
  });
  return {
    root: tmp.root,
    dir: tmp.dir,
    store,
    config,
    base,
    token,
    get: (path, init) => {
      const headers = new Headers(init?.headers);
      if (!headers.has('authorization')) headers.set('authorization', `Bearer ${token}`);
      return fetch(base + path, { redirect: 'manual', ...init, headers });
    },
    anon: (path, init) => fetch(base + path, { redirect: 'manual', ...init }),
    async csrf() {
      const res = await fetch(`${base}/api/csrf`, { headers: { authorization: `Bearer ${token}` } });
      return ((await res.json()) as { token: string }).token;
    },
    enqueue: (specs) => enqueueJobs(store, specs.map((spec, i) => ({ spec, label: `job ${i + 1}` })), { now: Date.now(), maxRetries: 3, cwd: tmp.dir }),
    counts: async () => (await readStatus(store, Date.now(), 600)).counts,
    async startWorker(args = []) {
      const w = spawnWorker(tmp.root, tmp.dir, args);
      workers.push(w);
      await waitFor(() => w.output().includes('ready'), { what: 'the worker to print "ready"', timeoutMs: 10_000 });
      return w;
    },
  };
}

function spawnWorker(root: string, cwd: string, args: string[]): Worker {
  const env = { ...process.env, NO_COLOR: '1' };
  for (const k of Object.keys(env)) if (k.startsWith('QUEUECTL_') || k === 'NODE_OPTIONS') delete env[k];
  const child = spawn(process.execPath, [CLI, 'worker', 'start', '--root', root, ...args], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (out += d));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let stopping: Promise<void> | undefined;
  return {
    child,
    output: () => out,
    stop: () =>
      (stopping ??= (async () => {
        if (child.exitCode !== null || child.signalCode !== null) return;
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
        await exited;
        clearTimeout(timer);
      })()),
  };
}

/** The CSRF token embedded in a page (the meta tag the forms' hidden fields copy). */
export function csrfFromPage(html: string): string {
  const m = /<meta name="csrf-token" content="([^"]+)">/.exec(html);
  if (!m) throw new Error('no csrf-token meta tag in the page');
  return m[1];
}
