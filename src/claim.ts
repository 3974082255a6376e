// Claims and the moves out of processing/. Every move of a claimed job starts with one rename of the
// claimed file (the fence): if the claim was taken away (a reaper judged the worker dead), that rename
// fails with ENOENT and the worker walks away without touching anything.
//
//  claim     pending/<name>            -> processing/<name>~<worker>~<seq>.json        (ENOENT: lost the race)
//  complete  the final record is written as processing/.<claim>.final (the intent), then
//            processing/<claim> -> completed/<hour>/<id>.json (the fence), then the intent over it
//  bury      the same, to dead/<id>.json
//            A crash between the steps leaves the intent beside the claim: recovery finishes the move
//            with it (the command's outcome is not lost and the job does not run again), or removes it
//            when the claim was taken over.
//  requeue   processing/<claim>        -> pending/.stage~<owner>~<name> (hidden), the new record over it,
//            then renamed to pending/<name>: a retry is never visible with its old record, and a crash
//            leaves a stage file that the reaper publishes once its owner is stale.
//  quarantine processing/<claim>       -> quarantine/<original name>.<time>, reason in <that>.reason
//
// completed/ and dead/ files are overwritten in place after the fence: nothing else writes there
// (dlq retry moves a dead job only once its record is final or its writer is stale).
// Readers may see, for microseconds, the record from before the run in completed/ or dead/; the folder
// is the state.
//
// The claim and the moves of a finished job use synchronous calls on purpose: they are a few
// microseconds each on a local filesystem, while each promise-based fs call costs ~100 us of CPU in
// thread-pool hand-offs, and a short job's whole run is about 2 ms. The rare paths stay async.

import * as fs from 'node:fs';
import { promises as fsp } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { isErrno } from './errors.js';
import { type Job, pendingName } from './job.js';
import { claimName, completedPath, completedShard, DIR_MODE, deadPath, ensureRealDir, FILE_MODE, idShard, jobData, type Store, tmpPath, writeFileDurable, writeTmp } from './store.js';

/**
 * Fault injection for the torture suite: called at each named step of a move. The CLI wires it to
 * QUEUECTL_FAULT (the worker SIGKILLs itself at that step); elsewhere it is a no-op.
 */
export type FaultHook = (point: string) => void;
const noFault: FaultHook = () => {};

/** Renames pending/<name> into processing/ for `worker`. Returns the claimed path, or null if another worker won. */
export function claimFile(store: Store, name: string, worker: string, seq: number): string | null {
  const to = join(store.processing, claimName(name, worker, seq));
  try {
    fs.renameSync(join(store.pending, name), to);
    return to;
  } catch (err) {
    if (isErrno(err, 'ENOENT')) return null;
    throw err;
  }
}

/** Prefix of a staged file in pending/: hidden from workers until it is renamed to its real name. */
export const STAGE_PREFIX = '.stage~';

/** pending/.stage~<owner>~<name>; owner is a worker id or an admin tag. */
export function stageName(owner: string, name: string): string {
  return `${STAGE_PREFIX}${owner}~${name}`;
}

export function parseStageName(file: string): { owner: string; name: string } | null {
  if (!file.startsWith(STAGE_PREFIX)) return null;
  const rest = file.slice(STAGE_PREFIX.length);
  const t = rest.indexOf('~');
  return t > 0 ? { owner: rest.slice(0, t), name: rest.slice(t + 1) } : null;
}

/**
 * Moves the file at `from` (a claim, or a dead job) back to pending/ with `job` as its new record.
 * Returns false, having changed nothing, when `from` is gone (the fence).
 */
export async function requeue(store: Store, from: string, job: Job, owner: string, fault = noFault): Promise<boolean> {
  const name = pendingName(job);
  const tmp = await writeTmp(store, `requeue.${job.id}`, jobData(job));
  fault('requeue-before-fence');
  const stage = join(store.pending, stageName(owner, name));
  try {
    await fsp.rename(from, stage);
  } catch (err) {
    await fsp.unlink(tmp).catch(() => {});
    if (isErrno(err, 'ENOENT')) return false;
    throw err;
  }
  fault('requeue-after-fence');
  await fsp.rename(tmp, stage);
  fault('requeue-before-publish');
  await fsp.rename(stage, join(store.pending, name));
  fault('requeue-after-publish');
  return true;
}

const knownShards = new Set<string>();

/** Moves a claim to completed/<hour>/<id>.json and writes its final record. False when fenced out. */
export function complete(store: Store, claimPath: string, job: Job, now: number, fault = noFault): boolean {
  const shard = completedShard(now);
  const dest = completedPath(store, shard, job.id);
  if (!knownShards.has(shard)) {
    ensureRealDir(join(store.completed, shard));
    knownShards.add(shard);
  }
  return finishMove(store, claimPath, dest, job, 'complete', fault, () => {
    // The shard may have been removed by retention in another process: make it once more.
    knownShards.delete(shard);
    fs.mkdirSync(join(store.completed, shard), { recursive: true, mode: DIR_MODE });
  });
}

/** Moves a claim to dead/<id>.json with its final record. False when fenced out. */
export function bury(store: Store, claimPath: string, job: Job, fault = noFault): boolean {
  return finishMove(store, claimPath, deadPath(store, job.id), job, 'bury', fault);
}

/** processing/.<claim>.final: the final record of a claim, written before the fence. */
export function intentPath(claimPath: string): string {
  return join(dirname(claimPath), `.${basename(claimPath)}.final`);
}

/** The claim file an intent belongs to, or null for any other name. */
export function claimOfIntent(file: string): string | null {
  return file.startsWith('.') && file.endsWith('.json.final') ? file.slice(1, -'.final'.length) : null;
}

/** Where a finished record goes: completed/<hour of finished_at>/<id>.json or dead/<id>.json. */
export function finishedPath(store: Store, job: Job): string {
  return job.state === 'completed'
    ? completedPath(store, completedShard(Date.parse(job.finished_at ?? job.updated_at)), job.id)
    : deadPath(store, job.id);
}

/**
 * Recovery of an intent left by a worker that died: finishes its move if the claim is still there,
 * repairs the record if the move was done but the record not written, and drops the intent if the
 * claim was taken over (its job went elsewhere). Returns what it did.
 */
export async function resolveIntent(store: Store, claimPath: string): Promise<{ did: 'finished' | 'repaired' | 'dropped'; job: Job } | null> {
  const intent = intentPath(claimPath);
  let job: Job;
  try {
    job = JSON.parse(await fsp.readFile(intent, 'utf8')) as Job;
  } catch (err) {
    if (isErrno(err, 'ENOENT')) return null;
    await fsp.rm(intent, { force: true }); // not a whole record: the claim is recovered as lost instead
    return null;
  }
  const dest = finishedPath(store, job);
  if (fs.existsSync(claimPath)) {
    ensureRealDir(dirname(dest));
    if (fence(claimPath, dest)) {
      fs.renameSync(intent, dest);
      return { did: 'finished', job };
    }
  }
  const current = await fsp.readFile(dest, 'utf8').then((t) => JSON.parse(t) as Job, () => null);
  if (current && current.id === job.id && !current.finished_at) {
    fs.renameSync(intent, dest);
    return { did: 'repaired', job };
  }
  await fsp.rm(intent, { force: true });
  return { did: 'dropped', job };
}

function finishMove(store: Store, claimPath: string, dest: string, job: Job, step: 'complete' | 'bury', fault: FaultHook, onMissingDir?: () => void): boolean {
  const intent = intentPath(claimPath);
  const tmp = tmpPath(store, `final.${job.id}`);
  fs.writeFileSync(tmp, jobData(job), { mode: FILE_MODE, flag: 'wx' });
  fs.renameSync(tmp, intent);
  fault(`${step}-before-fence`);
  let moved = fence(claimPath, dest);
  if (!moved && onMissingDir && fs.existsSync(claimPath)) {
    onMissingDir();
    moved = fence(claimPath, dest);
  }
  if (!moved) {
    fs.rmSync(intent, { force: true });
    return false;
  }
  fault(`${step}-after-fence`);
  try {
    fs.renameSync(intent, dest);
  } catch (err) {
    throw new RecordWriteError(dest, job, err);
  }
  fault(`${step}-after-write`);
  return true;
}

/** Moves an unreadable file out of the way, never deleting it, with the reason beside it. */
export async function quarantine(store: Store, from: string, originalName: string, reason: string, now: number): Promise<string | null> {
  // Keep names well under NAME_MAX (255) with the suffixes added here; the reason names the original.
  const short = originalName.length > 200 ? `${originalName.slice(0, 160)}...${idShard(originalName)}` : originalName;
  const base = `${short}.${now}`;
  if (short !== originalName) reason = `${reason}\n(original name: ${originalName})`;
  const dest = join(store.quarantine, base);
  try {
    await fsp.rename(from, dest);
  } catch (err) {
    if (isErrno(err, 'ENOENT')) return null;
    throw err;
  }
  await writeFileDurable(store, `${dest}.reason`, `${reason}\n`).catch(() => {});
  return dest;
}

function fence(from: string, to: string): boolean {
  try {
    fs.renameSync(from, to);
    return true;
  } catch (err) {
    if (isErrno(err, 'ENOENT')) return false;
    throw err;
  }
}

/**
 * The job was moved (to completed/ or dead/) but its final record could not be written (a full disk):
 * the caller keeps the record and tries rewriteFinished again later. The move itself stands.
 */
export class RecordWriteError extends Error {
  constructor(readonly dest: string, readonly job: Job, cause: unknown) {
    super(`${dest}: cannot write the final record: ${(cause as Error).message}`, { cause });
    this.name = 'RecordWriteError';
  }
}

/** Writes the final record of a job already in completed/ or dead/ (after a RecordWriteError). */
export function rewriteFinished(store: Store, dest: string, job: Job): void {
  overwrite(store, dest, job);
}

/**
 * Replaces a finished job's record. Not fsynced: if a crash loses it, the file in completed/ or dead/
 * still holds the job (the folder is the state) with its record from before the last attempt.
 */
function overwrite(store: Store, dest: string, job: Job): void {
  const tmp = tmpPath(store, `final.${job.id}`);
  try {
    fs.writeFileSync(tmp, jobData(job), { mode: FILE_MODE, flag: 'wx' });
    fs.renameSync(tmp, dest);
  } catch (err) {
    fs.rmSync(tmp, { force: true });
    throw err;
  }
}
