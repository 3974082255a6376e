// The job lifecycle: every name a job file can have and every move of one. Nothing else renames, links or
// unlinks a job file (store.ts writes files through tmp/; retention.ts deletes finished ones).
//
// FOLDERS AND NAMES (the folder is the state; names are the index: nothing is opened to choose a job)
//   pending/<at:13>-<prio+1000:4>-<attempts:3>-[<queue>@]<id>.json   a job waiting; sorted names are
//                                                          the schedule (no queue part: the default queue)
//   pending/<anything else>.json                           a file a producer dropped: taken in by intake
//   pending/.stage~<owner>~<pending name>/job             a job on its way back to pending/ (hidden)
//   pending/.intake~<owner>~<pending name>/job            a dropped file being taken in (hidden)
//             (a stage is a folder: the mover's workspace. Once recovery renames it away, every later
//             step of the mover names a path that no longer exists, so a worker frozen mid-move and woken
//             up later cannot put a second copy anywhere.)
//   waiting/[<queue>@]<id>.json                           a job whose dependencies (`after`) are not done
//   deps/<dependency id>/<waiting job id>                  "this job waits for that one" (an empty file)
//   processing/<pending name minus .json>~<worker>~<seq>.json   a claim: the job runs (or is taken in)
//   processing/.<claim>.final                              the final record of a claim, before its move
//   completed/<YYYYMMDDHH>/<id>.json, dead/<id>.json       finished jobs (hour of finish, UTC)
//   quarantine/<name>.<ms> + <that>.reason                 what could not be read as a job, never deleted
//   ids/<xx>/<id>                                          the id is taken: a hard link to its first record
//   workers/<worker>.stop, workers/<worker>.cancel         requests to a worker (written whole, taken by rename)
//   queues/<queue>.running/<claim name>                    a run admitted under its queue's limit
//   tmp/enq~<tag>~<n>~<batch>~<id>                         a job being enqueued (its id is linked to it)
//   tmp/commit~<tag>~<n>~<batch>                           that batch is committed: publish it, never undo it
// An owner is a worker id (w + 10 base-36, judged by its heartbeat) or a process tag (identity.ts).
//
// MOVES (each is fenced: it starts with a rename of the file the mover owns; ENOENT means someone else
// moved it first, and the mover walks away having changed nothing)
//   enqueue   tmp/enq.. (fsynced) -link-> ids/<id>; [commit]; -rename-> pending/<name>; [commit removed]
//   claim     pending/<name> -> processing/<claim>                                     (ENOENT: lost race)
//   intake    claim of a dropped file; record written to tmp/ and its id linked; claim -> .intake~../job
//             (the fence); record renamed over it; it -> pending/<name>; the empty stage removed
//   adopt     claim of a file dropped under a queuectl name, already the job intake would make of it:
//             the claim itself -link-> ids/<id> (EEXIST: intake decides); it runs from its claim
//   complete  record -> processing/.<claim>.final (the intent); claim -> completed/<hour>/<id>.json (the
//             fence); intent renamed over it.   bury: the same to dead/<id>.json
//   requeue   record -> tmp/; claim (or dead/<id>.json) -> .stage~../job (the fence); record renamed
//             over it; it -> pending/<name>; the empty stage removed
//   quarantine  claim (or any file of the mover's) -> quarantine/<name>.<ms>; reason written beside it
//   release   quarantine/<x> -link-> pending/<name> (never replacing a file), then unlinked
//   wait      enqueue links deps/<d>/<id> for each dependency d first, then publishes into waiting/
//   unwait    waiting/<name> -> pending/<name> once its linked dependencies completed; its links go
//             after the move (a job in waiting/ always keeps a link: links are how it is found)
//   doom      a dependency ended dead (or a cancel): waiting/<name> -> waiting/.doom~<owner>~<name>
//             (the fence), the dead record written over it, -> dead/<id>.json; its links go after the
//             move, so nobody releases it meanwhile. Two processes settling one job at once: one fence
//             wins, the other leaves it.
//
// WHAT A CRASH BETWEEN TWO STEPS LEAVES, AND WHO FINISHES IT (recovery.ts, once the owner is dead)
//   enqueue, before the commit        enq files and their id links: released (no job was acknowledged)
//   enqueue, after the commit         the rest of the batch in tmp/: published (the batch was acknowledged)
//   claim done, nothing else          a stale claim: a lost run (worker-lost), back to pending or dead
//   intake, before the fence          a stale claim of a dropped file: recovery takes it in itself
//   adopt, before the link            the same: a stale claim with no marker, taken in by recovery
//   adopt, after the link             a stale claim with its marker: a lost run, like any claim
//   intake, after the fence           an .intake stage: a record is published; the producer's bytes are
//                                     taken in (the id in the stage name is already reserved for them)
//   complete/bury, intent written     intent beside the claim: the move is finished with it (no rerun)
//   complete/bury, after the fence    the intent over the old record: the final record is put in place
//   requeue, after the fence          a stage with the old record: the lost run is counted, then published
//   requeue, record in the stage      a stage with the new record: published
//   a dependency finished, its waiters not yet settled   deps/<d>/ with d finished: recovery settles them
//   unwait done, links not dropped    links of a completed d whose waiter left waiting/: recovery drops them
//   a waiting job with no link left   (an older queuectl) recovery judges it by its dependencies' states
//   doom, after its fence             waiting/.doom~<owner>~<name>: recovery moves it to dead/
//   any move, stage empty             removed
// Recovery takes a dead owner's stage by renaming it to a stage of its own (the fence), then finishes it.
// Moves that must not replace a file whose name another process can pick use link + unlink: rename(2)
// silently replaces its target.

import * as fs from 'node:fs';
import { promises as fsp } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { isErrno } from './errors.js';
import { parseProcessTag, processTag, tagLiveness } from './identity.js';
import { assertValidId, createJob, DEFAULT_QUEUE, idFromFileName, queueOf, type Job, type JobDefaults, type JobState, newJobId, parseStoredJob, recordProblem, serializeJob } from './job.js';
import {
  completedShard, DIR_MODE, ensureRealDir, forgetRealDir, listCompletedShards, listJsonNames, parseTmpName, readJobFileSync,
  replaceFileSync, shardOf, sizeProblem, type Store, tmpPath, withSubject, writeFileDurable, writeTmp, writeTmpDurableSync,
} from './store.js';

/**
 * Fault injection for the torture suite: called at each named step of a move. The CLI wires it to
 * QUEUECTL_FAULT (the worker SIGKILLs or SIGSTOPs itself at that step); elsewhere it is a no-op.
 */
export type FaultHook = (point: string) => void;
export const noFault: FaultHook = () => {};

// ==== names ===============================================================================================

/** What a worker needs to choose a job, read from its name in pending/ without opening the file. */
export interface PendingName {
  name: string;
  availableAt: number;
  priority: number;
  attempts: number;
  /** The job's queue ("default" when the name has no queue part). */
  queue: string;
  id: string;
}

const PENDING_NAME = /^(\d{13})-(\d{4})-(\d{3})-(?:([a-z0-9_-]{1,64})@)?([A-Za-z0-9_][A-Za-z0-9._-]{0,127})\.json$/;

/**
 * The file name of a job in pending/: `<available_at ms, 13 digits>-<priority+1000, 4 digits>-<attempts, 3
 * digits>-[<queue>@]<id>.json` (the queue part only for a queue other than "default": "@" occurs in
 * neither). Fixed width, so a sorted listing is the schedule; the id makes it unique.
 */
export function pendingName(job: Pick<Job, 'available_at' | 'priority' | 'attempts' | 'id' | 'queue'>): string {
  const at = Math.max(0, Date.parse(job.available_at));
  const queue = queueOf(job) === DEFAULT_QUEUE ? '' : `${job.queue}@`;
  return `${String(at).padStart(13, '0')}-${String(job.priority + 1000).padStart(4, '0')}-${String(Math.min(job.attempts, 999)).padStart(3, '0')}-${queue}${job.id}.json`;
}

/** True for a name pendingName() makes; allocates nothing (for scans of big folders). */
export function isPendingName(name: string): boolean {
  return PENDING_NAME.test(name);
}

/** Parses a pending/ file name made by pendingName(); null for any other name (a dropped file). */
export function parsePendingName(name: string): PendingName | null {
  const m = PENDING_NAME.exec(name);
  if (!m) return null;
  return { name, availableAt: Number(m[1]), priority: Number(m[2]) - 1000, attempts: Number(m[3]), queue: m[4] ?? DEFAULT_QUEUE, id: m[5] };
}

/** The file name of a job in waiting/: `[<queue>@]<id>.json`. */
export function waitingName(job: Pick<Job, 'id' | 'queue'>): string {
  return `${queueOf(job) === DEFAULT_QUEUE ? '' : `${job.queue}@`}${job.id}.json`;
}

/** Parses a waiting/ file name; null for any other name. */
export function parseWaitingName(name: string): { id: string; queue: string } | null {
  const m = /^(?:([a-z0-9_-]{1,64})@)?([A-Za-z0-9_][A-Za-z0-9._-]{0,127})\.json$/.exec(name);
  return m ? { id: m[2], queue: m[1] ?? DEFAULT_QUEUE } : null;
}

/** True when the job may run at `now`. */
export function isDue(p: Pick<PendingName, 'availableAt'>, now: number): boolean {
  return p.availableAt <= now;
}

/** A file in processing/: the pending name it came from, the worker that holds it and the claim sequence. */
export interface ClaimName {
  name: string;
  /** Its name in pending/ before the claim. */
  pendingName: string;
  worker: string;
  seq: number;
  /** Job id when the pending name was a queuectl name; null for a dropped file. */
  id: string | null;
  /** Its queue when the pending name was a queuectl name; null for a dropped file. */
  queue: string | null;
}

/** Name of a claimed file: `<pending name without .json>~<worker>~<seq>.json`. "~" never occurs in ids. */
export function claimName(pendingFile: string, worker: string, seq: number): string {
  return `${pendingFile.slice(0, -'.json'.length)}~${worker}~${seq}.json`;
}

export function parseClaimName(name: string): ClaimName | null {
  const m = /^(.*)~([a-z0-9]+)~(\d+)\.json$/.exec(name);
  if (!m) return null;
  const pending = `${m[1]}.json`;
  const p = parsePendingName(pending);
  return { name, pendingName: pending, worker: m[2], seq: Number(m[3]), id: p?.id ?? null, queue: p?.queue ?? null };
}

/** Longest dropped file name that can be claimed: its claim name adds ~<worker>~<seq> (NAME_MAX is 255). */
export const MAX_DROPPED_NAME = 200;

/** Why a file dropped under `name` is quarantined for its name alone (before it is read), or null. */
export function droppedNameProblem(name: string): string | null {
  return name.length > MAX_DROPPED_NAME ? `file name too long (${name.length} characters; at most ${MAX_DROPPED_NAME})` : null;
}

export type StageKind = 'stage' | 'intake';

/** A hidden file in pending/: a job on its way back (stage) or a dropped file being taken in (intake). */
export interface StageName {
  kind: StageKind;
  owner: string;
  /** The pending name it will be published under. */
  name: string;
}

/** pending/.<kind>~<owner>~<pending name>. */
export function stageName(kind: StageKind, owner: string, name: string): string {
  return `.${kind}~${owner}~${name}`;
}

export function parseStageName(file: string): StageName | null {
  const m = /^\.(stage|intake)~([^~]+)~(.+)$/.exec(file);
  return m ? { kind: m[1] as StageKind, owner: m[2], name: m[3] } : null;
}

/** processing/.<claim>.final: the final record of a claim, written before the fence. */
export function intentPath(claimPath: string): string {
  return join(dirname(claimPath), `.${basename(claimPath)}.final`);
}

/** The claim file an intent belongs to, or null for any other name. */
export function claimOfIntent(file: string): string | null {
  return file.startsWith('.') && file.endsWith('.json.final') ? file.slice(1, -'.final'.length) : null;
}

// Every path built from an id checks it first (defence in depth: callers validate too): ids given on the
// command line or to the page (`../../x`, `a/b`) must never name a file outside the queue root.

export function completedPath(store: Store, shard: string, id: string): string {
  assertValidId(id);
  return join(store.completed, shard, `${id}.json`);
}

export function deadPath(store: Store, id: string): string {
  assertValidId(id);
  return join(store.dead, `${id}.json`);
}

/** Where a finished record goes: completed/<hour of finished_at>/<id>.json or dead/<id>.json. */
export function finishedPath(store: Store, job: Job): string {
  return job.state === 'completed'
    ? completedPath(store, completedShard(Date.parse(job.finished_at ?? job.updated_at)), job.id)
    : deadPath(store, job.id);
}

// ==== the id registry =====================================================================================

/**
 * ids/<shard>/<id>. On a root that ignores case the shard is chosen from the lowercased id, so `Job1` and
 * `job1` meet in one folder, where the filesystem itself refuses the second link.
 */
export function markerPath(store: Store, id: string): string {
  assertValidId(id);
  return join(store.ids, shardOf(store.foldsCase ? id.toLowerCase() : id), id);
}

/**
 * Reserves `id` by hard-linking `file` (the job's first record, in tmp/) as ids/<shard>/<id>. Returns
 * false when the id is taken. link(2) never replaces, so of racing processes exactly one wins.
 */
export function reserveIdSync(store: Store, id: string, file: string): boolean {
  const marker = markerPath(store, id);
  ensureRealDir(dirname(marker));
  try {
    fs.linkSync(file, marker);
    return true;
  } catch (err) {
    if (isErrno(err, 'EEXIST')) return false;
    throw withSubject(err, `reserve id "${id}" (${marker})`);
  }
}

/** Frees an id (its job was purged, or never became visible), so it may be used again. */
export function releaseIdSync(store: Store, id: string): void {
  try {
    fs.unlinkSync(markerPath(store, id));
  } catch (err) {
    if (!isErrno(err, 'ENOENT')) throw err;
  }
}

/** Frees `id` only if its marker is the very file `twin` (same inode): a reservation this file made. */
function releaseIfTwin(store: Store, id: string, twin: string): boolean {
  const marker = markerPath(store, id);
  try {
    const a = fs.statSync(marker);
    const b = fs.statSync(twin);
    if (a.ino !== b.ino || a.dev !== b.dev) return false;
    fs.unlinkSync(marker);
    return true;
  } catch (err) {
    if (isErrno(err, 'ENOENT')) return false;
    throw err;
  }
}

/**
 * True when a claimed file (`read`, with its inode) is job `id`'s first record, i.e. its marker (`marker`:
 * the marker's stat): the same inode, or the same bytes where a filesystem numbers each path apart (sshfs
 * without use_ino gives a hard link an inode of its own), so a first run there costs one read, no scan.
 */
export function isFirstRecord(store: Store, id: string, marker: fs.Stats, read: { text: string; size: number; ino: number; dev: number }): boolean {
  if (marker.ino === read.ino && marker.dev === read.dev) return true;
  if (marker.size !== read.size) return false;
  const m = readJobFileSync(markerPath(store, id));
  return m.ok && m.text === read.text;
}

/**
 * True when a file other than `except` holds job `id` before it finished: in pending/ (a stage there only
 * while it holds its job file; an older queuectl's stage is that file itself), waiting/ or processing/.
 * One listing of each folder: for the rare claims that need it (see the pool's openClaim), not for every
 * claim.
 */
export function heldByLiveFile(store: Store, id: string, except?: string): boolean {
  for (const n of fs.readdirSync(store.pending)) {
    const stage = n.startsWith('.') ? parseStageName(n) : null;
    if (parsePendingName(stage ? stage.name : n)?.id !== id) continue;
    if (!stage) return true;
    const st = fs.statSync(join(store.pending, n), { throwIfNoEntry: false });
    if (st?.isFile() || (st?.isDirectory() && fs.existsSync(join(store.pending, n, STAGE_FILE)))) return true;
  }
  for (const n of fs.readdirSync(store.waiting)) if (parseWaitingName(n)?.id === id) return true;
  for (const n of fs.readdirSync(store.processing)) {
    if (parseClaimName(n)?.id === id && join(store.processing, n) !== except) return true;
  }
  return false;
}

/** The record an id's marker holds (the job's first record), or null. */
export function markerRecord(store: Store, id: string): Job | null {
  const r = readJobFileSync(markerPath(store, id));
  if (!r.ok) return null;
  try {
    return JSON.parse(r.text) as Job;
  } catch {
    return null;
  }
}

// ==== finding a job =======================================================================================

export interface Located {
  state: JobState;
  path: string;
  /** File name within its folder. */
  name: string;
  /** True for a hidden stage in pending/ (a job on its way there). */
  staged?: boolean;
}

/**
 * Finds the file of job `id`. Looks in the order jobs move (pending with its stages, processing, completed,
 * dead), so a job that moves forward while we look is still found; a few passes cover a move back.
 */
export async function locateJob(store: Store, id: string): Promise<Located | null> {
  assertValidId(id);
  // On a root that ignores case, Job1 and job1 are one id (the filesystem finds either).
  const same = store.foldsCase ? (x: string | null | undefined) => x?.toLowerCase() === id.toLowerCase() : (x: string | null | undefined) => x === id;
  for (let pass = 0; pass < 3; pass++) {
    for (const n of await fsp.readdir(store.pending).catch(() => [] as string[])) {
      const staged = n.startsWith('.') ? parseStageName(n) : null;
      const p = parsePendingName(staged ? staged.name : n);
      if (same(p?.id)) return { state: 'pending', path: join(store.pending, n), name: n, ...(staged ? { staged: true } : {}) };
    }
    const waitingHit = (await listJsonNames(store.waiting)).find((n) => same(parseWaitingName(n)?.id));
    if (waitingHit) return { state: 'waiting', path: join(store.waiting, waitingHit), name: waitingHit };
    const processingHit = (await listJsonNames(store.processing)).find((n) => same(parseClaimName(n)?.id));
    if (processingHit) return { state: 'processing', path: join(store.processing, processingHit), name: processingHit };
    for (const shard of await listCompletedShards(store)) {
      const path = completedPath(store, shard, id);
      if (fs.existsSync(path)) return { state: 'completed', path, name: `${id}.json` };
    }
    const dead = deadPath(store, id);
    if (fs.existsSync(dead)) return { state: 'dead', path: dead, name: `${id}.json` };
    if (!fs.existsSync(markerPath(store, id))) return null;
  }
  return null;
}

/** completed/ hour shards, newest first (synchronous). */
export function completedShardsSync(store: Store): string[] {
  try {
    return fs.readdirSync(store.completed).filter((n) => /^\d{10}$/.test(n)).sort().reverse();
  } catch {
    return [];
  }
}

/**
 * The state of job `id`'s finished record (dead/, or completed/ in any hour kept), or null when it has
 * none. Synchronous: one stat for dead/, then one per completed hour; `shards` lists them (only when
 * dead/ has no record), for a caller that asks about many ids.
 */
export function finishedState(store: Store, id: string, shards: () => string[] = () => completedShardsSync(store)): 'completed' | 'dead' | null {
  if (fs.existsSync(deadPath(store, id))) return 'dead';
  return shards().some((shard) => fs.existsSync(completedPath(store, shard, id))) ? 'completed' : null;
}

/** What holds a taken id, for the error that refuses it and for recovery of orphaned reservations. */
export type Holder =
  | { kind: 'job'; where: Located }
  | { kind: 'enqueue'; owner: string; liveness: 'alive' | 'dead' | 'unknown'; committed: boolean; tmp: string }
  | { kind: 'intake'; source: string }
  | { kind: 'orphan'; ageMs: number }
  | { kind: 'free' };

/** Reservations of writers on other hosts count as abandoned after this long (the tmp/ sweep's age). */
export const ORPHAN_AGE_MS = 3_600_000;

/** Says what holds `id`: a visible job, an enqueue still writing (or one that died), an intake, or nothing. */
export async function holderOf(store: Store, id: string, now: number): Promise<Holder> {
  const marker = markerPath(store, id);
  let mst: fs.Stats;
  try {
    mst = fs.statSync(marker);
  } catch (err) {
    if (isErrno(err, 'ENOENT')) return { kind: 'free' };
    throw err;
  }
  const where = await locateJob(store, id);
  if (where) return { kind: 'job', where };
  const tmps = await fsp.readdir(store.tmp).catch(() => [] as string[]);
  for (const name of tmps) {
    const t = parseTmpName(name);
    const detail = store.foldsCase ? t?.detail?.toLowerCase() : t?.detail;
    if (t?.kind !== 'enq' || !detail?.endsWith(`~${store.foldsCase ? id.toLowerCase() : id}`)) continue;
    const path = join(store.tmp, name);
    const st = fs.statSync(path, { throwIfNoEntry: false });
    if (!st || st.ino !== mst.ino) continue;
    const batch = t.detail!.slice(0, -(id.length + 1));
    return { kind: 'enqueue', owner: t.owner, liveness: ownerLiveness(t.owner, st.mtimeMs, now), committed: hasCommit(tmps, t.owner, batch), tmp: path };
  }
  const source = markerRecord(store, id)?.source;
  if (typeof source === 'string' && (await intakeInProgress(store, source))) return { kind: 'intake', source };
  return { kind: 'orphan', ageMs: now - mst.ctimeMs };
}

async function intakeInProgress(store: Store, source: string): Promise<boolean> {
  if (fs.existsSync(join(store.pending, source))) return true;
  for (const n of await fsp.readdir(store.processing).catch(() => [] as string[])) if (parseClaimName(n)?.pendingName === source) return true;
  return false;
}

/** Liveness of a process-tag owner: by pid on this host, by the age of what it left elsewhere. */
export function ownerLiveness(owner: string, leftAt: number, now: number): 'alive' | 'dead' | 'unknown' {
  const tag = parseProcessTag(owner);
  if (!tag) return 'unknown';
  const l = tagLiveness(tag);
  if (l !== 'unknown') return l;
  return now - leftAt > ORPHAN_AGE_MS ? 'dead' : 'unknown';
}

/**
 * Frees an id whose reservation no visible job holds: its enqueue died before its commit, or no trace of
 * a writer is left and the marker is older than ORPHAN_AGE_MS. Returns true when the id is free now.
 */
export async function releaseOrphan(store: Store, id: string, now: number): Promise<boolean> {
  const h = await holderOf(store, id, now);
  if (h.kind === 'free') return true;
  if (h.kind === 'enqueue' && h.liveness === 'dead' && !h.committed) {
    releaseIfTwin(store, id, h.tmp);
    fs.rmSync(h.tmp, { force: true });
    return !fs.existsSync(markerPath(store, id));
  }
  if (h.kind === 'orphan' && h.ageMs > ORPHAN_AGE_MS) {
    releaseIdSync(store, id);
    return true;
  }
  return false;
}

/** One line for people: what holds the id (for "id is already used" errors). */
export function describeHolder(h: Holder): string {
  switch (h.kind) {
    case 'job': return `a job (${h.where.staged ? 'moving to pending' : h.where.state})`;
    case 'enqueue': {
      const tag = parseProcessTag(h.owner);
      const who = tag ? `pid ${tag.pid}${tag.hostKey === processTag().hostKey ? ' on this host' : ' on another host'}` : h.owner;
      if (h.liveness === 'alive' || h.liveness === 'unknown') return `an enqueue still in progress (${who})`;
      return h.committed ? `a committed batch that recovery is publishing (${who})` : `an enqueue that died before it finished (${who}); retry to release it`;
    }
    case 'intake': return `a file being taken in from pending/${h.source}`;
    case 'orphan': return `a reservation with no job (left by a process that died ${Math.round(h.ageMs / 1000)}s ago; released after an hour, or now by \`queuectl doctor --fix\`)`;
    case 'free': return 'nothing (it is free now)';
  }
}

// ==== claim ===============================================================================================

/** Renames pending/<name> into processing/ for `worker`. Returns the claimed path, or null if another worker won. */
export function claim(store: Store, name: string, worker: string, seq: number): string | null {
  const to = join(store.processing, claimName(name, worker, seq));
  try {
    fs.renameSync(join(store.pending, name), to);
    return to;
  } catch (err) {
    if (isErrno(err, 'ENOENT')) return null;
    throw err;
  }
}

/**
 * Gives a claim back to pending/ under the name it was claimed from (a job this worker could not start).
 * That name holds the job's reserved id, so no other file can have it.
 */
export function unclaim(store: Store, claimPath: string): boolean {
  const c = parseClaimName(basename(claimPath));
  if (!c?.id) return false;
  return fence(claimPath, join(store.pending, c.pendingName));
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

// ==== limits: admitting a run ==========================================================================

/**
 * Admits a run of a limited queue before its claim: creates queues/<queue>.running/<claim name>, then
 * counts the folder. A run proceeds only when it counted at most `limit` entries, its own included, so at
 * most `limit` runs pass at once in the whole root (any later entry sees every entry that passed: each
 * stays until its run is over). One that counts too many removes its entry and reports 'full'. The entry's
 * name is its claim's, unique: only its owner removes it, or recovery once the owner is dead, so a worker
 * woken from a pause cannot remove another run's entry.
 */
export function admitRun(store: Store, queue: string, limit: number, claim: string): 'ok' | 'full' {
  const dir = join(store.queues, `${queue}.running`);
  const entry = join(dir, claim);
  try {
    fs.closeSync(fs.openSync(entry, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL, 0o600));
  } catch (err) {
    if (!isErrno(err, 'ENOENT')) throw err;
    fs.mkdirSync(dir, { recursive: true, mode: DIR_MODE });
    fs.closeSync(fs.openSync(entry, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL, 0o600));
  }
  if (fs.readdirSync(dir).length <= limit) return 'ok';
  fs.rmSync(entry, { force: true });
  return 'full';
}

/** Ends a run's admission (its job left processing/, or its claim failed). */
export function dischargeRun(store: Store, queue: string, claim: string): void {
  fs.rmSync(join(store.queues, `${queue}.running`, claim), { force: true });
}

/** Every admitted run: queue and claim name (recovery removes those of dead workers). */
export function listAdmitted(store: Store): { queue: string; claim: string }[] {
  const out: { queue: string; claim: string }[] = [];
  for (const n of fs.readdirSync(store.queues, { withFileTypes: true })) {
    const m = /^([a-z0-9_-]{1,64})\.running$/.exec(n.name);
    if (!m || !n.isDirectory()) continue;
    for (const claim of fs.readdirSync(join(store.queues, n.name))) out.push({ queue: m[1], claim });
  }
  return out;
}

// ==== complete, bury =====================================================================================

const knownShards = new Set<string>();

/** Moves a claim to completed/<hour>/<id>.json with its final record. False when fenced out. */
export function complete(store: Store, claimPath: string, job: Job, now: number, fault = noFault): boolean {
  const shard = completedShard(now);
  const dir = join(store.completed, shard);
  if (!knownShards.has(shard)) {
    ensureRealDir(dir);
    knownShards.add(shard);
  }
  return finishMove(store, claimPath, completedPath(store, shard, job.id), job, 'complete', fault, () => {
    // The shard may have been removed by retention in another process: make it once more.
    knownShards.delete(shard);
    forgetRealDir(dir);
    ensureRealDir(dir);
  });
}

/**
 * Moves a claim (or a pending job, for cancel) to dead/<id>.json with its final record. False when fenced
 * out. `onFenced` runs once the move has taken the file, before the record lands (recovery kills the lost
 * run's processes there: see requeue).
 */
export function bury(store: Store, from: string, job: Job, fault = noFault, onFenced?: () => void): boolean {
  return finishMove(store, from, deadPath(store, job.id), job, 'bury', fault, undefined, onFenced);
}

function finishMove(store: Store, from: string, dest: string, job: Job, step: 'complete' | 'bury', fault: FaultHook, onMissingDir?: () => void, onFenced?: () => void): boolean {
  const intent = intentPath(from);
  replaceFileSync(store, intent, serializeJob(job));
  fault(`${step}-before-fence`);
  let moved = fence(from, dest);
  if (!moved && onMissingDir && fs.existsSync(from)) {
    onMissingDir();
    moved = fence(from, dest);
  }
  if (!moved) {
    fs.rmSync(intent, { force: true });
    return false;
  }
  fault(`${step}-after-fence`);
  onFenced?.();
  try {
    fs.renameSync(intent, dest);
  } catch (err) {
    // Gone: this process was paused after its fence and recovery put the record in place meanwhile.
    if (isErrno(err, 'ENOENT')) return true;
    throw new RecordWriteError(dest, job, err);
  }
  fault(`${step}-after-write`);
  return true;
}

/**
 * The job was moved (to completed/ or dead/) but its final record could not be put in place (a full
 * disk): the caller keeps the record and calls rewriteFinished later. The move itself stands.
 */
export class RecordWriteError extends Error {
  constructor(readonly dest: string, readonly job: Job, cause: unknown) {
    super(`${dest}: cannot write the final record: ${(cause as Error).message}`, { cause });
    this.name = 'RecordWriteError';
  }
}

/**
 * Writes the final record of a job already in completed/ or dead/ (after a RecordWriteError). Not fsynced:
 * if a crash loses it, the file there still holds the job with its record from before the last attempt.
 */
export function rewriteFinished(store: Store, dest: string, job: Job): void {
  replaceFileSync(store, dest, serializeJob(job));
}

/**
 * Recovery of an intent left by a worker that died: finishes its move if the claim is still there,
 * repairs the record if the move was done but the record not written, and drops the intent if the
 * claim was taken over (its job went elsewhere). Returns what it did.
 */
export async function resolveIntent(store: Store, claimPath: string): Promise<{ did: 'finished' | 'repaired' | 'dropped'; job: Job } | null> {
  const intent = intentPath(claimPath);
  const read = readJobFileSync(intent);
  if (!read.ok) {
    if (!read.gone) fs.rmSync(intent, { force: true });
    return null;
  }
  let job: Job;
  try {
    job = JSON.parse(read.text) as Job;
  } catch {
    fs.rmSync(intent, { force: true }); // not a whole record: the claim is recovered as lost instead
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
  const current = readJobFileSync(dest);
  const record = current.ok ? safeParse(current.text) : null;
  if (record && record.id === job.id && !record.finished_at) {
    fs.renameSync(intent, dest);
    return { did: 'repaired', job };
  }
  fs.rmSync(intent, { force: true });
  return { did: 'dropped', job };
}

function safeParse(text: string): Job | null {
  try {
    return JSON.parse(text) as Job;
  } catch {
    return null;
  }
}

// ==== requeue (back to pending/) ==========================================================================

/** A stage folder and its job file. */
function stagePaths(store: Store, kind: StageKind, owner: string, name: string): { dir: string; file: string } {
  const dir = join(store.pending, stageName(kind, owner, name));
  return { dir, file: join(dir, STAGE_FILE) };
}

/** The job file inside a stage folder. */
export const STAGE_FILE = 'job';

function makeStageDir(dir: string): void {
  try {
    fs.mkdirSync(dir, { mode: DIR_MODE });
  } catch (err) {
    if (!isErrno(err, 'EEXIST')) throw withSubject(err, `make ${dir}`);
  }
}

/** Removes a stage folder once its job has left it; gone or not empty (someone else's now) is fine. */
function removeStageDir(dir: string): void {
  try {
    fs.rmdirSync(dir);
  } catch (err) {
    if (!isErrno(err, 'ENOENT', 'ENOTEMPTY', 'EEXIST', 'ENOTDIR')) throw err;
  }
}

/** rename(2) that reports ENOENT (a path of the move was taken over) as false. */
function renameFenced(from: string, to: string): boolean {
  return fence(from, to);
}

/**
 * Moves the file at `from` (a claim, or a dead job) back to pending/ with `job` as its new record, through
 * a stage folder of `owner`. Returns false, having changed nothing visible, when `from` is gone (the
 * fence) or when recovery took the stage over while this process was paused after the fence.
 * `onFenced` runs once the file is taken and before the job is visible again: recovery kills a lost run's
 * processes there, so that a paused worker resuming before the fence is killed, and after it finds its
 * claim gone (the runner's guard), and the command never runs beside its next run.
 */
export async function requeue(store: Store, from: string, job: Job, owner: string, fault = noFault, into: 'pending' | 'waiting' = 'pending', onFenced?: () => void): Promise<boolean> {
  const name = into === 'pending' ? pendingName(job) : waitingName(job);
  const tmp = await writeTmp(store, 'requeue', serializeJob(job), true, job.id);
  try {
    fault('requeue-before-fence');
    const stage = stagePaths(store, 'stage', owner, name);
    makeStageDir(stage.dir);
    if (!renameFenced(from, stage.file)) {
      removeStageDir(stage.dir);
      return false;
    }
    fault('requeue-after-fence');
    onFenced?.();
    if (!renameFenced(tmp, stage.file)) return false;
    fault('requeue-before-publish');
    if (!renameFenced(stage.file, join(into === 'pending' ? store.pending : store.waiting, name))) return false;
    fault('requeue-after-publish');
    removeStageDir(stage.dir);
    return true;
  } finally {
    fs.rmSync(tmp, { force: true });
  }
}

/**
 * Takes a stage of a dead owner for this process: renames it to a stage of `owner` (the fence against
 * the dead owner and against other recovering processes). Returns the paths it now has, or null when
 * another process took it first. A stage written by an older queuectl is a plain file: it moves as is.
 */
export function takeStage(store: Store, stageFile: string, owner: string): { dir: string | null; file: string } | null {
  const stage = parseStageName(stageFile);
  if (!stage) return null;
  const from = join(store.pending, stageFile);
  const to = stagePaths(store, stage.kind, owner, stage.name);
  if (from === to.dir) return { dir: to.dir, file: to.file };
  const st = fs.lstatSync(from, { throwIfNoEntry: false });
  if (!st) return null;
  if (!st.isDirectory()) {
    // Legacy stage file: move it into a stage folder of ours.
    makeStageDir(to.dir);
    if (!renameFenced(from, to.file)) {
      removeStageDir(to.dir);
      return null;
    }
    return { dir: to.dir, file: to.file };
  }
  if (!renameFenced(from, to.dir)) return null;
  return { dir: to.dir, file: to.file };
}

/** Publishes the job of a stage folder this process holds: job -> pending/<name>, folder removed. */
export function publishStage(store: Store, stage: { dir: string | null; file: string }, name: string): boolean {
  const ok = renameFenced(stage.file, join(store.pending, name));
  if (stage.dir) removeStageDir(stage.dir);
  return ok;
}

/** Removes a stage folder this process holds whose job is gone (an empty stage). */
export function dropStage(stage: { dir: string | null; file: string }): void {
  if (stage.dir) removeStageDir(stage.dir);
}

// ==== intake of dropped files =============================================================================

export interface IntakeOptions {
  now: () => number;
  /** Defaults for the fields a dropped file leaves out (the worker's config). */
  defaults: JobDefaults;
  /** Worker id or process tag: names the .intake stage. */
  owner: string;
  fault?: FaultHook;
  /** How long to wait for a file that is still changing (a producer writing in place). */
  settleMs?: number;
}

export type IntakeResult =
  | { kind: 'taken'; job: Job; name: string }
  | { kind: 'quarantined'; reason: string }
  | { kind: 'fenced' };

/** A dropped file written this recently may still be being written: wait for it to settle first. */
const SETTLE_MS = 1000;

/**
 * Takes in a dropped file this process has claimed (processing/<claim>): validates it with createJob,
 * reserves its id, and publishes it under a queuectl name in pending/, so that its priority and run_at
 * count. Recovery calls it too, for the claim of a dead worker. The fence is the claim's rename to the
 * .intake stage: a worker paused past stale-after whose claim recovery took in meanwhile changes nothing.
 */
export async function intake(store: Store, claimPath: string, originalName: string, opts: IntakeOptions): Promise<IntakeResult> {
  const fault = opts.fault ?? noFault;
  const verdict = await judgeDroppedFile(claimPath, originalName, opts);
  if (verdict.kind === 'gone') return { kind: 'fenced' };
  if (verdict.kind === 'bad') return toQuarantine(store, claimPath, originalName, verdict.reason, opts.now());
  const { job, explicitId, fromName } = verdict;
  const now = opts.now();
  let tmp = writeTmpDurableSync(store, 'intake', serializeJob(job), job.id);
  try {
    let reserved = reserveIdSync(store, job.id, tmp);
    let ours = !reserved && isOurReservation(store, job.id, originalName, claimPath);
    if (!reserved && !ours && !explicitId && job.id === fromName) {
      await fsp.unlink(tmp).catch(() => {});
      job.id = newJobId(now);
      tmp = writeTmpDurableSync(store, 'intake', serializeJob(job), job.id);
      reserved = reserveIdSync(store, job.id, tmp);
    }
    if (!reserved && !ours) return toQuarantine(store, claimPath, originalName, idTakenReason(job.id), now);
    fault('intake-after-reserve');
    const name = pendingName(job);
    const stage = stagePaths(store, 'intake', opts.owner, name);
    makeStageDir(stage.dir);
    if (!renameFenced(claimPath, stage.file)) {
      if (reserved) releaseIfTwin(store, job.id, tmp);
      removeStageDir(stage.dir);
      return { kind: 'fenced' };
    }
    fault('intake-after-fence');
    if (!renameFenced(tmp, stage.file)) return { kind: 'fenced' };
    fault('intake-after-write');
    if (!renameFenced(stage.file, join(store.pending, name))) return { kind: 'fenced' };
    fault('intake-after-publish');
    removeStageDir(stage.dir);
    return { kind: 'taken', job, name };
  } finally {
    fs.rmSync(tmp, { force: true });
  }
}

/**
 * What a claimed file under a queuectl name, with no id reserved for it (another program wrote it), turns
 * out to be: a job to run from where it is (adopt), a file to take in (intake), or gone (fenced).
 */
export type Adopted = { kind: 'job'; job: Job } | { kind: 'intake' } | { kind: 'gone' };

/**
 * Adopts a file another program dropped under a queuectl name when it is exactly what queuectl would have
 * written: the one judgement of dropped files (judgeDroppedSpec, createJob) makes of it a job of the same
 * id and the same pending name (attempts 0, available_at = run_at, same priority and queue), without
 * dependencies. Its id is then reserved by linking the claim file itself as its marker, as enqueue links
 * its record, and it runs from its claim: no copy, no second rename, no second claim. Anything else, or a
 * taken id (EEXIST), is left to intake, which reserves an id or quarantines the file saying why.
 * A crash before the link leaves a claim without a marker (recovery takes it in); after it, a lost run.
 */
export function adopt(store: Store, claimPath: string, spec: unknown, claimed: ClaimName, now: number, defaults: JobDefaults, fault = noFault): Adopted {
  const verdict = judgeDroppedSpec(spec, claimed.pendingName, now, defaults);
  // The pending name holds the id, priority, attempts, available_at and queue: equal names, equal jobs.
  if (verdict.kind !== 'job' || verdict.job.after || (spec as { after?: unknown }).after != null) return { kind: 'intake' };
  if (pendingName(verdict.job) !== claimed.pendingName) return { kind: 'intake' };
  try {
    if (!reserveIdSync(store, verdict.job.id, claimPath)) return { kind: 'intake' };
  } catch (err) {
    // Gone: recovery took the claim of this paused worker. Anything else: intake meets it and says so.
    return isErrno(err, 'ENOENT') && !fs.existsSync(claimPath) ? { kind: 'gone' } : { kind: 'intake' };
  }
  fault('adopt-after-reserve');
  return { kind: 'job', job: verdict.job };
}

/** The id's marker was made for this very dropped file by an intake that did not finish, and no job holds it. */
function isOurReservation(store: Store, id: string, source: string, claimPath: string): boolean {
  if (markerRecord(store, id)?.source !== source) return false;
  // A job that holds the id would be visible under a queuectl name; the marker alone means unfinished.
  return !heldByLiveFile(store, id, claimPath) && !fs.existsSync(deadPath(store, id));
}

/**
 * What a worker makes of a dropped file: the job it takes in, or the reason it quarantines the file with.
 * The one judgement of dropped files: intake() acts on it, `queuectl validate` prints it.
 */
export type DroppedVerdict =
  | { kind: 'gone' }
  | { kind: 'bad'; reason: string }
  /** explicitId: the JSON names its id; fromName: the id taken from the file name when it does not. */
  | { kind: 'job'; job: Job; explicitId: boolean; fromName: string | null };

/**
 * Reads a dropped file (pending/<originalName>, or wherever it is now) and judges it as intake does: a
 * regular file of at most 4MB, JSON, and a job spec createJob accepts. A file still changing within
 * `settleMs` is waited for (see readSettled); 0 judges it as it is. The id is not reserved here.
 */
export async function judgeDroppedFile(path: string, originalName: string, opts: Pick<IntakeOptions, 'now' | 'defaults' | 'settleMs'>): Promise<DroppedVerdict> {
  const parsed = await readSettled(path, opts.settleMs ?? SETTLE_MS, opts.now);
  if (parsed.kind !== 'ok') return parsed;
  return judgeDroppedSpec(parsed.value, originalName, opts.now(), opts.defaults);
}

/** The same judgement of bytes that are not a file in a folder (`validate -`): size, JSON, then the spec. */
export function judgeDroppedBytes(bytes: Buffer, originalName: string, now: number, defaults: JobDefaults): DroppedVerdict {
  const tooLarge = sizeProblem(bytes.length);
  if (tooLarge) return { kind: 'bad', reason: tooLarge };
  let value: unknown;
  try {
    value = JSON.parse(bytes.toString('utf8'));
  } catch (err) {
    return { kind: 'bad', reason: notJsonReason(err, '') };
  }
  return judgeDroppedSpec(value, originalName, now, defaults);
}

/**
 * A parsed dropped file as the job intake makes of it. Without an id in the JSON, the file name is the id
 * (so `ls` and `show` agree); if that is not a valid id (or, at intake, it is taken), a generated one.
 */
function judgeDroppedSpec(spec: unknown, originalName: string, now: number, defaults: JobDefaults): DroppedVerdict {
  const explicitId = !!spec && typeof spec === 'object' && (spec as { id?: unknown }).id != null;
  const fromName = explicitId ? null : idFromFileName(originalName);
  let job: Job;
  try {
    job = createJob(spec, `pending/${originalName}`, now, defaults, () => fromName ?? newJobId(now));
  } catch (err) {
    return { kind: 'bad', reason: (err as Error).message };
  }
  job.source = originalName;
  return { kind: 'job', job, explicitId, fromName };
}

/** The quarantine reason of a dropped file whose JSON names an id that is already used. */
export function idTakenReason(id: string): string {
  return `id "${id}" is already used by another job; ids are unique across all states`;
}

function notJsonReason(err: unknown, hint: string): string {
  return `not valid JSON: ${(err as Error).message}${hint}`;
}

type Settled = { kind: 'gone' } | { kind: 'bad'; reason: string } | { kind: 'ok'; value: unknown };

/**
 * Reads and parses a claimed dropped file. A producer that writes in place (instead of writing elsewhere
 * and renaming into pending/) keeps writing into the same inode after our rename: if the JSON does not
 * parse and the file changed within `settleMs`, wait until it has not changed for that long (at most a
 * few times), then judge it.
 */
async function readSettled(path: string, settleMs: number, now: () => number): Promise<Settled> {
  let changing = false;
  for (let tries = 0; ; tries++) {
    const r = readJobFileSync(path);
    if (!r.ok) return r.gone ? { kind: 'gone' } : { kind: 'bad', reason: r.problem };
    try {
      return { kind: 'ok', value: JSON.parse(r.text) };
    } catch (err) {
      // The age of the bytes: mtime. Not ctime, which every rename refreshes (the producer's mv, our own
      // claim): by it, every file would look freshly written, and every bad one get the hint below.
      const age = now() - r.mtimeMs;
      if (age < settleMs && tries < 5) {
        changing = true;
        await new Promise((resolve) => setTimeout(resolve, settleMs - age + 10));
        continue;
      }
      const hint = changing
        ? '; it was still being written when a worker took it: write a job file elsewhere on this filesystem (e.g. tmp/) and rename it into pending/'
        : '';
      return { kind: 'bad', reason: notJsonReason(err, hint) };
    }
  }
}

/**
 * Recovery of an .intake stage this process took (takeStage) from an owner that died after the fence: the
 * stage holds the record (publish it), or still the producer's bytes (take them in under the id the stage
 * name carries, reserved for them already), or nothing (remove it).
 */
export async function finishIntakeStage(store: Store, stage: { dir: string | null; file: string }, name: string, opts: Omit<IntakeOptions, 'owner' | 'fault'>): Promise<IntakeResult> {
  const target = parsePendingName(name);
  if (!target) return toQuarantine(store, stage.file, name, 'a hidden intake file with a name queuectl did not make', opts.now());
  const read = readJobFileSync(stage.file);
  if (!read.ok) {
    if (read.gone) {
      dropStage(stage);
      return { kind: 'fenced' };
    }
    return toQuarantine(store, stage.file, name, read.problem, opts.now());
  }
  const value = safeParse(read.text);
  const record = value && typeof value === 'object' ? (value as Job) : null;
  if (record && record.id === target.id && typeof record.created_at === 'string' && !recordProblem(record) && pendingName(record) === name) {
    return publishStage(store, stage, name) ? { kind: 'taken', job: record, name } : { kind: 'fenced' };
  }
  const source = markerRecord(store, target.id)?.source ?? name;
  let job: Job;
  try {
    job = createJob(value, `pending/${source}`, opts.now(), opts.defaults, () => target.id);
  } catch (err) {
    return toQuarantine(store, stage.file, source, (err as Error).message, opts.now());
  }
  job.id = target.id;
  job.source = source;
  const next = pendingName(job);
  const tmp = await writeTmp(store, 'intake', serializeJob(job), true, job.id);
  try {
    if (!renameFenced(tmp, stage.file)) return { kind: 'fenced' };
    return publishStage(store, stage, next) ? { kind: 'taken', job, name: next } : { kind: 'fenced' };
  } finally {
    fs.rmSync(tmp, { force: true });
  }
}

// ==== quarantine ==========================================================================================

/** Moves an unreadable file out of the way, never deleting it, with the reason beside it. Fenced. */
export async function quarantine(store: Store, from: string, originalName: string, reason: string, now: number): Promise<string | null> {
  // Keep names well under NAME_MAX (255) with the suffixes added here; the reason names the original.
  const short = originalName.length > MAX_DROPPED_NAME ? `${originalName.slice(0, 160)}...${shardOf(originalName)}` : originalName;
  const base = `${short}.${now}`;
  const dest = join(store.quarantine, base);
  if (!fence(from, dest)) return null;
  let text = reason;
  if (short !== originalName) text = `${text}\n(original name: ${originalName})`;
  await writeFileDurable(store, `${dest}.reason`, `${text}\n`).catch(() => {});
  return dest;
}

async function toQuarantine(store: Store, from: string, name: string, reason: string, now: number): Promise<IntakeResult> {
  return (await quarantine(store, from, name, reason, now)) ? { kind: 'quarantined', reason } : { kind: 'fenced' };
}

/** A file in quarantine/ and why it is there. */
export interface Quarantined {
  /** Its name in quarantine/. */
  name: string;
  /** The name it had in pending/. */
  originalName: string;
  /** When it was moved there (epoch ms). */
  at: number;
  reason: string;
}

/** Everything in quarantine/, oldest first. */
export async function listQuarantine(store: Store): Promise<Quarantined[]> {
  const names = await fsp.readdir(store.quarantine).catch(() => [] as string[]);
  const out: Quarantined[] = [];
  for (const name of names) {
    if (name.endsWith('.reason') || name.startsWith('.')) continue;
    const m = /^(.*)\.(\d+)$/.exec(name);
    const reason = (await fsp.readFile(join(store.quarantine, `${name}.reason`), 'utf8').catch(() => '')).trim();
    const original = /\(original name: (.*)\)$/m.exec(reason)?.[1] ?? m?.[1] ?? name;
    out.push({ name, originalName: original, at: m ? Number(m[2]) : 0, reason: reason.replace(/\n\(original name: .*\)$/m, '') });
  }
  return out.sort((a, b) => a.at - b.at || a.name.localeCompare(b.name));
}

/**
 * Puts a quarantined file back into pending/ under its original name (a worker checks it again). Uses
 * link + unlink, so a newer file of that name in pending/ is never replaced: then a fresh name is used.
 * Returns the name it got in pending/.
 */
export function releaseQuarantined(store: Store, name: string, now: number): string {
  if (name.includes('/') || name.startsWith('.') || name.endsWith('.reason')) throw new Error(`not a quarantined file: ${name}`);
  const from = join(store.quarantine, name);
  const m = /^(.*)\.(\d+)$/.exec(name);
  const original = m ? m[1] : name;
  const base = original.endsWith('.json') ? original.slice(0, -5) : original;
  for (const candidate of [`${base}.json`, `${base}.released-${now}.json`]) {
    if (candidate.length > MAX_DROPPED_NAME) continue;
    try {
      fs.linkSync(from, join(store.pending, candidate));
    } catch (err) {
      if (isErrno(err, 'EEXIST')) continue;
      throw err;
    }
    fs.unlinkSync(from);
    fs.rmSync(`${from}.reason`, { force: true });
    return candidate;
  }
  throw new Error(`cannot put ${name} back: pending/ already holds files of its names`);
}

// ==== enqueue: reservations, commit, publish ==============================================================

/** The commit file of a batch: tmp/commit~<tag>~<n>~<batch>. */
function hasCommit(tmpNames: string[], owner: string, batch: string): boolean {
  return tmpNames.some((n) => {
    const t = parseTmpName(n);
    return t?.kind === 'commit' && t.owner === owner && t.detail === batch;
  });
}

/**
 * The commit point of a batch of two or more jobs: from this file's creation on, the batch is acknowledged
 * as a whole, and anyone may publish what is left of it in tmp/ once its writer is gone. Returns its path.
 */
export function writeCommitSync(store: Store, batch: string): string {
  const path = tmpPath(store, 'commit', batch);
  // Empty: it needs an inode but no data block, so a full disk fails it before it exists, never half-way.
  fs.closeSync(fs.openSync(path, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL, 0o600));
  return path;
}

/**
 * Publishes one enqueued job: tmp/enq.. -> pending/<name>. The name holds the job's reserved id, so no
 * other file can have it. Throws what rename throws (ENOSPC on a full folder), changing nothing.
 */
export function publishSync(store: Store, tmp: string, name: string, into: 'pending' | 'waiting' = 'pending'): void {
  fs.renameSync(tmp, join(into === 'pending' ? store.pending : store.waiting, name));
}

/** Frees the reservations and files of a batch that did not reach its commit (nothing was acknowledged). */
export function abandonUncommitted(store: Store, files: { id: string; tmp: string }[]): void {
  for (const f of files) {
    releaseIfTwin(store, f.id, f.tmp);
    fs.rmSync(f.tmp, { force: true });
  }
}

export interface LeftoverReport {
  /** Jobs of committed batches published now. */
  published: string[];
  /** Reservations of uncommitted batches released. */
  released: string[];
  /** Jobs of committed batches that could not be published yet (e.g. ENOSPC). */
  waiting: number;
}

/**
 * Finishes what dead enqueue processes left in tmp/: a committed batch is published (rolled forward), an
 * uncommitted one is released (rolled back). Writers still alive, or on another host and younger than
 * ORPHAN_AGE_MS, are left alone.
 */
export async function finishEnqueues(store: Store, now: number): Promise<LeftoverReport> {
  const report: LeftoverReport = { published: [], released: [], waiting: 0 };
  const names = await fsp.readdir(store.tmp).catch(() => [] as string[]);
  const batches = new Map<string, { owner: string; batch: string; files: { id: string; tmp: string }[]; commit: string | null; leftAt: number }>();
  for (const name of names) {
    const t = parseTmpName(name);
    if (!t || (t.kind !== 'enq' && t.kind !== 'commit') || !t.detail) continue;
    const tilde = t.detail.indexOf('~');
    const batch = t.kind === 'commit' ? t.detail : t.detail.slice(0, tilde);
    const key = `${t.owner}~${batch}`;
    const path = join(store.tmp, name);
    const st = fs.statSync(path, { throwIfNoEntry: false });
    if (!st) continue;
    const b = batches.get(key) ?? { owner: t.owner, batch, files: [], commit: null, leftAt: 0 };
    b.leftAt = Math.max(b.leftAt, st.mtimeMs);
    if (t.kind === 'commit') b.commit = path;
    else if (tilde > 0) b.files.push({ id: t.detail.slice(tilde + 1), tmp: path });
    batches.set(key, b);
  }
  for (const b of batches.values()) {
    if (ownerLiveness(b.owner, b.leftAt, now) !== 'dead') continue;
    // The owner is dead, so the commit file can no longer appear or go: look once more, then act.
    const committed = b.commit !== null && fs.existsSync(b.commit);
    if (!committed) {
      abandonUncommitted(store, b.files);
      report.released.push(...b.files.map((f) => f.id));
      continue;
    }
    let left = 0;
    for (const f of b.files) {
      const r = readJobFileSync(f.tmp);
      if (!r.ok) continue;
      const job = safeParse(r.text);
      if (!job) continue;
      try {
        // A job with dependencies goes to waiting/ (its links were made before the commit); recovery's
        // dependency sweep lets it go once they are done.
        if (job.after?.length) publishSync(store, f.tmp, waitingName(job), 'waiting');
        else publishSync(store, f.tmp, pendingName(job));
        report.published.push(job.id);
      } catch (err) {
        if (isErrno(err, 'ENOENT')) continue; // published by another process meanwhile
        left++;
      }
    }
    report.waiting += left;
    if (left === 0) fs.rmSync(b.commit!, { force: true });
  }
  return report;
}

// ==== dependencies: waiting/ and deps/ =================================================================

/** deps/<dep>/<waiter>: `waiter` waits for `dep`. Made before the waiter is published into waiting/. */
export function linkDependency(store: Store, dep: string, waiter: string): void {
  assertValidId(dep);
  assertValidId(waiter);
  const dir = join(store.deps, dep);
  const path = join(dir, waiter);
  try {
    fs.closeSync(fs.openSync(path, 'w', 0o600));
  } catch (err) {
    if (!isErrno(err, 'ENOENT')) throw withSubject(err, `make ${path}`);
    ensureRealDir(dir);
    fs.closeSync(fs.openSync(path, 'w', 0o600));
  }
}

/** Removes one link (and the dependency's folder when it is the last one). */
export function unlinkDependency(store: Store, dep: string, waiter: string): void {
  fs.rmSync(join(store.deps, dep, waiter), { force: true });
  try {
    fs.rmdirSync(join(store.deps, dep));
  } catch {
    // others still wait, or gone already
  }
  forgetRealDir(join(store.deps, dep));
}

/** Whether `waiter` still waits for `dep`. */
export function isLinked(store: Store, dep: string, waiter: string): boolean {
  return fs.existsSync(join(store.deps, dep, waiter));
}

/** The jobs waiting for `dep` (their ids). */
export function dependentsOf(store: Store, dep: string): string[] {
  try {
    return fs.readdirSync(join(store.deps, dep));
  } catch (err) {
    if (isErrno(err, 'ENOENT', 'ENOTDIR')) return [];
    throw err;
  }
}

/** Every dependency some job waits for (the folders of deps/). */
export function dependencyIds(store: Store): string[] {
  return fs.readdirSync(store.deps).filter((n) => !n.startsWith('.'));
}

/** A waiting job whose dependencies are done: waiting/<name> -> pending/<its pending name>. False if gone. */
export function unwait(store: Store, name: string, job: Job): boolean {
  return fence(join(store.waiting, name), join(store.pending, pendingName(job)));
}

/**
 * A waiting job that will never run (a dependency ended dead, or it was cancelled): taken by a rename to
 * waiting/.doom~<owner>~<name> (the fence: a job released or doomed meanwhile is left alone), its final
 * record written over it there, then moved to dead/<id>.json. False when it was gone.
 */
export function doom(store: Store, name: string, job: Job, owner: string): boolean {
  const taken = join(store.waiting, `.doom~${owner}~${name}`);
  if (!fence(join(store.waiting, name), taken)) return false;
  replaceFileSync(store, taken, serializeJob(job));
  return fence(taken, deadPath(store, job.id));
}

/** A doom left half-done by a dead owner (waiting/.doom~<owner>~<name>), or null for any other name. */
export function parseDoomName(file: string): { owner: string; name: string } | null {
  const m = /^\.doom~([^~]+)~(.+)$/.exec(file);
  return m ? { owner: m[1], name: m[2] } : null;
}

/** Finishes a dead owner's doom: the record it holds (rewritten or not) goes to dead/ as `job`. */
export function finishDoom(store: Store, file: string, job: Job): boolean {
  const from = join(store.waiting, file);
  const taken = join(store.waiting, `.doom~${processTag().text}~${parseDoomName(file)?.name ?? file}`);
  if (!fence(from, taken)) return false;
  replaceFileSync(store, taken, serializeJob(job));
  return fence(taken, deadPath(store, job.id));
}

// ==== requests to workers ==================================================================================

export type RequestKind = 'stop' | 'cancel';

export function requestPath(store: Store, worker: string, kind: RequestKind): string {
  return join(store.workers, `${worker}.${kind}`);
}

/** Writes a request whole (tmp + rename): a worker never reads half of one. */
export async function writeRequest(store: Store, worker: string, kind: RequestKind, content: string): Promise<void> {
  await writeFileDurable(store, requestPath(store, worker, kind), `${content}\n`);
}

/**
 * Takes a request: renames it into tmp/ (so exactly one reader gets it, and a request written again
 * meanwhile is a new one), reads it, removes it. Null when there is none.
 */
export function takeRequestSync(store: Store, worker: string, kind: RequestKind): string | null {
  const taken = tmpPath(store, 'req', `${worker}.${kind}`);
  try {
    fs.renameSync(requestPath(store, worker, kind), taken);
  } catch (err) {
    if (isErrno(err, 'ENOENT')) return null;
    throw err;
  }
  try {
    return fs.readFileSync(taken, 'utf8').trim();
  } finally {
    fs.rmSync(taken, { force: true });
  }
}

/** Makes a shard folder of completed/ if a move finds it missing. */
export function ensureShard(store: Store, shard: string): void {
  fs.mkdirSync(join(store.completed, shard), { recursive: true, mode: DIR_MODE });
}

/** The stage files of pending/ (hidden), from a listing. */
export function stageFiles(names: readonly string[]): string[] {
  return names.filter((n) => n.startsWith('.stage~') || n.startsWith('.intake~'));
}

/** Reads a claim for recovery: its record (or null when it is not one) and when the claim was made. */
export function readClaimForRecovery(path: string): { job: Job | null; problem: string | null; claimedAt: number } | null {
  const r = readJobFileSync(path);
  if (!r.ok) return r.gone ? null : { job: null, problem: r.problem, claimedAt: 0 };
  try {
    // rename(2) sets the ctime of what it moves: the claim's ctime is when it was claimed.
    return { job: parseStoredJob(r.text, path, 'processing'), problem: null, claimedAt: Math.max(r.ctimeMs, r.mtimeMs) };
  } catch (err) {
    return { job: null, problem: (err as Error).message, claimedAt: Math.max(r.ctimeMs, r.mtimeMs) };
  }
}
