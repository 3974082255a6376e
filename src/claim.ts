// Claims and the moves out of processing/. Every move of a claimed job starts with one rename of the
// claimed file (the fence): if the claim was taken away (a reaper judged the worker dead), that rename
// fails with ENOENT and the worker walks away without touching anything.
//
//  claim     pending/<name>            -> processing/<name>~<worker>~<seq>.json        (ENOENT: lost the race)
//  complete  processing/<claim>        -> completed/<hour>/<id>.json, then the final record over it
//  bury      processing/<claim>        -> dead/<id>.json, then the final record over it
//  requeue   processing/<claim>        -> pending/.stage~<owner>~<name> (hidden), the new record over it,
//            then renamed to pending/<name>: a retry is never visible with its old record, and a crash
//            leaves a stage file that the reaper publishes once its owner is stale.
//  quarantine processing/<claim>       -> quarantine/<original name>.<time>, reason in <that>.reason
//
// completed/ and dead/ files are overwritten in place after the fence: nothing else writes there
// (dlq retry moves a dead job only once its record is final or its writer is stale).
//
// The claim and the moves of a finished job use synchronous calls on purpose: they are a few
// microseconds each on a local filesystem, while each promise-based fs call costs ~100 us of CPU in
// thread-pool hand-offs, and a short job's whole run is about 2 ms. The rare paths stay async.

import * as fs from 'node:fs';
import { promises as fsp } from 'node:fs';
import { join } from 'node:path';
import { isErrno } from './errors.js';
import { type Job, pendingName } from './job.js';
import { claimName, completedPath, completedShard, DIR_MODE, deadPath, FILE_MODE, jobData, type Store, tmpPath, writeFileDurable, writeTmp } from './store.js';

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
  fault('complete-before-fence');
  if (!knownShards.has(shard)) {
    fs.mkdirSync(join(store.completed, shard), { recursive: true, mode: DIR_MODE });
    knownShards.add(shard);
  }
  if (!fence(claimPath, dest)) {
    // The shard may have been removed by retention in another process: make it and try once more.
    knownShards.delete(shard);
    fs.mkdirSync(join(store.completed, shard), { recursive: true, mode: DIR_MODE });
    if (!fence(claimPath, dest)) return false;
  }
  fault('complete-after-fence');
  overwrite(store, dest, job);
  fault('complete-after-write');
  return true;
}

/** Moves a claim to dead/<id>.json and writes its final record. False when fenced out. */
export function bury(store: Store, claimPath: string, job: Job, fault = noFault): boolean {
  const dest = deadPath(store, job.id);
  fault('bury-before-fence');
  if (!fence(claimPath, dest)) return false;
  fault('bury-after-fence');
  overwrite(store, dest, job);
  fault('bury-after-write');
  return true;
}

/** Moves an unreadable file out of the way, never deleting it, with the reason beside it. */
export async function quarantine(store: Store, from: string, originalName: string, reason: string, now: number): Promise<string | null> {
  const base = `${originalName}.${now}`;
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
 * Replaces a finished job's record. Not fsynced: if a crash loses it, the file in completed/ or dead/
 * still holds the job (the folder is the state) with its record from before the last attempt.
 */
function overwrite(store: Store, dest: string, job: Job): void {
  const tmp = tmpPath(store, `final.${job.id}`);
  fs.writeFileSync(tmp, jobData(job), { mode: FILE_MODE, flag: 'wx' });
  fs.renameSync(tmp, dest);
}
