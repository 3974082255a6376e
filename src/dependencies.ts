// Dependencies between jobs (`after`). Who waits for whom is deps/<dependency>/<waiter> (lifecycle.ts); a
// waiting job sits in waiting/ until every job it names has completed, and goes to dead/ with
// failed_dependency when one of them ends dead (and so, in turn, do the jobs that wait for it).
//
// Settling is driven by finished jobs, never by scanning every waiting job for every completion:
//  - whoever moves a job to completed/ or dead/ (a worker, recovery, cancel) settles that job's
//    dependents (settleDependents): 10,000 jobs waiting for one are 10,000 moves by the one that
//    finished it, and a waiting job starts within moments of its last dependency completing;
//  - enqueue (and dlq retry) settle the jobs they just put in waiting/: a dependency may have finished
//    between their links and their publish (the links come first, so nothing is missed either way);
//  - recovery sweeps deps/: a dependency folder whose job has finished means a settler died mid-way.
// Every move of a waiting job is fenced (lifecycle unwait, doom), so settlers racing never both move one.

import * as fs from 'node:fs';
import type { Job } from './job.js';
import {
  dependencyIds, dependentsOf, doom, type FaultHook, isLinked, linkDependency, markerPath, parseClaimName, parsePendingName, parseStageName, parseWaitingName,
  pendingName, unlinkDependency, unwait,
} from './lifecycle.js';
import { completedShardsSync, finishedState } from './lifecycle.js';
import { readJobFileSync, type Store } from './store.js';

/**
 * Where a dependency stands. A job in pending/, processing/ or waiting/ is unfinished, one in dead/ is
 * dead, one in completed/ completed. One whose id is reserved but that is in none of these is on its way
 * (an enqueue between its reservation and its publish): unfinished. One whose id is free no longer
 * exists: it completed and was purged (a dead one's dependents were settled when it died).
 */
export type DepState = 'completed' | 'dead' | 'unfinished';

/** The states of jobs by id, from one listing of the folders of unfinished jobs (names only). */
export class StateSnapshot {
  private readonly unfinished = new Set<string>();
  private readonly waiting = new Map<string, string>();
  private readonly known = new Map<string, DepState>();
  private shards: string[] | null = null;

  constructor(private readonly store: Store) {
    for (const n of fs.readdirSync(store.pending)) {
      const p = parsePendingName(parseStageName(n)?.name ?? n);
      if (p) this.unfinished.add(p.id);
    }
    for (const n of fs.readdirSync(store.processing)) {
      const c = parseClaimName(n);
      if (c?.id) this.unfinished.add(c.id);
    }
    for (const n of fs.readdirSync(store.waiting)) {
      const w = parseWaitingName(n);
      if (w && !n.startsWith('.')) {
        this.unfinished.add(w.id);
        this.waiting.set(w.id, n);
      }
    }
  }

  /** A job in pending/, processing/ or waiting/ is unfinished; one in dead/ is dead; any other is done. */
  of(id: string): DepState {
    if (this.unfinished.has(id)) return 'unfinished';
    const seen = this.known.get(id);
    if (seen) return seen;
    let st: DepState;
    st = finishedState(this.store, id, () => (this.shards ??= completedShardsSync(this.store)))
      ?? (fs.existsSync(markerPath(this.store, id)) ? 'unfinished' : 'completed');
    this.known.set(id, st);
    return st;
  }

  /** The waiting/ file name of a job, if it waits. */
  waitingName(id: string): string | undefined {
    return this.waiting.get(id);
  }

  /** Every job in waiting/ when the snapshot was taken. */
  waitingIds(): string[] {
    return [...this.waiting.keys()];
  }

  /** Records that a job has moved (settled): it is no longer unfinished here. */
  settled(id: string, to: 'pending' | 'dead'): void {
    this.waiting.delete(id);
    if (to === 'dead') {
      this.unfinished.delete(id);
      this.known.set(id, 'dead');
    }
  }

  /** Records a state known for sure (the job its caller just finished). */
  know(id: string, st: DepState): void {
    if (st !== 'unfinished') this.unfinished.delete(id);
    this.known.set(id, st);
  }
}

export interface SettleOptions {
  now: number;
  /** Owner name for the moves (a worker id or a process tag). */
  owner: string;
  /**
   * false: the jobs are orphans (waiting with no link left, found by the sweep), judged by the state of
   * every job they name rather than by their links.
   */
  linksOnly?: boolean;
  /** QUEUECTL_FAULT in a worker (lifecycle.ts); a no-op elsewhere. */
  fault?: FaultHook;
}

export interface SettleReport {
  /** Jobs that may run now: moved to pending/ (their ids). */
  released: string[];
  /** Their names in pending/ (a worker adds them to its index at once). */
  releasedNames: string[];
  /** Jobs moved to dead/ because a dependency ended dead. */
  doomed: string[];
}

/** The dead record of a job that will never run because `dep` ended dead. */
function doomedRecord(job: Job, dep: string, now: number): Job {
  const iso = new Date(now).toISOString();
  return { ...job, state: 'dead', finished_at: iso, updated_at: iso, failed_dependency: dep, last_error: `dependency-failed: job "${dep}" ended dead` };
}

/**
 * Settles the given waiting jobs against the states in `snap`: a dead dependency dooms the job (and, in
 * turn, the jobs waiting for it); a job whose linked dependencies have all completed is released to
 * pending/; otherwise the links of its completed dependencies are dropped.
 *
 * Order (crash safety): a waiting job keeps at least one link until it has left waiting/, because links
 * are how a finished dependency (and recovery's sweep) finds its waiters. So a release moves the job
 * first and drops its links after; a kill in between leaves links of a completed dependency whose waiter
 * is not waiting, which the sweep drops. Dropping the last link first left a job in waiting/ that nobody
 * would ever look at (found by torture case 13 under load).
 */
export function settleWaiters(store: Store, waiters: Iterable<string>, opts: SettleOptions, snap = new StateSnapshot(store)): SettleReport {
  const report: SettleReport = { released: [], releasedNames: [], doomed: [] };
  const work = [...waiters];
  for (let id = work.pop(); id !== undefined; id = work.pop()) {
    const name = snap.waitingName(id);
    if (!name) continue; // not waiting (settled already, or not published yet: its enqueue settles it)
    const job = readWaiting(store, name);
    if (!job) continue;
    const linked = (job.after ?? []).filter((dep) => isLinked(store, dep, id));
    const states = linked.map((dep) => snap.of(dep));
    const verdict = judge(job, linked, states, opts.linksOnly === false ? (dep) => snap.of(dep) : null);
    if (verdict.to === 'dead') {
      if (doom(store, name, doomedRecord(job, verdict.dep, opts.now), opts.owner)) {
        report.doomed.push(id);
        snap.settled(id, 'dead');
        for (const dep of job.after ?? []) unlinkDependency(store, dep, id);
        work.push(...dependentsOf(store, id)); // they wait for a job that is dead now
      }
      continue;
    }
    if (verdict.to === 'pending') {
      if (unwait(store, name, { ...job, state: 'pending' })) {
        report.released.push(id);
        report.releasedNames.push(pendingName(job));
        snap.settled(id, 'pending');
        opts.fault?.('settle-after-release');
        for (const dep of job.after ?? []) unlinkDependency(store, dep, id);
      }
      continue;
    }
    // Still waiting for at least one job (linked, or relinked just now): the completed ones' links go.
    for (const dep of verdict.relink) linkDependency(store, dep, id);
    linked.forEach((dep, i) => {
      if (states[i] === 'completed') unlinkDependency(store, dep, id);
    });
  }
  return report;
}

function readWaiting(store: Store, name: string): Job | null {
  const read = readJobFileSync(`${store.waiting}/${name}`);
  if (!read.ok) return null;
  try {
    return JSON.parse(read.text) as Job;
  } catch {
    return null;
  }
}

type Verdict = { to: 'dead'; dep: string } | { to: 'pending' } | { to: 'waiting'; relink: string[] };

/**
 * Where a waiting job goes, from the states of its linked dependencies. A job with no link left at all
 * (`stateOf` given: an orphan the sweep found) is judged by the state of every dependency it names, and
 * the unfinished ones are linked again so that their end finds it.
 */
function judge(job: Job, linked: string[], states: DepState[], stateOf: ((dep: string) => DepState) | null): Verdict {
  if (linked.length === 0 && stateOf) {
    const all = (job.after ?? []).map((dep) => ({ dep, st: stateOf(dep) }));
    const dead = all.find((d) => d.st === 'dead');
    if (dead) return { to: 'dead', dep: dead.dep };
    const open = all.filter((d) => d.st === 'unfinished').map((d) => d.dep);
    return open.length ? { to: 'waiting', relink: open } : { to: 'pending' };
  }
  const deadAt = states.indexOf('dead');
  if (deadAt >= 0) return { to: 'dead', dep: linked[deadAt] };
  return states.every((st) => st === 'completed') ? { to: 'pending' } : { to: 'waiting', relink: [] };
}

/** Waiters settled between two turns of the event loop by settleDependentsInSlices. */
const SLICE = 200;

/**
 * settleDependents for a worker: the waiters are settled SLICE at a time, yielding to the event loop
 * between slices, and each slice's report goes to `onSlice` at once. So the first of 10,000 jobs waiting
 * for one can start while the rest are still being moved, and the worker's heartbeats keep going (one
 * synchronous pass over 10,000 took 5.4s on a loaded machine: nothing started, and no heartbeat, for that
 * long). A worker that stops or dies half-way leaves the rest linked: recovery's sweep settles them.
 */
export async function settleDependentsInSlices(store: Store, dep: string, outcome: 'completed' | 'dead', opts: SettleOptions, onSlice: (r: SettleReport) => void): Promise<void> {
  const waiters = dependentsOf(store, dep);
  if (waiters.length === 0) return;
  const snap = new StateSnapshot(store);
  snap.know(dep, outcome);
  for (let i = 0; i < waiters.length; i += SLICE) {
    if (i > 0) await new Promise<void>((r) => setImmediate(r));
    onSlice(settleWaiters(store, waiters.slice(i, i + SLICE), opts, snap));
  }
}

/** After `dep` moved to completed/ or dead/: settles every job waiting for it. Cheap when none does. */
export function settleDependents(store: Store, dep: string, outcome: 'completed' | 'dead', opts: SettleOptions): SettleReport {
  const waiters = dependentsOf(store, dep);
  if (waiters.length === 0) return { released: [], releasedNames: [], doomed: [] };
  const snap = new StateSnapshot(store);
  snap.know(dep, outcome);
  return settleWaiters(store, waiters, opts, snap);
}

/** Links older than this whose job is not waiting are dropped by the sweep (an enqueue that died). */
const STRAY_LINK_MS = 3_600_000;

/**
 * Recovery's sweep of deps/ and waiting/:
 *  - every dependency whose job has finished gets its waiters settled (a settler died mid-way);
 *  - links of jobs that are not waiting (settled, or not published yet) are dropped: at once when their
 *    dependency completed (a release killed before it dropped its links; a job published later without
 *    it is released by its publisher's settle, or below), else once an hour old (an enqueue that died);
 *  - a waiting job with no link at all (left by an older queuectl, or a publisher killed before its own
 *    settle after a link was dropped here) is judged by the state of every job it names.
 * waiting/ is listed (the snapshot) before the links: a job published after that listing is not judged
 * an orphan for links it has not made yet, and links only ever go after their job left waiting/.
 */
export function sweepDependencies(store: Store, opts: SettleOptions): SettleReport {
  const total: SettleReport = { released: [], releasedNames: [], doomed: [] };
  if (dependencyIds(store).length === 0 && !hasWaiting(store)) return total;
  const snap = new StateSnapshot(store);
  const add = (r: SettleReport) => {
    total.released.push(...r.released);
    total.releasedNames.push(...r.releasedNames);
    total.doomed.push(...r.doomed);
  };
  const linked = new Set<string>();
  for (const dep of dependencyIds(store)) {
    const state = snap.of(dep);
    for (const w of dependentsOf(store, dep)) {
      linked.add(w);
      if (snap.waitingName(w)) continue;
      const st = fs.statSync(`${store.deps}/${dep}/${w}`, { throwIfNoEntry: false });
      if (st && (state === 'completed' || opts.now - st.mtimeMs > STRAY_LINK_MS)) unlinkDependency(store, dep, w);
    }
    if (state !== 'unfinished') add(settleWaiters(store, dependentsOf(store, dep), opts, snap));
  }
  const orphans = snap.waitingIds().filter((id) => !linked.has(id));
  if (orphans.length) add(settleWaiters(store, orphans, { ...opts, linksOnly: false }, snap));
  return total;
}

function hasWaiting(store: Store): boolean {
  try {
    return fs.readdirSync(store.waiting).some((n) => !n.startsWith('.'));
  } catch {
    return false;
  }
}
