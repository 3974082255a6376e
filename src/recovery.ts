// Recovery: finishes what dead processes left half-done. One pass (recover) handles, in this order:
//  1. intents of dead workers: their finished runs are moved with the final record (no rerun);
//  2. claims of dead workers: leftover processes of the job are killed first, then the run counts as lost
//     (outcome.afterLostRun: back to pending at once, or dead when its retries are used up); a claim of a
//     dropped file is taken in instead (no run happened);
//  3. stages in pending/ of dead owners: published, or (old record) the lost run counted first; intake
//     stages are finished;
//  4. batches of dead enqueue processes: a committed one is published, an uncommitted one released;
//  5. heartbeat files of workers gone for an hour.
// Whether a worker is dead is judged once, in heartbeat.ts (judgeWorker). Every move is fenced, so many
// recovering processes at once, and a paused worker that wakes up, never both move a job.

import * as fs from 'node:fs';
import { promises as fsp } from 'node:fs';
import { join } from 'node:path';
import type { BackoffPolicy } from './backoff.js';
import { type HeartbeatMemory, heartbeatPath, readWorkers, type WorkerStatus } from './heartbeat.js';
import { isLocalHost, parseProcessTag } from './identity.js';
import type { Job, JobDefaults } from './job.js';
import {
  bury, claimOfIntent, dischargeRun, dropStage, finishDoom, parseDoomName, unlinkDependency, listAdmitted, finishEnqueues, finishIntakeStage, intake, markerPath, ownerLiveness, parseClaimName, parseStageName,
  pendingName, publishStage, quarantine, readClaimForRecovery, requeue, resolveIntent, stageFiles, takeStage,
} from './lifecycle.js';
import { killJobProcesses } from './leftovers.js';
import { settleDependents, sweepDependencies } from './dependencies.js';
import { afterLostRun, type LostRun } from './outcome.js';
import { retireStats } from './stats.js';
import { listHiddenNames, listJsonNames, parseTmpName, readJobFileSync, type Store } from './store.js';

export interface RecoveryOptions {
  store: Store;
  staleAfterMs: number;
  policy: BackoffPolicy;
  /** Defaults for dropped files recovery takes in (the config's max-retries). */
  defaults: JobDefaults;
  /** mtime of a heartbeat this process just touched: "now" on the filesystem's clock. */
  reference: number;
  /** Workers of this process: never dead to ourselves. */
  self: ReadonlySet<string>;
  /** Owner name for the stages this pass makes (a worker id of this process, or a process tag). */
  owner: string;
  now: number;
  /** Kept by the caller across passes (see HeartbeatMemory). */
  memory?: HeartbeatMemory;
  /** The hidden names of pending/ as a recent listing saw them (a worker's index has them); else pending/ is listed. */
  pendingNames?: readonly string[];
}

export type RecoveryEvent =
  | { type: 'recovered'; id: string; from: string; to: 'pending' | 'dead' | 'completed'; killed: number; why?: string }
  | { type: 'quarantined'; name: string; reason: string }
  | { type: 'normalized'; name: string; id: string }
  | { type: 'published'; name: string }
  | { type: 'enqueues'; published: number; released: number; waiting: number }
  | { type: 'dependents'; released: string[]; doomed: number };

/** Who is dead, as one pass sees it (doctor.ts judges with it too, to say what recovery will do). */
export interface Judge {
  workers: Map<string, WorkerStatus>;
  /** Why a worker id counts as dead; null while alive. */
  deadWorker(id: string): string | null;
  /** Whether the owner of a file left at `leftAt` (mtime) is dead. */
  deadOwner(owner: string, leftAt: number): boolean;
}

export async function makeJudge(opts: Pick<RecoveryOptions, 'store' | 'reference' | 'staleAfterMs' | 'self' | 'memory' | 'now'>): Promise<Judge> {
  const list = await readWorkers(opts.store, opts.reference, opts.staleAfterMs, { self: opts.self, memory: opts.memory });
  const workers = new Map(list.map((w) => [w.id, w]));
  const deadWorker = (id: string): string | null => {
    if (opts.self.has(id)) return null;
    const w = workers.get(id);
    if (w) return w.dead_because;
    // Not among the heartbeats read when this pass began: a worker that started since (another process
    // starting beside this one) has one now and may already hold claims and admissions. Without this
    // look, its live run was taken over and its admission freed (a queue limit overrun). Only a fresh
    // file counts: one that stays unreadable ages past stale-after and is dead like a missing one. The
    // next pass judges it like any other.
    const st = fs.statSync(heartbeatPath(opts.store, id), { throwIfNoEntry: false });
    return st && opts.reference - st.mtimeMs <= opts.staleAfterMs ? null : 'it has no heartbeat file';
  };
  const deadOwner = (owner: string, leftAt: number): boolean => {
    if (!parseProcessTag(owner)) return deadWorker(owner) !== null;
    const l = ownerLiveness(owner, leftAt, opts.now);
    // A process elsewhere: dead once what it left is older than stale-after.
    return l === 'dead' || (l === 'unknown' && opts.reference - leftAt > opts.staleAfterMs);
  };
  return { workers, deadWorker, deadOwner };
}

/** One pass of recovery. Safe to run in many processes at once: every move is a fenced rename. */
export async function recover(opts: RecoveryOptions): Promise<RecoveryEvent[]> {
  const events: RecoveryEvent[] = [];
  const judge = await makeJudge(opts);
  await recoverIntents(opts, judge, events);
  await recoverClaims(opts, judge, events);
  await recoverStages(opts, judge, events);
  recoverDooms(opts, judge);
  const swept = sweepDependencies(opts.store, { now: opts.now, owner: opts.owner });
  if (swept.released.length || swept.doomed.length) events.push({ type: 'dependents', released: swept.releasedNames, doomed: swept.doomed.length });
  // Admissions under queue limits held by dead workers (their claims were recovered just above, and
  // whatever their jobs left running was killed first): their share of the limit is free again.
  for (const a of listAdmitted(opts.store)) {
    const c = parseClaimName(a.claim);
    if (c && judge.deadWorker(c.worker) !== null) dischargeRun(opts.store, a.queue, a.claim);
  }
  const e = await finishEnqueues(opts.store, opts.now);
  if (e.published.length || e.released.length || e.waiting) events.push({ type: 'enqueues', published: e.published.length, released: e.released.length, waiting: e.waiting });
  // Counters of worker processes that are gone move into retired.totals; a live one's stay (stats.ts).
  await retireStats(opts.store, (tag) => judge.deadWorker(tag) !== null, { reference: opts.reference, now: opts.now }).catch(() => 0);
  await removeOldHeartbeats(opts, judge);
  return events;
}

async function recoverIntents(opts: RecoveryOptions, judge: Judge, events: RecoveryEvent[]): Promise<void> {
  for (const file of await fsp.readdir(opts.store.processing).catch(() => [] as string[])) {
    const claimFile = claimOfIntent(file);
    const claim = claimFile ? parseClaimName(claimFile) : null;
    if (!claimFile || !claim || judge.deadWorker(claim.worker) === null) continue;
    const r = await resolveIntent(opts.store, join(opts.store.processing, claimFile));
    if (r && r.did !== 'dropped') settleDependents(opts.store, r.job.id, r.job.state === 'completed' ? 'completed' : 'dead', { now: opts.now, owner: opts.owner });
    if (r && r.did !== 'dropped') events.push({ type: 'recovered', id: r.job.id, from: claim.worker, to: r.job.state === 'completed' ? 'completed' : 'dead', killed: 0 });
  }
}

async function recoverClaims(opts: RecoveryOptions, judge: Judge, events: RecoveryEvent[]): Promise<void> {
  const { store } = opts;
  for (const name of await listJsonNames(store.processing)) {
    const claim = parseClaimName(name);
    const why = claim ? judge.deadWorker(claim.worker) : null;
    if (!claim || why === null) continue;
    const path = join(store.processing, name);
    // Whatever the job left running on this host goes at once (it has been running unwatched), and again
    // after the fence below.
    let killed = killJobProcesses(name);
    if (claim.id === null || !fs.existsSync(markerPath(store, claim.id))) {
      // A dropped file (or one under a queuectl-style name whose id was never reserved): no run happened.
      const r = await intake(store, path, claim.pendingName, { now: () => opts.now, defaults: opts.defaults, owner: opts.owner, settleMs: 0 });
      if (r.kind === 'taken') events.push({ type: 'normalized', name: claim.pendingName, id: r.job.id });
      else if (r.kind === 'quarantined') events.push({ type: 'quarantined', name: claim.pendingName, reason: r.reason });
      continue;
    }
    const read = readClaimForRecovery(path);
    if (!read) continue; // another process was first
    if (!read.job) {
      if (await quarantine(store, path, claim.pendingName, read.problem ?? 'unreadable', opts.now)) events.push({ type: 'quarantined', name: claim.pendingName, reason: read.problem ?? '' });
      continue;
    }
    const w = judge.workers.get(claim.worker);
    const lost: LostRun = { worker: claim.worker, host: w?.host ?? 'unknown', pid: w && isLocalHost(w) ? w.pid : (w?.pid ?? 0), startedAt: read.claimedAt, why };
    // And once the claim is ours (the fence), before the job is visible again: a worker that was only
    // paused and resumed since the first kill, before the fence, has its command killed here; one that
    // resumes after it finds the claim gone and never starts the command (the runner's guard). Either way
    // the command cannot run beside its next run.
    const to = await moveLost(opts, path, read.job, lost, () => { killed += killJobProcesses(name); });
    if (to) events.push({ type: 'recovered', id: read.job.id, from: claim.worker, to, killed, why });
  }
}

/** Counts a lost run and moves the file with the usual fence; null when another process was first. */
async function moveLost(opts: RecoveryOptions, path: string, job: Job, lost: LostRun, onFenced?: () => void): Promise<'pending' | 'dead' | null> {
  const next = afterLostRun(job, lost, opts.now, opts.policy);
  if (next.to === 'dead') {
    if (!bury(opts.store, path, next.job, undefined, onFenced)) return null;
    settleDependents(opts.store, job.id, 'dead', { now: opts.now, owner: opts.owner });
    return 'dead';
  }
  return (await requeue(opts.store, path, next.job, opts.owner, undefined, 'pending', onFenced)) ? 'pending' : null;
}

/** Dooms (lifecycle.ts) whose owner died after their fence: the job goes to dead/ as its record says. */
function recoverDooms(opts: RecoveryOptions, judge: Judge): void {
  for (const file of fs.readdirSync(opts.store.waiting)) {
    const d = parseDoomName(file);
    if (!d) continue;
    const path = join(opts.store.waiting, file);
    const st = fs.statSync(path, { throwIfNoEntry: false });
    if (!st || !judge.deadOwner(d.owner, st.mtimeMs)) continue;
    const read = readJobFileSync(path);
    if (!read.ok) continue;
    let job: Job;
    try {
      job = JSON.parse(read.text) as Job;
    } catch {
      continue;
    }
    const iso = new Date(opts.now).toISOString();
    const final: Job = job.finished_at ? job : { ...job, state: 'dead', finished_at: iso, updated_at: iso, last_error: job.last_error ?? 'dependency-failed' };
    if (finishDoom(opts.store, file, final)) {
      for (const dep of job.after ?? []) unlinkDependency(opts.store, dep, job.id);
      settleDependents(opts.store, job.id, 'dead', { now: opts.now, owner: opts.owner });
    }
  }
}

async function recoverStages(opts: RecoveryOptions, judge: Judge, events: RecoveryEvent[]): Promise<void> {
  const { store } = opts;
  const names = opts.pendingNames ?? (await listHiddenNames(store.pending).catch(() => [] as string[]));
  for (const file of stageFiles(names)) {
    const s = parseStageName(file);
    if (!s || s.owner === opts.owner) continue;
    const st = fs.statSync(join(store.pending, file), { throwIfNoEntry: false });
    if (!st || !judge.deadOwner(s.owner, st.mtimeMs)) continue;
    const stage = takeStage(store, file, opts.owner);
    if (!stage) continue; // another process was first
    if (s.kind === 'intake') {
      const r = await finishIntakeStage(store, stage, s.name, { now: () => opts.now, defaults: opts.defaults });
      if (r.kind === 'taken') events.push({ type: 'normalized', name: r.job.source ?? s.name, id: r.job.id });
      else if (r.kind === 'quarantined') events.push({ type: 'quarantined', name: s.name, reason: r.reason });
      continue;
    }
    await finishStage(opts, stage, s.name, s.owner, events);
  }
}

/** A requeue stage this process took over: publish its record, or count the run its old record misses. */
async function finishStage(opts: RecoveryOptions, stage: { dir: string | null; file: string }, name: string, owner: string, events: RecoveryEvent[]): Promise<void> {
  const { store } = opts;
  // A bury from the stage (a lost run with no retries left) may have died half-way: finish that first.
  const intent = await resolveIntent(store, stage.file);
  if (intent && intent.did !== 'dropped') {
    dropStage(stage);
    events.push({ type: 'recovered', id: intent.job.id, from: owner, to: intent.job.state === 'completed' ? 'completed' : 'dead', killed: 0 });
    return;
  }
  const read = readClaimForRecovery(stage.file);
  if (!read) {
    dropStage(stage); // empty: its owner died before its fence or after its publish
    return;
  }
  if (!read.job) {
    if (await quarantine(store, stage.file, name, read.problem ?? 'unreadable', opts.now)) events.push({ type: 'quarantined', name, reason: read.problem ?? '' });
    dropStage(stage);
    return;
  }
  if (pendingName(read.job) !== name) {
    // Its owner died after the fence but before writing the new record: the stage still holds the record
    // from before the run. Account for that run as a lost one, as for a stale claim.
    const lost: LostRun = { worker: owner, host: 'unknown', pid: 0, startedAt: read.claimedAt, why: 'it died while moving the job back to pending/' };
    const to = await moveLost(opts, stage.file, read.job, lost);
    dropStage(stage);
    if (to) events.push({ type: 'recovered', id: read.job.id, from: owner, to, killed: 0 });
    return;
  }
  if (publishStage(store, stage, name)) events.push({ type: 'published', name });
}

/** Heartbeat files (and requests to them) of workers gone for an hour (or ten times stale-after). */
async function removeOldHeartbeats(opts: RecoveryOptions, judge: Judge): Promise<void> {
  const limit = Math.max(3_600_000, opts.staleAfterMs * 10);
  for (const w of judge.workers.values()) {
    if (opts.self.has(w.id) || opts.reference - w.heartbeat_at <= limit) continue;
    for (const suffix of ['json', 'stop', 'cancel']) await fsp.unlink(join(opts.store.workers, `${w.id}.${suffix}`)).catch(() => {});
  }
}

/**
 * Removes files left in tmp/ for over an hour by writers that crashed mid-write (never visible as jobs).
 * Batches of enqueue processes are not swept here: finishEnqueues publishes or releases them.
 */
export async function sweepTmp(store: Store, now: number): Promise<number> {
  let removed = 0;
  for (const name of await fsp.readdir(store.tmp).catch(() => [] as string[])) {
    const kind = parseTmpName(name)?.kind;
    if (kind === 'enq' || kind === 'commit') continue;
    const path = join(store.tmp, name);
    const st = fs.statSync(path, { throwIfNoEntry: false });
    if (st && now - st.mtimeMs > 3_600_000) {
      await fsp.unlink(path).catch(() => {});
      removed++;
    }
  }
  return removed;
}
