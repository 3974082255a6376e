// The package's entry for programs: `import { openQueue } from 'queuectl'`. Like src/cli/index.ts for the
// command line, this is the boundary with the caller's process: openQueue fills the defaults a program
// expects from it (its working directory for jobs that name none, its environment for the jobs of workers
// started in it), then everything is the Queue of api.ts, which the CLI uses too. The types come with it
// (dist/index.d.ts), and so do the JSON Schemas of the queue folder (queuectl/schema/*.schema.json).

import { resolve } from 'node:path';
import { openQueueAt, type Queue, type QueueOptions } from './api.js';
import { FORMAT_MARKER } from './store.js';

export interface OpenQueueOptions {
  /** Working directory of jobs that do not name one. Default: process.cwd() now; null: the worker's own. */
  cwd?: string | null;
  /** The environment jobs of workers started here begin from. Default: process.env when they start. */
  env?: Record<string, string | undefined>;
}

/**
 * Opens the queue root `root` (a relative path is resolved against process.cwd()), creating it on first
 * use, as the CLI does with --root. Refuses a root owned by another user, writable by group or others,
 * of another format version, or with folders that are symlinks or on other filesystems (RootError).
 */
export async function openQueue(root: string, options: OpenQueueOptions = {}): Promise<Queue> {
  if (typeof root !== 'string' || root === '') throw new TypeError('openQueue(root): expected the path of a queue root');
  const opts: QueueOptions = {
    cwd: options.cwd === undefined ? process.cwd() : options.cwd,
    // A getter, so that workers started later begin from the environment as it is then.
    get env() {
      return options.env ?? { ...process.env };
    },
  };
  return openQueueAt(resolve(root), opts);
}

export type { EnqueueCallOptions, Queue, JobSpec, JobSpecFields, ListFilter, QueueOptions, WaitOptions, WorkerOptions } from './api.js';
export type { CancelResult, WaitProgress, WaitResult } from './admin.js';
export type { Config } from './config.js';
export type { EnqueueInput, EnqueueReport } from './enqueue.js';
export { InputError, JobNotFoundError, QueuectlError, RootError } from './errors.js';
export type { Counts, Overview, StatusReport, WorkerView } from './inspect.js';
export { DISPLAY_STATES, displayState, type DisplayState, type JobsPage, type ListState } from './listing.js';
export type { Attempt, AttemptReason, Job, JobState } from './job.js';
export type { StopMode, WorkerEvent, WorkerPool } from './pool.js';

/** The version of the queue folder's format (the root's `format` file, the schemas' $id). */
export const FORMAT_VERSION: number = Number(/^queuectl-queue (\d+)$/.exec(FORMAT_MARKER.trim())![1]);
