// Counters for the page and /metrics: each worker process keeps its own in memory and rewrites
// workers/<process-tag>.stats.json every few seconds (tmp + rename). Readers add up every file.
// Nothing is locked and no job file is read: the files are small and one per worker process.
// A crash loses at most the last few seconds of counts; job state itself never depends on these.

import { promises as fsp } from 'node:fs';
import { join } from 'node:path';
import { isErrno } from './errors.js';
import { type Store, writeFileDurable } from './store.js';

/** Upper bounds (seconds) of the job duration histogram, as Prometheus `le` labels. */
export const DURATION_BUCKETS = [0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300, 1800, 3600] as const;

export interface StatsSnapshot {
  /** Counters since the process started. */
  completed: number;
  /** Failed attempts (each retry counts once). */
  failed: number;
  dead: number;
  /** Per minute (epoch minute -> counts), the last 60 minutes. */
  minutes: Record<string, { completed: number; failed: number }>;
  /** Cumulative counts per DURATION_BUCKETS bound, then +Inf; plus sum of seconds. */
  duration_buckets: number[];
  duration_sum: number;
  duration_count: number;
  updated_at: string;
}

export function emptySnapshot(): StatsSnapshot {
  return { completed: 0, failed: 0, dead: 0, minutes: {}, duration_buckets: new Array(DURATION_BUCKETS.length + 1).fill(0), duration_sum: 0, duration_count: 0, updated_at: new Date(0).toISOString() };
}

/** In-memory counters of one worker process, flushed to its stats file. */
export class StatsRecorder {
  private snap = emptySnapshot();
  private dirty = false;
  constructor(private readonly store: Store, private readonly tag: string) {}

  /** Records one finished attempt. */
  record(outcome: 'completed' | 'failed' | 'dead', durationMs: number, now: number): void {
    const s = this.snap;
    if (outcome === 'dead') s.dead++;
    if (outcome === 'completed') s.completed++;
    else s.failed++;
    const minute = String(Math.floor(now / 60_000));
    const m = (s.minutes[minute] ??= { completed: 0, failed: 0 });
    if (outcome === 'completed') m.completed++;
    else m.failed++;
    const secs = durationMs / 1000;
    DURATION_BUCKETS.forEach((le, i) => {
      if (secs <= le) s.duration_buckets[i]++;
    });
    s.duration_buckets[DURATION_BUCKETS.length]++;
    s.duration_sum += secs;
    s.duration_count++;
    this.dirty = true;
  }

  /** Writes the file if anything changed; drops minutes older than an hour. */
  async flush(now: number): Promise<void> {
    if (!this.dirty) return;
    this.dirty = false;
    const oldest = Math.floor(now / 60_000) - 60;
    for (const k of Object.keys(this.snap.minutes)) if (Number(k) < oldest) delete this.snap.minutes[k];
    this.snap.updated_at = new Date(now).toISOString();
    await writeFileDurable(this.store, statsPath(this.store, this.tag), JSON.stringify(this.snap));
  }
}

export function statsPath(store: Store, tag: string): string {
  return join(store.workers, `${tag}.stats`);
}

/**
 * Sum of every worker process's counters. Files of processes gone for more than a day are removed by
 * the reaper; their counts then leave the totals (Prometheus handles counter resets).
 */
export async function readStats(store: Store): Promise<StatsSnapshot> {
  const total = emptySnapshot();
  let names: string[];
  try {
    names = (await fsp.readdir(store.workers)).filter((n) => n.endsWith('.stats'));
  } catch (err) {
    if (isErrno(err, 'ENOENT')) return total;
    throw err;
  }
  for (const name of names) {
    let s: StatsSnapshot;
    try {
      s = JSON.parse(await fsp.readFile(join(store.workers, name), 'utf8'));
    } catch {
      continue;
    }
    total.completed += s.completed;
    total.failed += s.failed;
    total.dead += s.dead;
    for (const [k, v] of Object.entries(s.minutes)) {
      const m = (total.minutes[k] ??= { completed: 0, failed: 0 });
      m.completed += v.completed;
      m.failed += v.failed;
    }
    s.duration_buckets.forEach((v, i) => (total.duration_buckets[i] += v));
    total.duration_sum += s.duration_sum;
    total.duration_count += s.duration_count;
    if (s.updated_at > total.updated_at) total.updated_at = s.updated_at;
  }
  return total;
}
