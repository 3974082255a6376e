// The listing engine: the state a person sees for each job, and every listing of jobs (`list`, `dlq list`,
// the page's tables and /api/jobs) in one order per state, a page at a time.
//
// Display states (DISPLAY_STATES; displayStateOf is the only place that decides):
//   pending     in pending/, never ran, may run now (or a file dropped in by hand, not yet taken in)
//   scheduled   in pending/, never ran, its run_at is still ahead
//   failed      in pending/ after a failed run, waiting for (or due for) its retry
//   waiting     in waiting/: its dependencies (`after`) have not all completed
//   processing  in processing/: running
//   completed   in completed/<hour>/
//   dead        in dead/: the dead letter queue
//
// The order of each state (LISTING_ORDER says the same in words, for help texts):
//   pending, scheduled, failed: the order workers take them (src/pending-index.ts). Files dropped by hand
//     first (a worker takes them in before anything else); then jobs due now by priority (lower first),
//     then available_at, then file name; then jobs not yet due by available_at (when they become due),
//     then priority, then file name.
//   waiting: in the order they were enqueued (the record's mtime), oldest first.
//   processing: by claim name, which starts with the job's pending name: earliest due first.
//   completed: newest finished first: hour shards newest first, then by the time the record was written
//     (its mtime, the finish time), then id descending.
//   dead: newest death first, by the record's mtime (when it was buried or cancelled), then id descending.
//   all: the states in DISPLAY_STATES order, one after the other.
//
// A page is chosen from file NAMES (and for completed/ and dead/ an lstat per name, no open): only the
// page's files are opened. pending/ with 100,000 names is a readdir, a key per name and a sort; completed/
// is walked one hour shard at a time, newest first, and stops as soon as the page is full. Only a text
// search (`q`) opens files to see the command, so it opens at most `scanLimit` per request and says where
// it stopped (the cursor continues it). A cursor is a position in the order, not a snapshot: jobs that
// move while someone pages (claimed, retried, or become due) may be skipped or shown twice.

import { lstatSync } from 'node:fs';
import { basename, join } from 'node:path';
import { CONFIG_KEYS } from './config.js';
import { InputError } from './errors.js';
import { createJob, idFromFileName, type Job, type JobState } from './job.js';
import { type PendingName, parsePendingName } from './lifecycle.js';
import { mapLimit } from './parallel.js';
import { listCompletedShards, listJsonNames, readJob, readJobFileSync, type Store } from './store.js';

/** What a person sees as a job's state, in lifecycle order. */
export const DISPLAY_STATES = ['pending', 'scheduled', 'failed', 'waiting', 'processing', 'completed', 'dead'] as const;
export type DisplayState = (typeof DISPLAY_STATES)[number];
/** What `--state` and `?state=` accept (with 'all'): the display states. */
export const LIST_STATES = DISPLAY_STATES;
export type ListState = DisplayState;

/** The order of each listing, in words (the README and the page say the same). */
export const LISTING_ORDER: Record<DisplayState, string> = {
  pending: 'in the order workers take them: lower priority number first, then the longest waiting',
  scheduled: 'in the order they become due',
  failed: 'in the order they will be retried',
  waiting: 'oldest first (they run once their dependencies have completed)',
  processing: 'earliest due first',
  completed: 'newest finished first',
  dead: 'newest first (by when they died)',
};

/**
 * The one place that decides a display state. `folder` is where the file is; attempts and availableAt
 * come from the job or from its pending/ file name (which holds both).
 */
export function displayStateOf(folder: JobState, attempts: number, availableAt: number, now: number): DisplayState {
  if (folder !== 'pending') return folder;
  if (attempts > 0) return 'failed';
  return availableAt > now ? 'scheduled' : 'pending';
}

/** The display state of a job read from its file. */
export function displayState(job: Pick<Job, 'state' | 'attempts' | 'available_at'>, now: number): DisplayState {
  return displayStateOf(job.state, job.attempts, Date.parse(job.available_at), now);
}

/** The display state of a pending/ file from its name alone; a hand-dropped file counts as pending (ready). */
export function pendingNameState(name: string, now: number): 'pending' | 'scheduled' | 'failed' {
  const p = parsePendingName(name);
  return p ? (displayStateOf('pending', p.attempts, p.availableAt, now) as 'pending' | 'scheduled' | 'failed') : 'pending';
}

/**
 * A string that sorts (ascending) a pending/ name into the order workers take jobs (see the header):
 * dropped files, then due jobs by priority, available_at, name, then future jobs by available_at, priority,
 * name. The name is its tail (runOrderName gives it back).
 */
export function runOrderKey(name: string, now: number): string {
  return keyOf(name, parsePendingName(name), now);
}

function keyOf(name: string, p: PendingName | null, now: number): string {
  if (!p) return `0${name}`;
  // A queuectl name starts with <available_at:13>-<priority+1000:4>-: the fields are already fixed width.
  const at = name.slice(0, 13);
  const priority = name.slice(14, 18);
  return p.availableAt <= now ? `1${priority}${at}${name}` : `2${at}${priority}${name}`;
}

/** The pending/ name at the tail of a runOrderKey. */
function runOrderName(key: string): string {
  return key[0] === '0' ? key.slice(1) : key.slice(18);
}

// ---- pages ------------------------------------------------------------------------------------------

/** Most job files one text search opens per request. */
export const SCAN_LIMIT_DEFAULT = 2000;

export interface PageOptions {
  /** One state, or 'all' (the states in DISPLAY_STATES order, one after the other). */
  state: ListState | 'all';
  /** Case-insensitive text to find in the id or the command; '' or undefined: every job. */
  q?: string;
  /** next_cursor of the previous page; undefined: the first page. */
  cursor?: string;
  /** Jobs per page. */
  limit: number;
  now: number;
  /** max_retries shown for a hand-dropped file that does not set it (the config's max-retries). */
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
  /** Position in the listing: `<list state>:<prefix><key>`. */
  cursor: string;
  path: string;
  folder: JobState;
  /** A file dropped into pending/ by hand (no queuectl name yet). */
  dropped: boolean;
}

/**
 * One folder's candidates in listing order: sort keys that end with the file name (plain strings, so that
 * 100,000 of them sort in a few ms).
 */
interface Batch {
  state: ListState;
  folder: JobState;
  dir: string;
  /** Prepended to a key to make its cursor (the completed/ shard: "2026010109/"). */
  prefix: string;
  keys: string[];
  /** The file name in a key. */
  nameOf: (key: string) => string;
}

/** Keys `<mtime µs:16>/<name>` of the names that still exist (lstat, no open), yielding now and then. */
async function mtimeKeys(dir: string, names: string[]): Promise<string[]> {
  const out: string[] = [];
  for (let i = 0; i < names.length; i++) {
    if (i > 0 && i % 4096 === 0) await new Promise((r) => setImmediate(r)); // ~6 ms of lstat: let requests in
    let mtime: number;
    try {
      mtime = lstatSync(join(dir, names[i])).mtimeMs;
    } catch {
      continue; // moved on since the readdir
    }
    out.push(`${String(Math.round(mtime * 1000)).padStart(16, '0')}/${names[i]}`);
  }
  return out;
}
const mtimeKeyName = (key: string) => key.slice(17);
const same = (key: string) => key;
const newestFirst = (keys: string[]) => keys.sort().reverse();

/** The candidates of one state after the cursor key `after` (null: from the start), in listing order. */
async function* listingBatches(store: Store, state: ListState, after: string | null, now: number): AsyncGenerator<Batch> {
  if (state === 'pending' || state === 'scheduled' || state === 'failed') {
    const keys: string[] = [];
    for (const name of await listJsonNames(store.pending)) {
      const p = parsePendingName(name);
      if ((p ? displayStateOf('pending', p.attempts, p.availableAt, now) : 'pending') !== state) continue;
      const key = keyOf(name, p, now);
      if (after === null || key > after) keys.push(key);
    }
    yield { state, folder: 'pending', dir: store.pending, prefix: '', keys: keys.sort(), nameOf: runOrderName };
  } else if (state === 'waiting') {
    const keys = (await mtimeKeys(store.waiting, await listJsonNames(store.waiting))).filter((k) => after === null || k > after).sort();
    yield { state, folder: 'waiting', dir: store.waiting, prefix: '', keys, nameOf: mtimeKeyName };
  } else if (state === 'processing') {
    const keys = (await listJsonNames(store.processing)).filter((n) => after === null || n > after).sort();
    yield { state, folder: 'processing', dir: store.processing, prefix: '', keys, nameOf: same };
  } else if (state === 'completed') {
    const slash = after?.indexOf('/') ?? -1;
    const afterShard = after !== null && slash > 0 ? after.slice(0, slash) : null;
    const afterKey = after !== null && slash > 0 ? after.slice(slash + 1) : null;
    for (const shard of await listCompletedShards(store)) {
      if (afterShard !== null && shard > afterShard) continue;
      const dir = join(store.completed, shard);
      let keys = await mtimeKeys(dir, await listJsonNames(dir));
      if (shard === afterShard) keys = keys.filter((k) => k < afterKey!);
      yield { state, folder: 'completed', dir, prefix: `${shard}/`, keys: newestFirst(keys), nameOf: mtimeKeyName };
    }
  } else {
    const keys = (await mtimeKeys(store.dead, await listJsonNames(store.dead))).filter((k) => after === null || k < after);
    yield { state, folder: 'dead', dir: store.dead, prefix: '', keys: newestFirst(keys), nameOf: mtimeKeyName };
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
      const keys = b.keys.slice(this.pos, this.pos + n - out.length);
      this.pos += keys.length;
      for (const key of keys) {
        const name = b.nameOf(key);
        out.push({ cursor: `${b.state}:${b.prefix}${key}`, path: join(b.dir, name), folder: b.folder, dropped: b.folder === 'pending' && !parsePendingName(name) });
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
    while (!this.batch || this.pos >= this.batch.keys.length) {
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
 * One page of jobs in a state (or all), in the order of that state, optionally filtered by text in the id
 * or command. The only listing of jobs: the CLI and the page both call it. Opens only the page's files,
 * except for a text search, which opens up to scanLimit files and may return a short page with partial: true.
 */
export async function listJobsPage(store: Store, opts: PageOptions): Promise<JobsPage> {
  const states: readonly ListState[] = opts.state === 'all' ? DISPLAY_STATES : [opts.state];
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
 * A file dropped into pending/ by hand, shown as the job a worker will make of it (status counts it, so
 * a listing must show it). Until a worker takes it in and gives it an id, its id is the spec's or the file
 * name. Throws when it is not a valid job spec (a worker will quarantine it).
 */
async function readDroppedJob(path: string, maxRetries = CONFIG_KEYS['max-retries'].default): Promise<Job> {
  const name = basename(path);
  // Never blocks: a FIFO dropped into pending/ must not hang `list` or the page.
  const r = readJobFileSync(path);
  if (!r.ok) throw r.gone ? Object.assign(new Error('gone'), { code: 'ENOENT' }) : new Error(r.problem);
  const job = createJob(JSON.parse(r.text), `pending/${name}`, r.mtimeMs, { maxRetries, cwd: null }, () => idFromFileName(name) ?? name);
  return { ...job, source: name };
}
