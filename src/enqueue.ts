// Enqueue: validate every job, then commit the batch. A job becomes visible in pending/ only complete and
// fsynced; "Enqueued" may be printed once enqueueBatch returns.
//
// Per batch (the names are in lifecycle.ts):
//  1. validate all (createJob: the same check a claim makes); nothing is written on error;
//  2. write each job to tmp/enq~<tag>~<n>~<batch>~<id>, fsynced (a batch of GROUP_SYNC_MIN or more is
//     written without fsync and flushed by one syncfs in step 4);
//  3. reserve each id with link(2) into ids/; a taken id fails the whole batch, unless --if-absent;
//  4. THE COMMIT POINT (batches of two or more): tmp/commit~<tag>~<n>~<batch>, made durable with the
//     files. Before it, a crash or an error leaves nothing acknowledged: the reservations are released
//     (by this call, or by recovery once this process is gone). From it on, the batch is acknowledged as a
//     whole: nothing of it is ever taken back, and what this call could not publish (a kill -9, a full
//     folder: rename(2) into pending/ fails with ENOSPC when the folder needs a new block) is published by
//     recovery in any worker once this process is gone;
//  5. rename each file into pending/; fsync pending/ (or syncfs) and remove the commit file.

import { promises as fsp } from 'node:fs';
import { dirname } from 'node:path';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import { InputError, isErrno, QueuectlError } from './errors.js';
import { createJob, type Job, newJobId, serializeJob } from './job.js';
import { settleWaiters } from './dependencies.js';
import { processTag } from './identity.js';
import {
  abandonUncommitted, describeHolder, finishEnqueues, holderOf, linkDependency, markerPath, pendingName, publishSync, releaseOrphan,
  reserveIdSync, unlinkDependency, waitingName, writeCommitSync,
} from './lifecycle.js';
import { mapLimit, settleLimit } from './parallel.js';
import { fsyncDir, type Store, syncFilesystem, writeTmp, writeTmpSync } from './store.js';

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
  /** A job whose id is already used by a job (in any state) is skipped instead of failing the batch. */
  ifAbsent?: boolean;
  /** Called as the batch is written and published (for a progress line). */
  onProgress?: (done: number, total: number) => void;
  /**
   * Fault injection (torture suite, via QUEUECTL_FAULT): enqueue-after-write, enqueue-reserving (half the
   * ids reserved), enqueue-after-commit, enqueue-publishing (half the jobs published).
   */
  fault?: (point: string) => void;
}

export interface EnqueueReport {
  /** The jobs enqueued, as written (without those skipped by ifAbsent). */
  jobs: Job[];
  /** Ids skipped by ifAbsent: a job of that id exists. */
  existing: string[];
  /**
   * Jobs of this (committed) batch that are acknowledged but not yet visible in pending/ (a full
   * folder): recovery publishes them when there is room. 0 nearly always.
   */
  waiting: number;
  /** Jobs of the batch that went to dead/ at once: a job they wait for (`after`) is dead. */
  doomed: string[];
}

/** Files opened at once during a batch commit. */
const IN_FLIGHT = 64;
/** From this many jobs on, one syncfs is cheaper than one fsync per file. */
const GROUP_SYNC_MIN = 32;

interface Entry {
  job: Job;
  label: string;
  tmp: string;
}

/** Validates and durably enqueues a batch: all of it or none of it. Returns the jobs as written. */
export async function enqueueJobs(store: Store, inputs: EnqueueInput[], opts: EnqueueOptions): Promise<Job[]> {
  return (await enqueueBatch(store, inputs, opts)).jobs;
}

/** Validates and durably enqueues a batch (see the header). */
export async function enqueueBatch(store: Store, inputs: EnqueueInput[], opts: EnqueueOptions): Promise<EnqueueReport> {
  const jobs = validateAll(inputs, opts, store.foldsCase);
  checkDependencies(store, jobs, inputs);
  const batch = randomBytes(4).toString('hex');
  const group = jobs.length >= GROUP_SYNC_MIN;
  const entries: Entry[] = [];
  const reserved: Entry[] = [];
  let commit: string | null = null;
  try {
    await writeAll(store, jobs, inputs, batch, group, entries, opts);
    opts.fault?.('enqueue-after-write');
    const existing = await reserveAll(store, entries, reserved, opts);
    const publish = reserved;
    // Dependencies: linked before the commit (undone with the batch), so that a dependency finishing from
    // here on finds its waiter (lifecycle.ts: wait).
    for (const e of publish) for (const dep of e.job.after ?? []) linkDependency(store, dep, e.job.id);
    if (publish.length >= 2) commit = writeCommitSync(store, batch);
    await flushBeforePublish(store, publish, group, commit !== null);
    opts.fault?.('enqueue-after-commit');
    const published = publishAll(store, publish, commit !== null, opts);
    if (published < publish.length) {
      // Committed (only a committed batch gets here with a failure): acknowledged whole, published later.
      return { jobs: publish.map((e) => e.job), existing, waiting: publish.length - published, doomed: [] };
    }
    await flushAfterPublish(store, publish, group);
    if (commit) fs.rmSync(commit, { force: true });
    // A dependency may have finished between the links and the publish: settle what waits now.
    const waiters = publish.filter((e) => e.job.after?.length).map((e) => e.job.id);
    const doomed = waiters.length ? settleWaiters(store, waiters, { now: Date.now(), owner: processTag().text }).doomed : [];
    return { jobs: publish.map((e) => e.job), existing, waiting: 0, doomed };
  } catch (err) {
    // Not committed (or committed but nothing published yet, and the commit taken back first): nothing
    // of the batch is visible, so all of it is undone.
    if (commit) fs.rmSync(commit, { force: true });
    for (const e of reserved) for (const dep of e.job.after ?? []) unlinkDependency(store, dep, e.job.id);
    abandonUncommitted(store, reserved.map((e) => ({ id: e.job.id, tmp: e.tmp })));
    await settleLimit(entries, IN_FLIGHT, (e) => fsp.unlink(e.tmp));
    throw describeWriteError(err, store.root);
  }
}

function validateAll(inputs: EnqueueInput[], opts: EnqueueOptions, foldsCase: boolean): Job[] {
  if (inputs.length === 0) throw new InputError('Nothing to enqueue: expected at least one job');
  const newId = () => newJobId(opts.now);
  const jobs = inputs.map((input) => createJob(input.spec, input.label, opts.now, { maxRetries: opts.maxRetries, cwd: opts.cwd }, newId));
  // On a root whose filesystem ignores case, Job1 and job1 are the same id.
  const seen = new Map<string, { label: string; id: string }>();
  jobs.forEach((job, i) => {
    const key = foldsCase ? job.id.toLowerCase() : job.id;
    const first = seen.get(key);
    if (first) {
      const as = first.id === job.id ? '' : ` as "${first.id}"; this root's filesystem ignores case in names`;
      throw new InputError(`${inputs[i].label}: duplicate id "${job.id}" (also used by ${first.label} of this batch${as})`);
    }
    seen.set(key, { label: inputs[i].label, id: job.id });
  });
  return jobs;
}

/**
 * Every job named in `after` must exist (in any state) or come earlier in the same batch: so there are no
 * cycles, and a typo is an error now, not a job that waits for ever.
 */
function checkDependencies(store: Store, jobs: Job[], inputs: EnqueueInput[]): void {
  const earlier = new Set<string>();
  const known = new Map<string, boolean>();
  jobs.forEach((job, i) => {
    for (const dep of job.after ?? []) {
      if (earlier.has(dep)) continue;
      let exists = known.get(dep);
      if (exists === undefined) known.set(dep, (exists = fs.existsSync(markerPath(store, dep))));
      if (!exists) {
        const later = jobs.slice(i + 1).some((j) => j.id === dep);
        throw new InputError(`${inputs[i].label}: field "after" names "${dep}", which is ${later ? 'later in this batch (a job may wait only for jobs that exist, or come before it in the batch)' : 'not a job; a job may wait only for jobs that exist'}`);
      }
    }
    earlier.add(job.id);
  });
}

/** Step 2: every job into tmp/, fsynced each (small batch) or not (a group, flushed by syncfs later). */
async function writeAll(store: Store, jobs: Job[], inputs: EnqueueInput[], batch: string, group: boolean, entries: Entry[], opts: EnqueueOptions): Promise<void> {
  if (!group) {
    const written = await settleLimit(jobs, IN_FLIGHT, (job) => writeTmp(store, 'enq', serializeJob(job), true, `${batch}~${job.id}`));
    written.forEach((w, i) => {
      if (w.status === 'fulfilled') entries.push({ job: jobs[i], label: inputs[i].label, tmp: w.value }); // all, for the rollback
    });
    const failed = written.find((w) => w.status === 'rejected');
    if (failed) throw (failed as PromiseRejectedResult).reason;
    return;
  }
  // Synchronous calls: each a few microseconds on a local disk, where a promise-based call costs ~100 us.
  for (let i = 0; i < jobs.length; i++) {
    entries.push({ job: jobs[i], label: inputs[i].label, tmp: writeTmpSync(store, 'enq', serializeJob(jobs[i]), `${batch}~${jobs[i].id}`) });
    if (i % 1000 === 999) opts.onProgress?.(i + 1, jobs.length * 2);
  }
}

/**
 * Step 3: reserves every id with link(2). A taken id is first checked for an orphan (the reservation of an
 * enqueue that died before its commit: released, then taken again); otherwise it fails the batch naming
 * the job and what holds the id, or is skipped with ifAbsent when a job holds it. Returns the skipped ids.
 */
async function reserveAll(store: Store, entries: Entry[], reserved: Entry[], opts: EnqueueOptions): Promise<string[]> {
  const existing: string[] = [];
  let swept = false;
  for (const e of entries) {
    if (reserved.length === Math.floor(entries.length / 2)) opts.fault?.('enqueue-reserving');
    if (reserveIdSync(store, e.job.id, e.tmp)) {
      reserved.push(e);
      continue;
    }
    if (!swept) {
      // One pass over tmp/ releases every reservation of dead enqueue processes (uncommitted batches).
      swept = true;
      await finishEnqueues(store, Date.now());
    }
    if (reserveIdSync(store, e.job.id, e.tmp) || ((await releaseOrphan(store, e.job.id, Date.now())) && reserveIdSync(store, e.job.id, e.tmp))) {
      reserved.push(e);
      continue;
    }
    const holder = await holderOf(store, e.job.id, Date.now());
    if (opts.ifAbsent && holder.kind === 'job') {
      existing.push(e.job.id);
      await fsp.unlink(e.tmp).catch(() => {});
      continue;
    }
    throw new InputError(`${e.label}: id "${e.job.id}" is already used by ${describeHolder(holder)}; ids are unique across all states`);
  }
  return existing;
}

/** Before the first rename: the files, the reservations and the commit are durable. */
async function flushBeforePublish(store: Store, publish: Entry[], group: boolean, committed: boolean): Promise<void> {
  if (group) {
    if (!(await syncFilesystem(store.tmp))) {
      await mapLimit(publish, IN_FLIGHT, async (e) => {
        const fh = await fsp.open(e.tmp, 'r+');
        await fh.sync().finally(() => fh.close());
      });
      await fsyncDir(store.tmp);
    }
  } else if (committed) {
    await fsyncDir(store.tmp);
  }
}

/**
 * Step 5, the renames. Returns how many were published. A failure before the commit (a single job) or
 * before the first rename throws (nothing is visible, the caller undoes it); after it, publishing stops
 * and the rest waits for recovery.
 */
function publishAll(store: Store, publish: Entry[], committed: boolean, opts: EnqueueOptions): number {
  let done = 0;
  for (const e of publish) {
    if (done === Math.floor(publish.length / 2)) opts.fault?.('enqueue-publishing');
    try {
      if (e.job.after?.length) publishSync(store, e.tmp, waitingName(e.job), 'waiting');
      else publishSync(store, e.tmp, pendingName(e.job));
    } catch (err) {
      if (!committed || done === 0) throw err;
      return done;
    }
    done++;
    if (done % 1000 === 0) opts.onProgress?.(publish.length + done, publish.length * 2);
  }
  return done;
}

/** After the renames: pending/ and the id shards touched are durable before "Enqueued" is printed. */
async function flushAfterPublish(store: Store, publish: Entry[], group: boolean): Promise<void> {
  if (publish.length === 0) return;
  if (group && (await syncFilesystem(store.pending))) return;
  const dirs = new Set([store.pending, ...publish.map((e) => dirname(markerPath(store, e.job.id)))]);
  await mapLimit([...dirs], IN_FLIGHT, fsyncDir);
}

/** Turns ENOSPC and friends into a message that says what happened to the batch. */
function describeWriteError(err: unknown, root: string): unknown {
  const code = (err as NodeJS.ErrnoException)?.code;
  if (code === 'ENOSPC') return new QueuectlError(`No space left on device on the filesystem of the queue root ${root}; nothing was enqueued`, 'ENOSPC', { cause: err });
  if (code === 'EDQUOT') return new QueuectlError('Disk quota exceeded; nothing was enqueued', 'EDQUOT', { cause: err });
  if (isErrno(err, 'EROFS')) return new QueuectlError('The queue root is on a read-only filesystem; nothing was enqueued', 'EROFS', { cause: err });
  return err;
}
