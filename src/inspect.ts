// The read side: counts, listings and single jobs, for `status`, `list`, `show` and the page.
// Never lists all of completed/: closed hour shards are counted from their cached counts.

import { promises as fsp } from 'node:fs';
import { basename, join } from 'node:path';
import { CONFIG_KEYS } from './config.js';
import { isErrno } from './errors.js';
import { readWorkers, type WorkerStatus } from './heartbeat.js';
import { createJob, type Job, type JobState, parsePendingName } from './job.js';
import { mapLimit } from './parallel.js';
import {
  countCompletedShard,
  listCompletedShards,
  listJsonNames,
  locateJob,
  parseClaimName,
  readJob,
  type Store,
} from './store.js';

/**
 * What a person asks for with --state: the four folders, plus three views of pending/:
 * ready (may run now, never failed), scheduled (run_at in the future) and failed (waiting for a retry).
 */
export const LIST_STATES = ['pending', 'scheduled', 'failed', 'processing', 'completed', 'dead'] as const;
export type ListState = (typeof LIST_STATES)[number];

export interface Counts {
  /** In pending/, may run now, never failed. */
  pending: number;
  /** In pending/, never failed, run_at still ahead. */
  scheduled: number;
  /** In pending/ after a failed attempt, waiting for its retry. */
  failed: number;
  processing: number;
  completed: number;
  dead: number;
  /** Files in quarantine/ (not jobs: what could not be read as one). */
  quarantined: number;
}

export interface WorkerView extends WorkerStatus {
  /** Id of the job the worker holds in processing/, if any. */
  current_job: string | null;
}

export interface StatusReport {
  root: string;
  counts: Counts;
  workers: WorkerView[];
}

/** Which view of pending/ a job name belongs to. */
function pendingView(name: string, now: number): 'pending' | 'scheduled' | 'failed' {
  const p = parsePendingName(name);
  if (!p) return 'pending'; // a dropped file not yet normalised: ready by default
  if (p.attempts > 0) return 'failed';
  return p.availableAt > now ? 'scheduled' : 'pending';
}

/** Counts by state and the workers, reading names only (no job file is opened). */
export async function readStatus(store: Store, now: number, staleAfterMs: number): Promise<StatusReport> {
  const [pendingNames, processingNames, shards, deadNames, quarantined, workers] = await Promise.all([
    listJsonNames(store.pending),
    listJsonNames(store.processing),
    listCompletedShards(store),
    listJsonNames(store.dead),
    fsp.readdir(store.quarantine).then((n) => n.filter((x) => !x.endsWith('.reason') && !x.startsWith('.')).length, () => 0),
    readWorkers(store, now, staleAfterMs),
  ]);
  const counts: Counts = { pending: 0, scheduled: 0, failed: 0, processing: processingNames.length, completed: 0, dead: deadNames.length, quarantined };
  for (const name of pendingNames) counts[pendingView(name, now)]++;
  counts.completed = (await mapLimit(shards, 16, (s) => countCompletedShard(store, s, now))).reduce((a, b) => a + b, 0);
  const current = new Map<string, string>();
  for (const name of processingNames) {
    const c = parseClaimName(name);
    if (c) current.set(c.worker, c.id ?? c.pendingName);
  }
  return { root: store.root, counts, workers: workers.map((w) => ({ ...w, current_job: current.get(w.id) ?? null })) };
}

export interface ListOptions {
  state?: ListState | 'all';
  limit: number;
  now: number;
  /** max_retries shown for a hand-dropped file that does not set it (the config's max-retries). */
  maxRetries?: number;
}

/** Jobs in one state (or all), in the order they will run (pending) or newest first (finished). */
export async function listJobs(store: Store, opts: ListOptions): Promise<Job[]> {
  const states: ListState[] = !opts.state || opts.state === 'all' ? [...LIST_STATES] : [opts.state];
  const paths: { path: string; state: JobState }[] = [];
  for (const state of states) {
    if (paths.length >= opts.limit) break;
    const room = opts.limit - paths.length;
    if (state === 'pending' || state === 'scheduled' || state === 'failed') {
      const names = (await listJsonNames(store.pending)).filter((n) => pendingView(n, opts.now) === state).sort();
      paths.push(...names.slice(0, room).map((n) => ({ path: join(store.pending, n), state: 'pending' as const })));
    } else if (state === 'processing') {
      const names = (await listJsonNames(store.processing)).sort();
      paths.push(...names.slice(0, room).map((n) => ({ path: join(store.processing, n), state })));
    } else if (state === 'completed') {
      for (const shard of await listCompletedShards(store)) {
        if (paths.length >= opts.limit) break;
        const dir = join(store.completed, shard);
        const names = (await listJsonNames(dir)).sort().reverse();
        paths.push(...names.slice(0, opts.limit - paths.length).map((n) => ({ path: join(dir, n), state })));
      }
    } else {
      const dir = store.dead;
      const names = await listJsonNames(dir);
      const withTimes = await mapLimit(names, 32, async (n) => ({ n, t: (await fsp.stat(join(dir, n)).catch(() => null))?.mtimeMs ?? 0 }));
      withTimes.sort((a, b) => b.t - a.t);
      paths.push(...withTimes.slice(0, room).map(({ n }) => ({ path: join(dir, n), state })));
    }
  }
  const jobs = await mapLimit(paths, 32, async ({ path, state }) => {
    try {
      if (state === 'pending' && !parsePendingName(basename(path))) return await readDroppedJob(path, opts.maxRetries);
      return await readJob(path, state);
    } catch (err) {
      if (isErrno(err, 'ENOENT')) return null; // moved on while we listed
      return null; // unreadable: a worker will quarantine it
    }
  });
  return jobs.filter((j): j is Job => j !== null);
}

/**
 * A file dropped into pending/ by hand, shown as the job a worker will make of it (status counts it, so
 * list must show it). Until a worker takes it in and gives it an id, its id is the spec's or the file name.
 * Throws when it is not a valid job spec (a worker will quarantine it).
 */
async function readDroppedJob(path: string, maxRetries = CONFIG_KEYS['max-retries'].default): Promise<Job> {
  const name = basename(path);
  const [text, st] = await Promise.all([fsp.readFile(path, 'utf8'), fsp.stat(path)]);
  const job = createJob(JSON.parse(text), `pending/${name}`, st.mtimeMs, { maxRetries, cwd: null }, () => name);
  return { ...job, source: name };
}

/** One job by id, or null. */
export async function getJob(store: Store, id: string): Promise<Job | null> {
  for (let i = 0; i < 3; i++) {
    const where = await locateJob(store, id);
    if (!where) return null;
    try {
      return await readJob(where.path, where.state);
    } catch (err) {
      if (!isErrno(err, 'ENOENT')) throw err; // moved between locate and read: look again
    }
  }
  return null;
}

/** A copy of the job with env values replaced by "***", for output that may be shared. */
export function redactEnv(job: Job): Job {
  if (!job.env) return job;
  return { ...job, env: Object.fromEntries(Object.keys(job.env).map((k) => [k, '***'])) };
}
