// The read side: counts by state, single jobs and output logs, for `status`, `show` and the page.
// Listings of jobs (and the state a person sees) are in listing.ts, re-exported here.
// Never lists all of completed/: closed hour shards are counted from their cached counts.

import { promises as fsp } from 'node:fs';
import { isErrno } from './errors.js';
import { readWorkers, type WorkerStatus } from './heartbeat.js';
import { type Job } from './job.js';
import { locateJob, parseClaimName, parsePendingName } from './lifecycle.js';
import { mapLimit } from './parallel.js';
import { type PendingTally, tallyPending } from './pending-count.js';
import { listQueues, type QueueReport } from './queues.js';
import { listSchedules, type ScheduleView, viewSchedule } from './schedules.js';
import { countCompletedShard, listCompletedShards, listJsonNames, logPath, readJob, type Store } from './store.js';

export {
  DISPLAY_STATES,
  type DisplayState,
  displayState,
  displayStateOf,
  type JobsPage,
  LIST_STATES,
  LISTING_ORDER,
  type ListState,
  listJobsPage,
  type PageOptions,
  SCAN_LIMIT_DEFAULT,
} from './listing.js';

export interface Counts {
  /** In pending/, may run now, never failed. */
  pending: number;
  /** In pending/, never failed, run_at still ahead. */
  scheduled: number;
  /** In pending/ after a failed attempt, waiting for its retry. */
  failed: number;
  /** In waiting/: its dependencies have not all completed. */
  waiting: number;
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

/** What `status --json` and the page's /api/status show: the report, every queue and every schedule. */
export interface Overview extends StatusReport {
  queues: QueueReport[];
  /** Each with its next run only. */
  schedules: ScheduleView[];
}

/** The status report with the queues and the schedules: one assembly for the CLI and the page. */
export async function readOverview(store: Store, now: number, staleAfterMs: number): Promise<Overview> {
  const tally = await tallyPending(store, now); // one listing of pending/ (or none: its cache) for both
  const [report, queues] = await Promise.all([readStatus(store, now, staleAfterMs, tally), listQueues(store, now, tally)]);
  return { ...report, queues, schedules: listSchedules(store).map((s) => viewSchedule(store, s, now, 1)) };
}

/** Counts by state and the workers, reading names only (no job file is opened). */
export async function readStatus(store: Store, now: number, staleAfterMs: number, pendingTally?: PendingTally): Promise<StatusReport> {
  const [tally, waitingNames, processingNames, shards, deadNames, quarantined, workers] = await Promise.all([
    pendingTally ?? tallyPending(store, now),
    listJsonNames(store.waiting),
    listJsonNames(store.processing),
    listCompletedShards(store),
    listJsonNames(store.dead),
    fsp.readdir(store.quarantine).then((n) => n.filter((x) => !x.endsWith('.reason') && !x.startsWith('.')).length, () => 0),
    readWorkers(store, now, staleAfterMs),
  ]);
  const counts: Counts = { ...tally.counts, waiting: waitingNames.length, processing: processingNames.length, completed: 0, dead: deadNames.length, quarantined };
  counts.completed = (await mapLimit(shards, 16, (s) => countCompletedShard(store, s, now))).reduce((a, b) => a + b, 0);
  const current = new Map<string, string>();
  for (const name of processingNames) {
    const c = parseClaimName(name);
    if (c) current.set(c.worker, c.id ?? c.pendingName);
  }
  return { root: store.root, counts, workers: workers.map((w) => ({ ...w, current_job: current.get(w.id) ?? null })) };
}

/** Jobs in dead/ (the nav's badge), from one listing. */
export async function countDead(store: Store): Promise<number> {
  return (await listJsonNames(store.dead)).length;
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

/**
 * available_at (epoch ms) of the job that has waited longest among those due now, from pending/ names
 * alone; null when no job is due. Hand-dropped files (not yet named by a worker) are not counted.
 */
export async function oldestDueAt(store: Store, now: number): Promise<number | null> {
  let oldest: number | null = null;
  for (const name of await listJsonNames(store.pending)) {
    const p = parsePendingName(name);
    if (p && p.availableAt <= now && (oldest === null || p.availableAt < oldest)) oldest = p.availableAt;
  }
  return oldest;
}

export interface LogTail {
  /** The last bytes of the log (decoded as UTF-8; a cut character at the start shows as U+FFFD). */
  text: string;
  /** Size of the whole log in bytes. */
  size: number;
  /** True when text is only the end of the log. */
  truncated: boolean;
}

/** The end of the output log of run `run` (1-based) of a job; null when there is none. */
export async function readLogTail(store: Store, id: string, run: number, maxBytes: number): Promise<LogTail | null> {
  let fh: fsp.FileHandle;
  try {
    fh = await fsp.open(logPath(store, id, run), 'r');
  } catch (err) {
    if (isErrno(err, 'ENOENT')) return null;
    throw err;
  }
  try {
    const { size } = await fh.stat();
    const length = Math.min(size, maxBytes);
    const buf = Buffer.alloc(length);
    const { bytesRead } = await fh.read(buf, 0, length, size - length);
    return { text: buf.subarray(0, bytesRead).toString('utf8'), size, truncated: size > length };
  } finally {
    await fh.close();
  }
}
