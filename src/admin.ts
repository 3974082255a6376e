// Job control used by the CLI and the page: retry from the dead letter queue, cancel, wait, stop workers.
// Every move is a lifecycle move (fenced), and what it does to the record comes from outcome.ts, so an
// admin command and a worker never both move a job, and a record means the same whoever moved it. Stages
// made here are owned by this process's tag (identity.ts): recovery anywhere can tell whether it lives.

import { existsSync, watch } from 'node:fs';
import { promises as fsp } from 'node:fs';
import { InputError, isErrno, JobNotFoundError, QueuectlError } from './errors.js';
import { readWorkers, type WorkerStatus } from './heartbeat.js';
import { isLocalHost, isProcessAlive, processTag } from './identity.js';
import { type Job, parseStoredJob } from './job.js';
import { settleDependents, settleWaiters } from './dependencies.js';
import { bury, deadPath, doom, linkDependency, locateJob, parseClaimName, parsePendingName, parseStageName, parseWaitingName, requeue, unlinkDependency, writeRequest } from './lifecycle.js';
import { killJobProcesses } from './leftovers.js';
import { cancelledJob, retriedJob } from './outcome.js';
import { listJsonNames, readJobFileSync, type Store } from './store.js';

/** A dead job whose record a worker may still be writing (the fence and the final write are two renames). */
const SETTLE_MS = 5_000;

/** Moves one dead job back to pending/ with its attempts reset; its history is kept. */
export async function retryDead(store: Store, id: string, now: number): Promise<Job> {
  const path = deadPath(store, id);
  const read = readJobFileSync(path);
  if (!read.ok) {
    if (!read.gone) throw new QueuectlError(`${path}: ${read.problem}`);
    const where = await locateJob(store, id);
    if (!where) throw new JobNotFoundError(id);
    throw new InputError(`Job "${id}" is ${where.state}, not dead; only dead jobs can be retried`);
  }
  const job = parseStoredJob(read.text, path, 'dead');
  if (!job.finished_at && now - read.mtimeMs < SETTLE_MS) {
    throw new QueuectlError(`Job "${id}" is still being moved to dead/; try again in a few seconds`);
  }
  // A dependent of a job that is still dead would go straight back to dead/: refused, changing nothing,
  // with the command that works (dependencies retried first or in the same command, see orderForRetry).
  const deadDeps = (job.after ?? []).filter((dep) => existsSync(deadPath(store, dep)));
  if (deadDeps.length) throw deadDependencyError(store, id, deadDeps, [id]);
  const next = retriedJob(job, now);
  const owner = processTag().text;
  // A job with dependencies goes back to waiting/: linked to them first, then settled against them (those
  // completed meanwhile are dropped; one still dead sends it straight back to dead/).
  const waits = !!job.after?.length;
  if (waits) for (const dep of job.after!) linkDependency(store, dep, id);
  const moved = await requeue(store, path, { ...next, state: waits ? 'waiting' : 'pending' }, owner, undefined, waits ? 'waiting' : 'pending');
  if (!moved) {
    if (waits) for (const dep of job.after!) unlinkDependency(store, dep, id);
    throw new InputError(`Job "${id}" left dead/ while retrying it (retried by someone else?)`);
  }
  if (waits) settleWaiters(store, [id], { now, owner });
  return next;
}

/**
 * Dead jobs in an order in which each can be retried: a job after the dead jobs of the list it waits for
 * (so `dlq retry --all`, or `dlq retry up dump` naming a dependent first, retries the dependency first).
 * Unreadable records keep their place; the order is otherwise as given.
 */
export function orderForRetry(store: Store, ids: string[]): string[] {
  const wanted = new Set(ids);
  const deps = new Map<string, string[]>();
  for (const id of ids) deps.set(id, deadAfter(store, id).filter((d) => wanted.has(d)));
  const out: string[] = [];
  const state = new Map<string, 'visiting' | 'done'>();
  const visit = (id: string): void => {
    if (state.get(id)) return; // done, or a cycle (cannot be: after names only older jobs)
    state.set(id, 'visiting');
    for (const d of deps.get(id) ?? []) visit(d);
    state.set(id, 'done');
    out.push(id);
  };
  for (const id of ids) visit(id);
  return out;
}

/** The `after` of a dead job (empty when it has none or cannot be read). */
function deadAfter(store: Store, id: string): string[] {
  const read = readJobFileSync(deadPath(store, id));
  if (!read.ok) return [];
  try {
    const v = JSON.parse(read.text) as { after?: unknown };
    return Array.isArray(v.after) ? v.after.filter((d): d is string => typeof d === 'string') : [];
  } catch {
    return [];
  }
}

/** Dead jobs that `ids` wait for, directly or through other dead jobs, dependencies first. */
function deadAncestors(store: Store, ids: string[]): string[] {
  const out: string[] = [];
  const seen = new Set<string>();
  const visit = (id: string): void => {
    for (const dep of deadAfter(store, id)) {
      if (seen.has(dep) || !existsSync(deadPath(store, dep))) continue;
      seen.add(dep);
      visit(dep);
      out.push(dep);
    }
  };
  for (const id of ids) visit(id);
  return out;
}

/** The refusal of a retry whose dependencies are dead, naming the whole chain to retry with it. */
function deadDependencyError(store: Store, id: string, deadDeps: string[], retried: string[]): InputError {
  const list = deadDeps.map((d) => `"${d}"`).join(', ');
  const chain = [...deadAncestors(store, retried).filter((d) => !retried.includes(d)), ...orderForRetry(store, retried)];
  return new InputError(`Job "${id}" waits for ${list}, which ${deadDeps.length === 1 ? 'is' : 'are'} dead: retry ${deadDeps.length === 1 ? 'it' : 'them'} first or together (queuectl dlq retry ${chain.join(' ')})`);
}

/**
 * Checks a whole `dlq retry` before anything moves: every id is in dead/, and no job waits for a dead
 * job that is not retried with it. Throws the first problem (nothing was changed then).
 */
export async function checkRetryable(store: Store, ids: string[]): Promise<void> {
  const set = new Set(ids);
  for (const id of ids) {
    if (!existsSync(deadPath(store, id))) {
      const where = await locateJob(store, id);
      if (!where) throw new JobNotFoundError(id);
      if (where.state !== 'dead') throw new InputError(`Job "${id}" is ${where.state}, not dead; only dead jobs can be retried`);
    }
    const deadDeps = deadAfter(store, id).filter((dep) => !set.has(dep) && existsSync(deadPath(store, dep)));
    if (deadDeps.length) throw deadDependencyError(store, id, deadDeps, ids);
  }
}

/** Ids of every job in dead/. */
export async function deadIds(store: Store): Promise<string[]> {
  return (await listJsonNames(store.dead)).map((n) => n.slice(0, -'.json'.length)).sort();
}

export type CancelResult = {
  id: string;
  was: 'pending' | 'waiting' | 'processing';
  /** Jobs that waited for it, directly or in turn, and went to dead/ with it (dependency-failed). */
  dependents: string[];
};

/**
 * Checks a whole `cancel` before anything changes: every id is a job that has not finished. Throws the
 * first problem (nothing was changed then).
 */
export async function checkCancellable(store: Store, ids: string[]): Promise<void> {
  for (const id of ids) {
    const where = await locateJob(store, id);
    if (!where) throw new JobNotFoundError(id);
    if (where.state === 'completed' || where.state === 'dead') throw notCancellable(id, where.state);
  }
}

function notCancellable(id: string, state: string): InputError {
  return new InputError(`Job "${id}" is already ${state}; only jobs that have not finished (pending, scheduled, failed, waiting or running) can be cancelled`);
}

/**
 * Cancels a job: a pending one moves to dead/ as cancelled; a running one is killed by its worker
 * (asked through workers/<worker>.cancel) and then moved to dead/. Waits up to `timeoutMs` for that.
 */
export async function cancelJob(store: Store, id: string, opts: { now: number; staleAfterMs: number; timeoutMs: number }): Promise<CancelResult> {
  const where = await locateJob(store, id);
  if (!where) throw new JobNotFoundError(id);
  if (where.state === 'completed' || where.state === 'dead') throw notCancellable(id, where.state);
  if (where.staged) {
    // Moving to pending/ this instant (a retry being published): look again in a moment.
    await pause(20);
    return cancelJob(store, id, { ...opts, now: Date.now() });
  }
  const read = readJobFileSync(where.path);
  if (!read.ok) {
    if (read.gone) return cancelJob(store, id, { ...opts, now: Date.now() }); // it moved meanwhile: look again
    throw new QueuectlError(`${where.path}: ${read.problem}`);
  }
  const job = parseStoredJob(read.text, where.path, where.state);

  const owner = processTag().text;
  const settle = () => settleDependents(store, id, 'dead', { now: Date.now(), owner }).doomed;
  if (where.state === 'waiting') {
    if (!doom(store, where.name, cancelledJob(job, opts.now), owner)) return cancelJob(store, id, { ...opts, now: Date.now() });
    for (const dep of job.after ?? []) unlinkDependency(store, dep, id);
    return { id, was: 'waiting', dependents: settle() };
  }
  if (where.state === 'pending') {
    if (bury(store, where.path, cancelledJob(job, opts.now))) return { id, was: 'pending', dependents: settle() };
    return cancelJob(store, id, { ...opts, now: Date.now() });
  }

  const claim = parseClaimName(where.name);
  if (!claim) throw new QueuectlError(`Unexpected file in processing/: ${where.name}`);
  const workers = await readWorkers(store, Date.now(), opts.staleAfterMs);
  const worker = workers.find((w) => w.id === claim.worker);
  if (!worker || !worker.alive) {
    // Its worker is gone: do what recovery would, but to dead/ as cancelled. The claim goes first and
    // the processes after: a worker judged dead that is in fact only late (paused between its claim and
    // its spawn) checks the claim right before the spawn and starts nothing once it is gone, and what it
    // started before carries the claim and is found.
    if (!bury(store, where.path, cancelledJob(job, opts.now))) return cancelJob(store, id, { ...opts, now: Date.now() });
    killJobProcesses(where.name);
    return { id, was: 'processing', dependents: settle() };
  }
  await writeRequest(store, claim.worker, 'cancel', where.name);
  const deadline = Date.now() + opts.timeoutMs;
  for (;;) {
    const now = await locateJob(store, id);
    // Its worker moved it to dead/ and settled its dependents: those now dead with it are theirs.
    if (!now || now.state !== 'processing' || now.name !== where.name) return { id, was: 'processing', dependents: await doomedBy(store, id) };
    if (Date.now() > deadline) throw new QueuectlError(`Asked worker ${claim.worker} to cancel job "${id}", but it has not done so within ${opts.timeoutMs / 1000}s`);
    await pause(50);
  }
}

/** Jobs in dead/ whose failed_dependency is `id`, and theirs in turn (the cascade of one job's death). */
async function doomedBy(store: Store, id: string): Promise<string[]> {
  const dead = await deadIds(store);
  const byDep = new Map<string, string[]>();
  for (const d of dead) {
    const read = readJobFileSync(deadPath(store, d));
    if (!read.ok) continue;
    try {
      const dep = (JSON.parse(read.text) as { failed_dependency?: unknown }).failed_dependency;
      if (typeof dep === 'string') byDep.set(dep, [...(byDep.get(dep) ?? []), d]);
    } catch { /* not ours to judge here */ }
  }
  const out: string[] = [];
  const walk = (x: string) => {
    for (const d of byDep.get(x) ?? []) if (!out.includes(d)) { out.push(d); walk(d); }
  };
  walk(id);
  return out;
}

function pause(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

export interface WaitResult {
  /** Ids waited for that completed (with 'all': the jobs it saw waiting or running that completed). */
  completed: string[];
  /** Ids waited for that are dead (with 'all': every job in dead/, also those dead before the wait). */
  dead: string[];
  timedOut: boolean;
  /** Ids not yet completed or dead when it returned (only on a time-out). */
  waiting: string[];
}

export interface WaitProgress {
  /** Jobs not yet completed or dead (with 'all': the jobs in pending/ and processing/). */
  left: number;
  /** Of those, how many are running. */
  running: number;
}

/**
 * Runs `check` until it returns true (false: the deadline passed first; returns whether it timed out).
 * Folder events only wake the loop; checks run at most every CHECK_MS, so a busy queue (thousands of
 * renames a second) costs a few readdirs a second here, not one per rename. A poll every 250ms is the
 * fallback for events that never come (network filesystems).
 */
async function checkUntil(dirs: string[], check: () => Promise<boolean>, deadline: number): Promise<boolean> {
  const CHECK_MS = 20;
  let wake: (() => void) | undefined;
  const watchers = dirs.map((dir) => {
    try {
      return watch(dir, () => wake?.());
    } catch {
      return null;
    }
  });
  try {
    for (;;) {
      const checkedAt = Date.now();
      if (await check()) return false;
      if (Date.now() >= deadline) return true;
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, Math.min(250, Math.max(0, deadline - Date.now())));
        wake = () => {
          clearTimeout(t);
          wake = undefined;
          setTimeout(resolve, Math.max(0, checkedAt + CHECK_MS - Date.now()));
        };
      });
      wake = undefined;
    }
  } finally {
    for (const w of watchers) w?.close();
  }
}

/**
 * Waits until the given jobs are completed or dead, however long they are scheduled or retried for.
 * With ids = 'all': until pending/ and processing/ are empty (jobs enqueued meanwhile count too).
 * Wakes on folder changes, with a poll as the fallback; onProgress is called after every check.
 */
export async function waitForJobs(store: Store, ids: string[] | 'all', opts: { timeoutMs: number; onProgress?: (p: WaitProgress) => void }): Promise<WaitResult> {
  if (ids !== 'all') {
    for (const id of ids) if (!(await locateJob(store, id))) throw new JobNotFoundError(id);
  }
  const deadline = opts.timeoutMs > 0 ? Date.now() + opts.timeoutMs : Infinity;
  const done = new Map<string, 'completed' | 'dead'>();
  /** With 'all': every id seen in pending/ or processing/; names are parsed only when new since the last check. */
  const seen = new Set<string>();
  let lastNames = new Set<string>();
  /** Names of pending/ (a stage named for the pending name it becomes) and processing/ to job ids. */
  const idOf = (n: string): string | null => {
    if (n.startsWith('waiting:')) return parseWaitingName(n.slice('waiting:'.length))?.id ?? null;
    const stage = parseStageName(n);
    if (stage) return parsePendingName(stage.name)?.id ?? null;
    return parsePendingName(n)?.id ?? parseClaimName(n)?.id ?? null;
  };

  const check = async (): Promise<boolean> => {
    const [pendingAll, processing, waiting] = await Promise.all([fsp.readdir(store.pending).catch(() => [] as string[]), listJsonNames(store.processing), listJsonNames(store.waiting)]);
    // Visible jobs and stages (a job on its way to pending/); other dotfiles are not jobs. Jobs waiting
    // for their dependencies are not done either.
    const pending = [...pendingAll.filter((n) => n.endsWith('.json') && (!n.startsWith('.') || parseStageName(n))), ...waiting.map((n) => `waiting:${n}`)];
    if (ids === 'all') {
      const names = new Set([...pending, ...processing]);
      for (const n of names) {
        if (lastNames.has(n)) continue;
        const id = idOf(n);
        if (id) seen.add(id);
      }
      lastNames = names;
      opts.onProgress?.({ left: names.size, running: processing.length });
      return names.size === 0;
    }
    const here = new Set<string>();
    for (const n of pending) {
      const id = idOf(n);
      if (id) here.add(id);
    }
    const running = new Set(processing.map((n) => parseClaimName(n)?.id));
    for (const id of ids) {
      if (done.has(id) || here.has(id) || running.has(id)) continue;
      const where = await locateJob(store, id);
      if (where?.state === 'completed' || where?.state === 'dead') done.set(id, where.state);
    }
    opts.onProgress?.({ left: ids.length - done.size, running: ids.filter((id) => running.has(id)).length });
    return done.size === ids.length;
  };

  const timedOut = await checkUntil([store.pending, store.waiting, store.processing, store.dead], check, deadline);
  if (ids !== 'all') {
    return {
      completed: ids.filter((id) => done.get(id) === 'completed'),
      dead: ids.filter((id) => done.get(id) === 'dead'),
      timedOut,
      waiting: timedOut ? ids.filter((id) => !done.has(id)) : [],
    };
  }
  // Every job seen that has left pending/ and processing/ is dead or completed (or purged since).
  const active = [...new Set([...lastNames].map(idOf).filter((id): id is string => id !== null))].sort();
  const dead = (await listJsonNames(store.dead)).map((n) => n.slice(0, -'.json'.length)).sort();
  const gone = new Set([...dead, ...active]);
  return { completed: [...seen].filter((id) => !gone.has(id)).sort(), dead, timedOut, waiting: timedOut ? active : [] };
}

export interface StopRequest {
  /** Worker processes signalled on this host (pid). */
  signalled: number[];
  /** Workers elsewhere (another host or PID namespace) asked through a stop file. */
  asked: string[];
}

/** True when a live worker's process can be signalled from here: same host identity, same process. */
function signallable(w: WorkerStatus): boolean {
  return isLocalHost(w) && isProcessAlive(w.pid, w.pid_start);
}

/**
 * Asks every live worker of the root to stop: on this host by signal (SIGTERM graceful, SIGUSR2 force),
 * once its pid is checked to still be that worker (its start time: a pid is soon reused after a kill -9);
 * elsewhere through workers/<id>.stop, taken at their next heartbeat.
 */
export async function requestStop(store: Store, mode: 'graceful' | 'force', staleAfterMs: number): Promise<StopRequest> {
  const workers = (await readWorkers(store, Date.now(), staleAfterMs)).filter((w) => w.alive);
  const signalled = new Set<number>();
  const asked: string[] = [];
  for (const w of workers) {
    if (signallable(w)) {
      if (signalled.has(w.pid)) continue;
      try {
        process.kill(w.pid, mode === 'force' ? 'SIGUSR2' : 'SIGTERM');
        signalled.add(w.pid);
      } catch {
        // gone already
      }
    } else if (!isLocalHost(w)) {
      await writeRequest(store, w.id, 'stop', mode);
      asked.push(w.id);
    }
  }
  return { signalled: [...signalled], asked };
}

/** Resolves when no live worker is left (heartbeat files removed, or judged dead), or false on timeout. */
export async function waitForNoWorkers(store: Store, staleAfterMs: number, timeoutMs: number): Promise<boolean> {
  const deadline = timeoutMs > 0 ? Date.now() + timeoutMs : Infinity;
  for (;;) {
    const alive = (await readWorkers(store, Date.now(), staleAfterMs)).filter((w) => w.alive);
    if (alive.length === 0) return true;
    if (Date.now() > deadline) return false;
    await pause(50);
  }
}
