// The read side: counts, listings and single jobs, for `status`, `list`, `show` and the page.
// Never lists all of completed/: closed hour shards are counted from their cached counts.

import { promises as fsp } from 'node:fs';
import { basename, join } from 'node:path';
import { CONFIG_KEYS } from './config.js';
import { InputError, isErrno } from './errors.js';
import { readWorkers, type WorkerStatus } from './heartbeat.js';
import { createJob, idFromFileName, type Job, type JobState } from './job.js';
import { locateJob, parseClaimName, parsePendingName } from './lifecycle.js';
import { mapLimit } from './parallel.js';
import {
  countCompletedShard,
  listCompletedShards,
  listJsonNames,
  logPath,
  readJob,
  readJobFileSync,
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
  // Never blocks: a FIFO dropped into pending/ must not hang `list` or the page.
  const r = readJobFileSync(path);
  if (!r.ok) throw r.gone ? Object.assign(new Error('gone'), { code: 'ENOENT' }) : new Error(r.problem);
  const job = createJob(JSON.parse(r.text), `pending/${name}`, r.mtimeMs, { maxRetries, cwd: null }, () => idFromFileName(name) ?? name);
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

// ---- pages of jobs (the status page and its API) ---------------------------------------------------
//
// A page is chosen from file NAMES, and only the page's files are opened: listing pending/ with 100,000
// names is a readdir and a sort; completed/ is walked one hour shard at a time, newest first, and
// stops as soon as the page is full. Only a text search (`q`) must open files to see the command, so it
// opens at most `scanLimit` per request and says where it stopped (the cursor continues the search).

/** Most job files one text search opens per request. */
export const SCAN_LIMIT_DEFAULT = 2000;

export interface PageOptions {
  /** One state, or 'all' (the states in LIST_STATES order, one after the other). */
  state: ListState | 'all';
  /** Case-insensitive text to find in the id or the command; '' or undefined: every job. */
  q?: string;
  /** next_cursor of the previous page; undefined: the first page. */
  cursor?: string;
  /** Jobs per page. */
  limit: number;
  now: number;
  /** max_retries shown for a hand-dropped file that does not set it. */
  maxRetries?: number;
  /** With `q`: most job files opened in this request. @default SCAN_LIMIT_DEFAULT */
  scanLimit?: number;
}

export interface JobsPage {
  jobs: Job[];
  /** Opaque; pass it back as `cursor` for the next page. null: nothing after this page. */
  next_cursor: string | null;
  /** Job files opened for this page (the page's own, plus those read to match `q`). */
  scanned: number;
  /** True when a search stopped at scanLimit before the page was full: next_cursor continues it. */
  partial: boolean;
}

/** One candidate file, known from its name alone. */
interface Entry {
  /** Position in the listing: `<list state>:<key>`; keys sort in the listing's direction. */
  cursor: string;
  path: string;
  folder: JobState;
  /** A file dropped into pending/ by hand (no queuectl name yet). */
  dropped: boolean;
}

/**
 * Names of one folder in listing order. Entries are made only for the names a page takes: with
 * 100,000 names, making a path and a cursor for each would cost more than the listing itself.
 */
interface Batch {
  state: ListState;
  folder: JobState;
  dir: string;
  /** Prepended to a name to make its key (the completed/ shard: "2026010109/"). */
  prefix: string;
  names: string[];
}

/**
 * The order of each listing, by name only:
 *  - pending, scheduled, failed: the order they will run (pending/ names sort by time, then priority);
 *  - processing: by claim name (the pending name it came from, so also run order);
 *  - completed: newest hour shard first, then id descending (ids sort by creation time);
 *  - dead: id descending (newest job first), so no file needs a stat.
 */
async function* listingBatches(store: Store, state: ListState, after: string | null, now: number): AsyncGenerator<Batch> {
  if (state === 'pending' || state === 'scheduled' || state === 'failed') {
    const names = (await listJsonNames(store.pending)).filter((n) => (after === null || n > after) && pendingView(n, now) === state).sort();
    yield { state, folder: 'pending', dir: store.pending, prefix: '', names };
  } else if (state === 'processing') {
    const names = (await listJsonNames(store.processing)).filter((n) => after === null || n > after).sort();
    yield { state, folder: 'processing', dir: store.processing, prefix: '', names };
  } else if (state === 'completed') {
    const slash = after?.indexOf('/') ?? -1;
    const afterShard = after !== null && slash > 0 ? after.slice(0, slash) : null;
    const afterName = after !== null && slash > 0 ? after.slice(slash + 1) : null;
    for (const shard of await listCompletedShards(store)) {
      if (afterShard !== null && shard > afterShard) continue;
      let names = await listJsonNames(join(store.completed, shard));
      if (shard === afterShard) names = names.filter((n) => n < afterName!);
      yield { state, folder: 'completed', dir: join(store.completed, shard), prefix: `${shard}/`, names: names.sort().reverse() };
    }
  } else {
    const names = (await listJsonNames(store.dead)).filter((n) => after === null || n < after).sort().reverse();
    yield { state, folder: 'dead', dir: store.dead, prefix: '', names };
  }
}

/** Entries of several listings in a row, taken a few at a time. */
class EntryStream {
  private batch: Batch | null = null;
  private pos = 0;
  /** Entries put back by unread(), taken before the rest. */
  private back: Entry[] = [];
  private readonly batches: AsyncGenerator<Batch>;
  constructor(sources: (() => AsyncGenerator<Batch>)[]) {
    this.batches = (async function* () {
      for (const source of sources) yield* source();
    })();
  }

  /** Up to n entries; fewer only at the end. */
  async take(n: number): Promise<Entry[]> {
    const out = this.back.splice(0, n);
    while (out.length < n && (await this.fill())) {
      const b = this.batch!;
      const names = b.names.slice(this.pos, this.pos + n - out.length);
      this.pos += names.length;
      for (const name of names) {
        out.push({ cursor: `${b.state}:${b.prefix}${name}`, path: join(b.dir, name), folder: b.folder, dropped: b.folder === 'pending' && !parsePendingName(name) });
      }
    }
    return out;
  }

  /** Puts entries back, to be taken first. */
  unread(entries: Entry[]): void {
    this.back.unshift(...entries);
  }

  /** True when another entry remains. */
  async more(): Promise<boolean> {
    return this.back.length > 0 || this.fill();
  }

  private async fill(): Promise<boolean> {
    while (!this.batch || this.pos >= this.batch.names.length) {
      const next = await this.batches.next();
      if (next.done) return false;
      this.batch = next.value;
      this.pos = 0;
    }
    return true;
  }
}

/** Splits a cursor into its list state and key; throws InputError for a cursor this listing did not make. */
function parseCursor(cursor: string, states: readonly ListState[]): { index: number; key: string } {
  const colon = cursor.indexOf(':');
  const index = states.indexOf(cursor.slice(0, colon) as ListState);
  if (colon < 0 || index < 0) throw new InputError(`Invalid cursor ${JSON.stringify(cursor.slice(0, 80))}: pass the next_cursor of a previous page of the same listing`);
  return { index, key: cursor.slice(colon + 1) };
}

/**
 * One page of jobs in a state (or all), optionally filtered by text in the id or command. Opens only the
 * page's files, except for a text search, which opens up to scanLimit files and may return a short page
 * with partial: true.
 */
export async function listJobsPage(store: Store, opts: PageOptions): Promise<JobsPage> {
  const states: readonly ListState[] = opts.state === 'all' ? LIST_STATES : [opts.state];
  const start = opts.cursor ? parseCursor(opts.cursor, states) : { index: 0, key: null };
  const stream = new EntryStream(states.slice(start.index).map((state, i) => () => listingBatches(store, state, i === 0 ? start.key : null, opts.now)));
  const q = opts.q?.trim().toLowerCase() ?? '';
  const budget = q ? Math.max(opts.limit, opts.scanLimit ?? SCAN_LIMIT_DEFAULT) : Infinity;
  const jobs: Job[] = [];
  let scanned = 0;
  let last: string | null = null;

  while (jobs.length < opts.limit) {
    if (scanned >= budget) {
      // The search budget is spent: say where it stopped, so the next request goes on from there.
      const more = await stream.more();
      return { jobs, next_cursor: more ? last : null, scanned, partial: more };
    }
    const chunk = await stream.take(q ? Math.min(64, budget - scanned) : opts.limit - jobs.length);
    if (chunk.length === 0) return { jobs, next_cursor: null, scanned, partial: false };
    const read = await mapLimit(chunk, 32, (e) => readEntry(e, opts.maxRetries));
    scanned += chunk.length;
    for (let i = 0; i < chunk.length; i++) {
      const job = read[i];
      if (job && (!q || job.id.toLowerCase().includes(q) || job.command.toLowerCase().includes(q))) {
        if (jobs.length === opts.limit) {
          stream.unread(chunk.slice(i)); // read again on the next page
          break;
        }
        jobs.push(job);
      }
      last = chunk[i].cursor;
    }
  }
  return { jobs, next_cursor: (await stream.more()) ? last : null, scanned, partial: false };
}

/** Reads one listed file, or null when it moved on since the listing or cannot be read. */
async function readEntry(e: Entry, maxRetries: number | undefined): Promise<Job | null> {
  try {
    return e.dropped ? await readDroppedJob(e.path, maxRetries) : await readJob(e.path, e.folder);
  } catch {
    return null; // moved on while we listed (ENOENT), or unreadable: a worker will quarantine it
  }
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

/** The state a person sees: pending/ splits into pending, scheduled and failed (as in `list`). */
export function jobView(job: Job, now: number): ListState {
  if (job.state !== 'pending') return job.state;
  if (job.attempts > 0) return 'failed';
  return Date.parse(job.available_at) > now ? 'scheduled' : 'pending';
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
