// What the end of a run does to a job: the history entry, the next state and the backoff. Pure: no I/O and
// no clock reads. The worker (a run that ended), recovery (a run lost with its worker) and the admin
// commands (cancel, dlq retry) all go through these functions, so a job's record means the same whoever
// moved it.
//
//   reason         next state                                         attempts
//   completed      completed/                                         +1
//   failed, timeout, spawn-error, killed, worker-lost
//                  pending/ after backoff(attempts), or dead/ when attempts > max_retries   +1
//                  (worker-lost goes back at once: the worker died, not the command)
//   interrupted    pending/ now (our own stop; the run does not count)    unchanged
//   cancelled      dead/                                              +1 if it ran
//
// `attempts` counts the runs used against max_retries and is reset by `dlq retry`; a history entry's
// `attempt` numbers the run within the whole history (it never resets, and names the run's log file).

import { type BackoffPolicy, decideAfterFailure } from './backoff.js';
import { type Attempt, type AttemptReason, type Job, MAX_HISTORY } from './job.js';
import type { RunOutcome, RunResult } from './runner.js';

/** Where a job goes next, with its new record. */
export type Next =
  | { to: 'completed'; job: Job }
  | { to: 'pending'; job: Job; delayMs: number }
  | { to: 'dead'; job: Job };

/** Who ran a job: the worker, its host and process. */
export interface RunBy {
  worker: string;
  host: string;
  pid: number;
}

/** The number the next run of `job` gets in its history (and its log file). */
export function nextRunNumber(job: Job): number {
  // The last entry's number, not the length: a long history keeps only its newest MAX_HISTORY entries.
  const h = job.history ?? [];
  return (h.at(-1)?.attempt ?? h.length) + 1;
}

/** The reason a run ended, from how its command ended (and whether it was cancelled). */
export function reasonOf(outcome: RunOutcome, cancelled: boolean): AttemptReason {
  if (cancelled) return 'cancelled';
  switch (outcome.kind) {
    case 'aborted': return 'interrupted';
    case 'exited': return outcome.exitCode === 0 ? 'completed' : 'failed';
    case 'timedOut': return 'timeout';
    case 'spawnFailed': return 'spawn-error';
    case 'signaled': return 'killed';
  }
}

/** Appends an entry to a history, keeping at most MAX_HISTORY (the oldest dropped and counted). */
function withEntry(job: Job, entry: Attempt): Pick<Job, 'history' | 'history_dropped'> {
  const history = [...(job.history ?? []), entry];
  if (history.length <= MAX_HISTORY) return { history, ...(job.history_dropped ? { history_dropped: job.history_dropped } : {}) };
  const drop = history.length - MAX_HISTORY;
  return { history: history.slice(drop), history_dropped: ((job.history_dropped as number | undefined) ?? 0) + drop };
}

/**
 * A run that ended: records it and says where the job goes. `job` is the record as claimed (before the
 * run); `result` how the command ended; `cancelled` whether a cancel request ended it.
 */
export function afterRun(job: Job, result: RunResult, cancelled: boolean, by: RunBy, now: number, policy: BackoffPolicy): Next {
  const reason = reasonOf(result.outcome, cancelled);
  const iso = new Date(now).toISOString();
  const entry: Attempt = {
    attempt: nextRunNumber(job), worker: by.worker, host: by.host, pid: by.pid,
    started_at: new Date(result.startedAt).toISOString(), ended_at: new Date(result.endedAt).toISOString(),
    duration_ms: result.durationMs, exit_code: result.exitCode, signal: result.signal, reason,
    ...(reason === 'completed' ? {} : { error: result.summary }),
  };
  const base: Job = {
    ...job,
    ...withEntry(job, entry),
    exit_code: result.exitCode,
    signal: result.signal,
    output_tail: result.tail,
    updated_at: iso,
    last_error: reason === 'completed' ? null : result.summary,
  };
  switch (reason) {
    case 'completed':
      return { to: 'completed', job: { ...base, attempts: job.attempts + 1, state: 'completed', finished_at: iso } };
    case 'interrupted':
      // Our own stop, not the job's fault: back now, without using an attempt.
      return { to: 'pending', delayMs: 0, job: { ...base, state: 'pending', available_at: iso } };
    case 'cancelled':
      return { to: 'dead', job: { ...base, attempts: job.attempts + 1, state: 'dead', finished_at: iso, last_error: 'cancelled', cancelled_at: iso } };
    default:
      return afterFailure({ ...base, attempts: job.attempts + 1 }, now, policy, false);
  }
}

/** What recovery knows of a run lost with its worker. */
export interface LostRun extends RunBy {
  /** When the run began (the claim's time), epoch ms. */
  startedAt: number;
  /** Why the worker counts as dead, for people. */
  why: string;
}

/**
 * A run lost with its worker (killed, or frozen past stale-after): one more attempt, a "worker-lost" entry,
 * then back to pending/ at once or to dead/ when the retries are used up. Counting it is what makes a job
 * that keeps killing its worker end in dead/ instead of looping.
 */
export function afterLostRun(job: Job, lost: LostRun, now: number, policy: BackoffPolicy): Next {
  const iso = new Date(now).toISOString();
  const started = Math.min(lost.startedAt || now, now);
  const error = `worker ${lost.worker} stopped (${lost.why})`;
  const entry: Attempt = {
    attempt: nextRunNumber(job), worker: lost.worker, host: lost.host, pid: lost.pid,
    started_at: new Date(started).toISOString(), ended_at: iso, duration_ms: now - started,
    exit_code: null, signal: null, reason: 'worker-lost', error,
  };
  const next: Job = { ...job, ...withEntry(job, entry), attempts: job.attempts + 1, last_error: error, exit_code: null, signal: null, updated_at: iso };
  return afterFailure(next, now, policy, true);
}

/** A failed run's job (attempts already counted): retry after backoff (or at once), or dead. */
function afterFailure(job: Job, now: number, policy: BackoffPolicy, atOnce: boolean): Next {
  const iso = new Date(now).toISOString();
  const d = decideAfterFailure(job.attempts, job.max_retries, now, policy);
  if (d.to === 'dead') return { to: 'dead', job: { ...job, state: 'dead', finished_at: iso } };
  const delayMs = atOnce ? 0 : d.delayMs;
  return { to: 'pending', delayMs, job: { ...job, state: 'pending', available_at: new Date(now + delayMs).toISOString() } };
}

/** A job cancelled before it ran (pending, or held by a dead worker): to dead/, marked cancelled. */
export function cancelledJob(job: Job, now: number): Job {
  const iso = new Date(now).toISOString();
  return { ...job, state: 'dead', last_error: 'cancelled', finished_at: iso, updated_at: iso, cancelled_at: iso };
}

/** A dead job retried from the dead letter queue: back to pending/ now, attempts reset, history kept. */
export function retriedJob(job: Job, now: number): Job {
  const iso = new Date(now).toISOString();
  const { finished_at: _f, cancelled_at: _c, ...rest } = job;
  return { ...rest, state: 'pending', attempts: 0, available_at: iso, updated_at: iso };
}
