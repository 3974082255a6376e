// Enqueue: validate every job, then commit the batch as a group. A job becomes visible in pending/ only
// complete and fsynced; "Enqueued" may be printed once enqueueJobs returns.
//
// Order per batch: (1) validate all, nothing written on error; (2) write each job to tmp/ and fsync,
// concurrently (a batch of GROUP_SYNC_MIN or more writes without fsync, then flushes the filesystem with
// one syncfs); (3) reserve each id with link(2) into ids/, failing the whole batch on a taken id;
// (4) rename each file into pending/; (5) fsync pending/ and the ids/ shards touched, once each.

import * as fs from 'node:fs';
import { promises as fsp } from 'node:fs';
import { dirname, join } from 'node:path';
import { InputError, QueuectlError } from './errors.js';
import { createJob, type Job, newJobId, pendingName } from './job.js';
import { mapLimit, settleLimit } from './parallel.js';
import { fsyncDir, idMarkerPath, jobData, locateJob, reserveId, type Store, syncFilesystem, writeTmp, writeTmpSync } from './store.js';

/** One job spec to enqueue and how to name it in errors ("line 3", "job 2", "argument"). */
export interface EnqueueInput {
  spec: unknown;
  label: string;
}

export interface EnqueueOptions {
  now: number;
  maxRetries: number;
  /** Default working directory for jobs that do not name one. */
  cwd: string | null;
  /** Called as a big batch is written (jobs written so far, batch size), for a progress display. */
  onProgress?: (done: number, total: number) => void;
}

/** Files opened at once during a batch commit. */
const IN_FLIGHT = 64;
/** From this many jobs on, one syncfs is cheaper than one fsync per file. */
const GROUP_SYNC_MIN = 32;

/** Validates and durably enqueues a batch: all of it or none of it. Returns the jobs as written. */
export async function enqueueJobs(store: Store, inputs: EnqueueInput[], opts: EnqueueOptions): Promise<Job[]> {
  if (inputs.length === 0) throw new InputError('Nothing to enqueue: expected at least one job');
  const newId = () => newJobId(opts.now);
  const jobs = inputs.map((input) => createJob(input.spec, input.label, opts.now, { maxRetries: opts.maxRetries, cwd: opts.cwd }, newId));

  const seen = new Map<string, string>();
  jobs.forEach((job, i) => {
    const first = seen.get(job.id);
    if (first) throw new InputError(`${inputs[i].label}: duplicate id "${job.id}" (also used by ${first} of this batch)`);
    seen.set(job.id, inputs[i].label);
  });

  const tmps: string[] = [];
  const reserved: string[] = [];
  try {
    if (jobs.length < GROUP_SYNC_MIN) {
      // A few jobs: fsync each file and the folders they land in.
      const written = await settleLimit(jobs, IN_FLIGHT, (job) => writeTmp(store, `enqueue.${job.id}`, jobData(job)));
      for (const w of written) if (w.status === 'fulfilled') tmps.push(w.value); // all of them, for the rollback
      const failed = written.find((w) => w.status === 'rejected');
      if (failed) throw (failed as PromiseRejectedResult).reason;
      await reserveAll(store, jobs, inputs, tmps, reserved);
      await mapLimit(jobs, IN_FLIGHT, (job, i) => fsp.rename(tmps[i], join(store.pending, pendingName(job))));
      tmps.length = 0;
      const dirs = new Set([store.pending, ...jobs.map((j) => dirname(idMarkerPath(store, j.id)))]);
      await mapLimit([...dirs], IN_FLIGHT, fsyncDir);
      return jobs;
    }
    // A batch: synchronous calls (each a few microseconds on a local disk, where a promise-based call
    // costs ~100 us of CPU), no per-file fsync, and two syncfs: one makes the files durable before any
    // becomes visible, the other makes the renames durable before "Enqueued" is printed.
    for (const job of jobs) {
      tmps.push(writeTmpSync(store, `enqueue.${job.id}`, jobData(job)));
      opts.onProgress?.(tmps.length, jobs.length);
    }
    await syncOrFsyncEach(store, tmps);
    await reserveAll(store, jobs, inputs, tmps, reserved);
    jobs.forEach((job, i) => fs.renameSync(tmps[i], join(store.pending, pendingName(job))));
    tmps.length = 0;
    if (!(await syncFilesystem(store.pending))) {
      const dirs = new Set([store.pending, ...jobs.map((j) => dirname(idMarkerPath(store, j.id)))]);
      await mapLimit([...dirs], IN_FLIGHT, fsyncDir);
    }
    return jobs;
  } catch (err) {
    await rollback(store, tmps, reserved);
    throw describeWriteError(err);
  }
}

/** Reserves every id with link(2); a taken id fails the whole batch, naming the job and where the id is used. */
async function reserveAll(store: Store, jobs: Job[], inputs: EnqueueInput[], tmps: string[], reserved: string[]): Promise<void> {
  const taken = await settleLimit(jobs, IN_FLIGHT, async (job, i) => {
    if (!(await reserveId(store, job.id, tmps[i]))) return false;
    reserved.push(job.id);
    return true;
  });
  const failure = taken.find((r) => r.status === 'rejected');
  if (failure) throw (failure as PromiseRejectedResult).reason;
  const dup = taken.findIndex((r) => r.status === 'fulfilled' && !r.value);
  if (dup >= 0) {
    const where = await locateJob(store, jobs[dup].id).catch(() => null);
    throw new InputError(`${inputs[dup].label}: id "${jobs[dup].id}" is already used by a job${where ? ` (${where.state})` : ''}; ids are unique across all states`);
  }
}

/** Makes the files durable: one syncfs, or an fsync per file where syncfs is not available. */
async function syncOrFsyncEach(store: Store, paths: string[]): Promise<void> {
  if (await syncFilesystem(store.tmp)) return;
  await mapLimit(paths, IN_FLIGHT, async (p) => {
    const fh = await fsp.open(p, 'r+');
    await fh.sync().finally(() => fh.close());
  });
}

/** Undoes a failed batch: nothing of it may stay visible or keep its ids taken. */
async function rollback(store: Store, tmps: string[], reserved: string[]): Promise<void> {
  await settleLimit(tmps, IN_FLIGHT, (p) => fsp.unlink(p));
  await settleLimit(reserved, IN_FLIGHT, (id) => fsp.unlink(idMarkerPath(store, id)));
}

/** Turns ENOSPC and friends into a message that says what happened to the batch. */
function describeWriteError(err: unknown): unknown {
  const code = (err as NodeJS.ErrnoException)?.code;
  if (code === 'ENOSPC') return new QueuectlError(`No space left on device (${(err as NodeJS.ErrnoException).path ?? 'queue root'}); nothing was enqueued`, 'ENOSPC', { cause: err });
  if (code === 'EDQUOT') return new QueuectlError('Disk quota exceeded; nothing was enqueued', 'EDQUOT', { cause: err });
  return err;
}
