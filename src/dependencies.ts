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
  dependencyIds, dependentsOf, doom, isLinked, markerPath, parseClaimName, parsePendingName, parseStageName, parseWaitingName,
  pendingName, unlinkDependency, unwait,
} from './lifecycle.js';
import { completedPath, deadPath } from './lifecycle.js';
import { readJobFileSync, type Store } from './store.js';

/** completed/ hour shards, newest first (synchronous). */
function completedShardsSync(store: Store): string[] {
  try {
    return fs.readdirSync(store.completed).filter((n) => /^\d{10}$/.test(n)).sort().reverse();
  } catch {
    return [];
  }
}

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
    if (fs.existsSync(deadPath(this.store, id))) st = 'dead';
    else if ((this.shards ??= completedShardsSync(this.store)).some((shard) => fs.existsSync(completedPath(this.store, shard, id)))) st = 'completed';
    else st = fs.existsSync(markerPath(this.store, id)) ? 'unfinished' : 'completed';
    this.known.set(id, st);
    return st;
  }

  /** The waiting/ file name of a job, if it waits. */
  waitingName(id: string): string | undefined {
    return this.waiting.get(id);
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
 * Settles the given waiting jobs against the states in `snap`: links of completed dependencies are
 * dropped; a dead dependency dooms the job (and, in turn, the jobs waiting for it); a job with no link
 * left is released to pending/.
 */
export function settleWaiters(store: Store, waiters: Iterable<string>, opts: SettleOptions, snap = new StateSnapshot(store)): SettleReport {
  const report: SettleReport = { released: [], releasedNames: [], doomed: [] };
  const work = [...waiters];
  for (let id = work.pop(); id !== undefined; id = work.pop()) {
    const name = snap.waitingName(id);
    if (!name) continue; // not waiting (settled already, or not published yet: its enqueue settles it)
    const read = readJobFileSync(`${store.waiting}/${name}`);
    if (!read.ok) continue;
    let job: Job;
    try {
      job = JSON.parse(read.text) as Job;
    } catch {
      continue;
    }
    let left = 0;
    let deadDep: string | null = null;
    for (const dep of job.after ?? []) {
      if (!isLinked(store, dep, id)) continue;
      const st = snap.of(dep);
      if (st === 'completed') unlinkDependency(store, dep, id);
      else if (st === 'dead') deadDep ??= dep;
      else left++;
    }
    if (deadDep !== null) {
      if (doom(store, name, doomedRecord(job, deadDep, opts.now), opts.owner)) {
        report.doomed.push(id);
        snap.settled(id, 'dead');
        for (const dep of job.after ?? []) unlinkDependency(store, dep, id);
        work.push(...dependentsOf(store, id)); // they wait for a job that is dead now
      }
      continue;
    }
    if (left === 0 && unwait(store, name, { ...job, state: 'pending' })) {
      report.released.push(id);
      report.releasedNames.push(pendingName(job));
      snap.settled(id, 'pending');
    }
  }
  return report;
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
 * Recovery's sweep of deps/: every dependency whose job has finished gets its waiters settled (a settler
 * died mid-way), and links of jobs that are not waiting any more (settled, or never published: an
 * enqueue that died before its commit) are removed once no job of that id is waiting.
 */
export function sweepDependencies(store: Store, opts: SettleOptions): SettleReport {
  const total: SettleReport = { released: [], releasedNames: [], doomed: [] };
  const deps = dependencyIds(store);
  if (deps.length === 0) return total;
  const snap = new StateSnapshot(store);
  for (const dep of deps) {
    const waiters = dependentsOf(store, dep);
    for (const w of waiters) {
      // A link of a job that is not waiting, an hour old: its job was settled, or its enqueue died before
      // publishing it. (A younger one may belong to an enqueue between its links and its publish.)
      if (snap.waitingName(w)) continue;
      const st = fs.statSync(`${store.deps}/${dep}/${w}`, { throwIfNoEntry: false });
      if (st && opts.now - st.mtimeMs > STRAY_LINK_MS) unlinkDependency(store, dep, w);
    }
    if (snap.of(dep) === 'unfinished') continue;
    const r = settleWaiters(store, dependentsOf(store, dep), opts, snap);
    total.released.push(...r.released);
    total.releasedNames.push(...r.releasedNames);
    total.doomed.push(...r.doomed);
  }
  return total;
}
