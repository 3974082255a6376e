// Recovery: finds claims whose worker is dead and puts the jobs back (or in dead/ when their retries
// are used up), publishes staged files left by a crash, and tidies heartbeat files.
//
// A worker is dead when its heartbeat file is older than stale-after, measured against the reaper's
// own heartbeat mtime (both set by the filesystem's clock), or when it ran on this host and its pid
// is gone. Its job counts a failed attempt with reason "worker-lost", so a job that keeps killing its
// worker ends in dead/ instead of looping. Before the job goes back, processes it left on this host
// are killed. The fence (one rename of the claim) makes the reaper and a paused worker that wakes up
// exclusive: whichever renames first owns the job.

import { promises as fsp } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { bury, parseStageName, quarantine, requeue } from './claim.js';
import { decideAfterFailure, type BackoffPolicy } from './backoff.js';
import { isErrno } from './errors.js';
import { readWorkers, type WorkerStatus } from './heartbeat.js';
import { type Job, parseStoredJob } from './job.js';
import { killJobProcesses, pidAlive } from './leftovers.js';
import { listJsonNames, parseClaimName, type Store } from './store.js';

export interface ReapOptions {
  store: Store;
  staleAfterMs: number;
  policy: BackoffPolicy;
  /** mtime of a heartbeat this process just touched: "now" on the filesystem's clock. */
  reference: number;
  /** Workers of this process: never stale to ourselves. */
  self: ReadonlySet<string>;
  /** Owner tag for stage files this reaper makes. */
  owner: string;
  now: number;
}

export type ReapEvent =
  | { type: 'recovered'; id: string; from: string; to: 'pending' | 'dead'; killed: number }
  | { type: 'quarantined'; name: string; reason: string }
  | { type: 'published'; name: string };

const HOST = hostname();


/** Judges one worker id: alive (heartbeat fresh, process there) or dead. */
export function makeStaleCheck(workers: WorkerStatus[], opts: Pick<ReapOptions, 'reference' | 'staleAfterMs' | 'self'>): (id: string) => boolean {
  const byId = new Map(workers.map((w) => [w.id, w]));
  return (id) => {
    if (opts.self.has(id)) return false;
    const w = byId.get(id);
    // Admin commands (dlq retry, cancel) stage under "adm<pid>" and have no heartbeat: alive while their process is.
    if (!w) return !(id.startsWith('adm') && pidAlive(Number(id.slice(3))));
    if (w.host === HOST && !pidAlive(w.pid)) return true;
    return opts.reference - w.heartbeat_at > opts.staleAfterMs;
  };
}

/** One pass of recovery. Safe to run in many workers at once: every move is a fenced rename. */
export async function reapStale(opts: ReapOptions): Promise<ReapEvent[]> {
  const { store } = opts;
  const events: ReapEvent[] = [];
  const workers = await readWorkers(store, opts.reference, opts.staleAfterMs);
  const isStale = makeStaleCheck(workers, opts);
  const hostOf = new Map(workers.map((w) => [w.id, w.host]));

  for (const name of await listJsonNames(store.processing)) {
    const claim = parseClaimName(name);
    if (!claim || !isStale(claim.worker)) continue;
    const path = join(store.processing, name);
    const host = hostOf.get(claim.worker);
    const killed = host === undefined || host === HOST ? await killJobProcesses(name) : 0;
    let text: string;
    let mtime: number;
    try {
      text = await fsp.readFile(path, 'utf8');
      mtime = (await fsp.stat(path)).mtimeMs;
    } catch (err) {
      if (isErrno(err, 'ENOENT')) continue; // another reaper was first
      throw err;
    }
    if (claim.id === null) {
      // A hand-dropped file its worker had not yet normalised: put it back as it was.
      await fsp.rename(path, join(store.pending, claim.pendingName)).catch(() => {});
      continue;
    }
    let job: Job;
    try {
      job = parseStoredJob(text, path, 'processing');
    } catch (err) {
      const reason = (err as Error).message;
      if (await quarantine(store, path, claim.pendingName, reason, opts.now)) events.push({ type: 'quarantined', name: claim.pendingName, reason });
      continue;
    }
    const iso = new Date(opts.now).toISOString();
    job.attempts += 1;
    const error = `worker ${claim.worker} stopped (no heartbeat for over ${opts.staleAfterMs / 1000}s)`;
    job.history = [...(job.history ?? []), {
      attempt: (job.history?.length ?? 0) + 1, worker: claim.worker, host: host ?? 'unknown', pid: 0,
      started_at: new Date(Math.min(mtime, opts.now)).toISOString(), ended_at: iso, duration_ms: 0,
      exit_code: null, signal: null, reason: 'worker-lost', error,
    }];
    job.last_error = error;
    job.exit_code = null;
    job.signal = null;
    job.updated_at = iso;
    const next = decideAfterFailure(job.attempts, job.max_retries, opts.now, opts.policy);
    let moved: boolean;
    if (next.to === 'dead') {
      job.state = 'dead';
      job.finished_at = iso;
      moved = bury(store, path, job);
    } else {
      // The worker died, not the command: run it again at once rather than after a backoff.
      job.state = 'pending';
      job.available_at = iso;
      moved = await requeue(store, path, job, opts.owner);
    }
    if (moved) events.push({ type: 'recovered', id: job.id, from: claim.worker, to: next.to, killed });
  }

  // Staged files whose owner died between the fence and the publish.
  let pendingNames: string[] = [];
  try {
    pendingNames = await fsp.readdir(store.pending);
  } catch (err) {
    if (!isErrno(err, 'ENOENT')) throw err;
  }
  for (const file of pendingNames) {
    const stage = parseStageName(file);
    if (!stage || !isStale(stage.owner)) continue;
    const path = join(store.pending, file);
    const st = await fsp.stat(path).catch(() => null);
    if (!st || opts.reference - st.mtimeMs <= opts.staleAfterMs) continue;
    try {
      await fsp.rename(path, join(store.pending, stage.name));
      events.push({ type: 'published', name: stage.name });
    } catch (err) {
      if (!isErrno(err, 'ENOENT')) throw err;
    }
  }

  // Counter files of worker processes that stopped writing them a day ago (see stats.ts).
  for (const name of await fsp.readdir(store.workers).catch(() => [] as string[])) {
    if (!name.endsWith('.stats')) continue;
    const st = await fsp.stat(join(store.workers, name)).catch(() => null);
    if (st && opts.reference - st.mtimeMs > 86_400_000) await fsp.unlink(join(store.workers, name)).catch(() => {});
  }

  // Heartbeat files of workers long gone (an hour) that hold nothing.
  for (const w of workers) {
    if (!opts.self.has(w.id) && opts.reference - w.heartbeat_at > Math.max(3_600_000, opts.staleAfterMs * 10)) {
      await fsp.unlink(join(store.workers, `${w.id}.json`)).catch(() => {});
    }
  }
  return events;
}
