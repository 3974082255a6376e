// The operations on one queue root, as functions a program calls: enqueue, get, list, status, wait, cancel,
// retry and workers in process. The CLI's commands call these same functions (src/cli/commands), so a
// program that calls and a person who types get the same validation, the same durability and all-or-nothing
// batches (enqueueBatch), the same listing order (listing.ts) and the same answers.
//
// Invariants:
//  - Core: nothing here reads process.argv or process.env, prints or exits. What a caller's process provides
//    (the default working directory of jobs, the environment jobs start from) comes in as QueueOptions;
//    src/index.ts, the package's entry, fills them from the process.
//  - Settings come from the root's config.json, read at each call (as each CLI command reads them), so a
//    `queuectl config set` applies to a long-lived Queue too.

// admin.js and inspect.js (with croner, via schedules) load on first use: one `enqueue` call does not
// pay for them (BENCHMARKS.md, "One enqueue call").
import type { CancelResult, WaitProgress, WaitResult } from './admin.js';
import { type Config, type ConfigKey, loadConfig } from './config.js';
import { enqueueBatch, type EnqueueInput, type EnqueueReport } from './enqueue.js';
import { InputError } from './errors.js';
import type { JobsPage, ListState, Overview } from './inspect.js';
import type { Job } from './job.js';
import type { FaultHook } from './lifecycle.js';
import type { WorkerEvent, WorkerPool } from './pool.js';
import { openStore, type Store } from './store.js';

/** The fields of a job spec queuectl defines (schema/job-spec.schema.json says the same, with the rules). */
export interface JobSpecFields {
  /** 1-128 of A-Z a-z 0-9 . _ - not starting with . or -; unique across all states. Default: generated. */
  id?: string | null;
  /** Run with /bin/sh -c. */
  command: string;
  /** -999..999, lower runs first. Default 0. */
  priority?: number | null;
  /** The named queue: 1-64 of a-z 0-9 _ -. Default "default". */
  queue?: string | null;
  /** Ids of jobs that must complete first (each must exist, or come earlier in the batch). */
  after?: string | string[] | null;
  /** Retries after the first run, 0..100. Default: config max-retries. */
  max_retries?: number | null;
  /** ISO-8601 time; without an offset, local time. Default: now. */
  run_at?: string | null;
  /** Instead of run_at: seconds, or a duration such as "30s", "1h30m". */
  delay?: number | string | null;
  /** Seconds, or a duration such as "10m". Default: config timeout. */
  timeout?: number | string | null;
  /** Absolute working directory. Default: the Queue's `cwd` option. */
  cwd?: string | null;
  /** Extra environment variables. */
  env?: Record<string, string>;
}

/** A job spec: the fields above, and any fields of your own (kept in the job as they are). */
export type JobSpec = JobSpecFields & { [field: string]: unknown };

export interface QueueOptions {
  /** Working directory of jobs that do not name one; null: the worker's own. */
  cwd: string | null;
  /** The environment every job of workers started here begins from (QUEUECTL_* are added). */
  env: Record<string, string | undefined>;
}

export interface ListFilter {
  /** One state as people see it, or 'all' (default). */
  state?: ListState | 'all';
  /** Text to find in the id or the command (case-insensitive). */
  q?: string;
  /** Jobs per page (default 100; Infinity for all). */
  limit?: number;
  /** next_cursor of the previous page. */
  cursor?: string;
}

export interface WaitOptions {
  /** Give up after this long (then timedOut is true); 0 or absent: wait forever. */
  timeoutMs?: number;
  onProgress?: (p: WaitProgress) => void;
}

export interface WorkerOptions {
  /** Workers in this process, 1..256 (default 1). */
  count?: number;
  /** Find new jobs by rescanning only (shared filesystems), as `worker start --poll`. */
  poll?: boolean;
  /** One call per event (claimed, completed, failed, ...). Default: none. */
  onEvent?: (event: WorkerEvent) => void;
  /** The environment jobs begin from, instead of the Queue's. */
  env?: Record<string, string | undefined>;
  /** Fault injection (the torture suite). */
  fault?: FaultHook;
  /** Take jobs of these queues only (`worker start --queue`); default: every queue. */
  queues?: readonly string[];
}

/** enqueueInputs' options beyond the specs: what the CLI needs for a big batch. */
export interface EnqueueCallOptions {
  /** A job whose id is already used by a job is skipped (EnqueueReport.existing), not an error. */
  ifAbsent?: boolean;
  onProgress?: (done: number, total: number) => void;
  fault?: (point: string) => void;
}

/** A queue root opened for calls. Build one with openQueue (src/index.ts) or from an open Store. */
export class Queue {
  constructor(readonly store: Store, private readonly options: QueueOptions) {}

  /** Absolute path of the root. */
  get root(): string {
    return this.store.root;
  }

  /** The root's settings (config.json over the defaults). */
  config(overrides: Partial<Record<ConfigKey, number | boolean>> = {}): Promise<Config> {
    return loadConfig(this.store, overrides);
  }

  /**
   * Validates and durably enqueues one job, or a batch all or nothing: nothing is written unless every
   * spec is valid and every id free, and it resolves once the jobs are fsynced. Throws InputError (a bad
   * spec, a taken id: nothing enqueued) or the error of the disk.
   */
  async enqueue(spec: JobSpec): Promise<Job>;
  async enqueue(specs: readonly JobSpec[]): Promise<Job[]>;
  async enqueue(specs: JobSpec | readonly JobSpec[]): Promise<Job | Job[]> {
    if (Array.isArray(specs)) {
      if (specs.length === 0) throw new InputError('Nothing to enqueue: expected at least one job');
      return (await this.enqueueInputs(specs.map((spec, i) => ({ spec, label: `job ${i + 1}` })))).jobs;
    }
    return (await this.enqueueInputs([{ spec: specs, label: 'job' }])).jobs[0];
  }

  /**
   * enqueue() with labels of the caller's (the CLI's "line 3 of stdin") and the whole report: `waiting`
   * counts jobs of a committed batch not yet visible in pending/ (a full folder; recovery publishes them).
   */
  async enqueueInputs(inputs: EnqueueInput[], opts: EnqueueCallOptions = {}): Promise<EnqueueReport> {
    const config = await this.config();
    return enqueueBatch(this.store, inputs, { now: Date.now(), maxRetries: config.maxRetries, cwd: this.options.cwd, ...opts });
  }

  /** One job by id, in whatever state it is (its `state` is its folder); null when there is none. */
  async get(id: string): Promise<Job | null> {
    const { getJob } = await import('./inspect.js');
    return getJob(this.store, id);
  }

  /** One page of jobs, in the order of their state (README: "One order everywhere"). */
  async list(filter: ListFilter = {}): Promise<JobsPage> {
    const { maxRetries } = await this.config();
    const { listJobsPage } = await import('./inspect.js');
    return listJobsPage(this.store, { state: filter.state ?? 'all', q: filter.q, cursor: filter.cursor, limit: filter.limit ?? 100, now: Date.now(), maxRetries });
  }

  /** Counts by state, the workers (alive or stale), every queue and every schedule, from file names alone. */
  async status(): Promise<Overview> {
    const { staleAfterMs } = await this.config();
    const { readOverview } = await import('./inspect.js');
    return readOverview(this.store, Date.now(), staleAfterMs);
  }

  /** Resolves when the jobs are completed or dead ('all': when nothing waits or runs), or on the time-out. */
  async wait(ids: string | readonly string[] | 'all', opts: WaitOptions = {}): Promise<WaitResult> {
    const { waitForJobs } = await import('./admin.js');
    const which = ids === 'all' ? 'all' : typeof ids === 'string' ? [ids] : [...ids];
    return waitForJobs(this.store, which, { timeoutMs: opts.timeoutMs ?? 0, onProgress: opts.onProgress });
  }

  /**
   * Cancels a job: a waiting one goes to dead/ as cancelled; a running one is killed by its worker first
   * (resolves once it is in dead/). Throws JobNotFoundError, or InputError for a finished job.
   */
  async cancel(id: string): Promise<CancelResult> {
    const c = await this.config();
    // Long enough for its worker to see the request (a heartbeat or three) and to kill the command.
    const timeoutMs = c.killGraceMs + c.heartbeatIntervalMs * 3 + 10_000;
    const { cancelJob } = await import('./admin.js');
    return cancelJob(this.store, id, { now: Date.now(), staleAfterMs: c.staleAfterMs, timeoutMs });
  }

  /** Moves a dead job back to pending/ with its attempts reset (the history is kept). */
  async retry(id: string): Promise<Job> {
    const { retryDead } = await import('./admin.js');
    return retryDead(this.store, id, Date.now());
  }

  /**
   * Starts workers in this process (as `worker start`); resolves once they claim. Stop them with
   * pool.stop('graceful') (finish what runs) or 'force' (kill it; back to pending without an attempt),
   * then await pool.done. They do not handle signals: that is the caller's to decide.
   */
  async startWorkers(opts: WorkerOptions = {}): Promise<WorkerPool> {
    const count = opts.count ?? 1;
    if (!Number.isInteger(count) || count < 1 || count > 256) throw new InputError(`Expected count to be an integer from 1 to 256, got ${count}`);
    const config = await this.config(opts.poll ? { poll: true } : {});
    // Loaded on first use: execa and chokidar stay out of programs that only enqueue.
    const { startWorkerPool } = await import('./pool.js');
    return startWorkerPool({ store: this.store, config, count, env: opts.env ?? this.options.env, onEvent: opts.onEvent ?? (() => {}), fault: opts.fault, queues: opts.queues });
  }
}

/** Opens (creating on first use) the root at the absolute path `root`. */
export async function openQueueAt(root: string, options: QueueOptions): Promise<Queue> {
  return new Queue(await openStore(root), options);
}
