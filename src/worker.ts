// One worker: the loop take -> claim -> (intake | run) -> finish, and nothing else. Everything it touches
// is handed in (WorkerDeps), after graphile-worker's worker, which gets getJob/completeJob/failJob: the
// pool (pool.ts) wires them to the pending index, the lifecycle's moves and the runner, and a test can
// drive the loop in-process.
//
// Invariants:
//  - A claimed file MUST leave processing/ however its command ends (success, failure, timeout, spawn
//    error, our own stop): every path below ends in finish, intake, quarantine or unclaim, or finds itself
//    fenced (recovery took the claim while this worker was paused).
//  - Nothing is started for a claim this worker no longer holds: the last check before the spawn is that
//    the claim file is still there, and from that check to the fork nothing yields.
//  - Stop is graceful by default: claim nothing new, finish what runs. Force kills running commands.

import type { Job } from './job.js';
import { droppedNameProblem, type IntakeResult, type PendingName } from './lifecycle.js';
import type { Taken } from './pending-index.js';
import type { RunResult } from './runner.js';

export type StopMode = 'graceful' | 'force';

/** A job a slot is running. */
export interface Running {
  claimPath: string;
  id: string;
  abort: AbortController;
  /** Set by a cancel request: the run ends as cancelled (dead), not failed. */
  cancelled: boolean;
}

/** One worker of a pool: its id (heartbeat file), its claim counter and what it runs. */
export interface Slot {
  id: string;
  seq: number;
  running?: Running;
}

/** What a claim of a queuectl-named file turned out to be. */
export type Opened =
  /** adopted: the pending name of a file another program dropped, run from its claim (lifecycle adopt). */
  | { kind: 'job'; job: Job; adopted?: string }
  | { kind: 'gone' }
  /** Not readable as a job: quarantine it with this reason. */
  | { kind: 'bad'; reason: string }
  /** A file another program dropped under a queuectl-style name (its id was never reserved): take it in. */
  | { kind: 'foreign' };

export type WorkerEvent =
  /** `helpers`: pids of the other processes of one `worker start --processes P` (the CLI's merged line). */
  | { type: 'ready'; workers: string[]; pid: number; helpers?: number[] }
  | { type: 'claimed'; worker: string; id: string; attempt: number; maxRuns: number; command: string }
  | { type: 'completed'; worker: string; id: string; attempt: number; durationMs: number }
  | { type: 'failed'; worker: string; id: string; attempt: number; summary: string; retryInMs: number }
  | { type: 'dead'; worker: string; id: string; attempt: number; summary: string }
  | { type: 'interrupted'; worker: string; id: string }
  | { type: 'cancelled'; worker: string; id: string }
  | { type: 'fenced'; worker: string; id: string }
  | { type: 'recovered'; worker: string; id: string; from: string; to: 'pending' | 'dead' | 'completed'; killed: number; why?: string }
  | { type: 'normalized'; worker: string; name: string; id: string }
  | { type: 'quarantined'; worker: string; name: string; reason: string }
  | { type: 'published'; worker: string; count: number }
  | { type: 'settled'; worker: string; id: string; released: number; doomed: number }
  | { type: 'scheduled'; worker: string; schedule: string; id: string }
  | { type: 'config'; changed: string[] }
  | { type: 'queues'; paused: string[]; limits: Record<string, number> }
  | { type: 'stopping'; mode: StopMode }
  | { type: 'error'; worker?: string; message: string };

/** What the loop uses; the pool provides the real ones. */
export interface WorkerDeps {
  /** The best job that may run now (or a dropped file to take in), removed from the index; null if none. */
  take(): Taken | null;
  /** Resolves when there may be work (or the pool stops). */
  waitForWork(): Promise<void>;
  /** The pool's stop mode, null while running. */
  stopping(): StopMode | null;
  /** Renames pending/<name> into processing/ for the slot; null when another worker won. */
  claim(slot: Slot, name: string): string | null;
  /** Reads a claimed queuectl-named file and checks it is a job this worker may run. */
  open(claimPath: string, entry: PendingName): Opened;
  /** Takes in a claimed dropped file (see lifecycle.intake). */
  intake(slot: Slot, claimPath: string, name: string): Promise<IntakeResult>;
  /** Moves a file of this slot (a claim, or a pending file) to quarantine/; false when it was gone. */
  quarantine(from: string, name: string, reason: string): Promise<boolean>;
  /** Gives a claim it could not start back to pending/. */
  unclaim(claimPath: string): void;
  /** Called once a claim has left this worker, whatever happened to it (ends its admission under a limit). */
  release(claimPath: string): void;
  /** True while the claim file is still this worker's (the last check before a spawn). */
  holds(claimPath: string): boolean;
  /** Runs a job's command to its end. */
  run(slot: Slot, job: Job, claimPath: string, abort: AbortSignal): Promise<RunResult>;
  /** Moves the job out of processing/ according to how its run ended (see outcome.ts). */
  finish(slot: Slot, claimPath: string, job: Job, result: RunResult, cancelled: boolean): Promise<void>;
  /** Path of a pending file (for a quarantine straight from pending/). */
  pendingPath(name: string): string;
  emit(event: WorkerEvent): void;
  fault(point: string): void;
}

/** Runs one worker until the pool stops. */
export async function runWorker(slot: Slot, deps: WorkerDeps): Promise<void> {
  while (!deps.stopping()) {
    const taken = deps.take();
    if (!taken) {
      await deps.waitForWork();
      continue;
    }
    await handle(slot, deps, taken);
  }
}

/** One taken name: claim it, then take it in or run it. Never throws. */
async function handle(slot: Slot, deps: WorkerDeps, taken: Taken): Promise<void> {
  const name = taken.kind === 'job' ? taken.entry.name : taken.name;
  const nameProblem = taken.kind === 'dropped' ? droppedNameProblem(name) : null;
  if (nameProblem) {
    // Its claim name (name + ~worker~seq) would pass NAME_MAX: move it aside straight from pending/.
    await quarantine(slot, deps, deps.pendingPath(name), name, nameProblem);
    return;
  }
  let claimPath: string | null;
  try {
    claimPath = deps.claim(slot, name);
  } catch (err) {
    deps.emit({ type: 'error', worker: slot.id, message: `claim ${name}: ${(err as Error).message}` });
    return;
  }
  if (!claimPath) return;
  deps.fault('after-claim');
  try {
    if (taken.kind === 'dropped') await takeIn(slot, deps, claimPath, name);
    else await runClaim(slot, deps, claimPath, taken.entry);
  } catch (err) {
    // A live worker's claim is never recovered by others, so it MUST NOT stay in processing/: a file we
    // could not take in goes to quarantine/, a job we could not start goes back to pending/.
    const message = (err as Error).message;
    deps.emit({ type: 'error', worker: slot.id, message: `${name}: ${message}` });
    try {
      if (taken.kind === 'dropped') await deps.quarantine(claimPath, name, message);
      else deps.unclaim(claimPath);
    } catch {
      // recovery gets it once this worker is gone
    }
  } finally {
    slot.running = undefined;
    deps.release(claimPath);
  }
}

async function quarantine(slot: Slot, deps: WorkerDeps, from: string, name: string, reason: string): Promise<void> {
  if (await deps.quarantine(from, name, reason)) deps.emit({ type: 'quarantined', worker: slot.id, name, reason });
}

async function takeIn(slot: Slot, deps: WorkerDeps, claimPath: string, name: string): Promise<void> {
  const r = await deps.intake(slot, claimPath, name);
  if (r.kind === 'taken') deps.emit({ type: 'normalized', worker: slot.id, name, id: r.job.id });
  else if (r.kind === 'quarantined') deps.emit({ type: 'quarantined', worker: slot.id, name, reason: r.reason });
  else deps.emit({ type: 'fenced', worker: slot.id, id: name });
}

async function runClaim(slot: Slot, deps: WorkerDeps, claimPath: string, entry: PendingName): Promise<void> {
  const opened = deps.open(claimPath, entry);
  if (opened.kind === 'gone') {
    // Recovery took it while this worker was paused after the claim.
    deps.emit({ type: 'fenced', worker: slot.id, id: entry.id });
    return;
  }
  if (opened.kind === 'bad') return quarantine(slot, deps, claimPath, entry.name, opened.reason);
  if (opened.kind === 'foreign') return takeIn(slot, deps, claimPath, entry.name);
  const job = opened.job;
  if (opened.adopted) deps.emit({ type: 'normalized', worker: slot.id, name: opened.adopted, id: job.id });
  const abort = new AbortController();
  slot.running = { claimPath, id: job.id, abort, cancelled: false };
  if (deps.stopping() === 'force') abort.abort();
  deps.emit({ type: 'claimed', worker: slot.id, id: job.id, attempt: job.attempts + 1, maxRuns: job.max_retries + 1, command: job.command });
  // A worker paused between the claim and here may have lost the job to recovery: do not start a command
  // it no longer owns. From this check to the spawn nothing yields (the runner is loaded at start).
  if (!deps.holds(claimPath)) {
    deps.emit({ type: 'fenced', worker: slot.id, id: job.id });
    return;
  }
  // A pause from here to the spawn (SIGSTOP, a stalled VM) is past the check above: the shell checks the
  // claim once more before the command (the runner's guard), and recovery kills the job's processes again
  // after its fence, so a command either never starts or is killed.
  deps.fault('before-spawn');
  const result = await deps.run(slot, job, claimPath, abort.signal);
  deps.fault('after-exit');
  await deps.finish(slot, claimPath, job, result, slot.running.cancelled);
}
