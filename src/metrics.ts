// The queue in the Prometheus text format (version 0.0.4), for GET /metrics and `queuectl metrics` (which
// node_exporter's textfile collector can read). Every figure comes from folder listings and the stats
// files (stats.ts); no job file is opened. The *_total counters and the histogram never go backwards for
// the life of the root: retired processes' counts are kept (stats.ts), never dropped.

import { readFileSync } from 'node:fs';
import { oldestDueAt, readStatus, type StatusReport } from './inspect.js';
import { DURATION_BUCKETS, OUTCOMES, readStats, type StatsSnapshot } from './stats.js';
import { listQueues, type QueueReport } from './queues.js';
import type { Store } from './store.js';

export const METRICS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

let version: string | undefined;

/** The version in package.json (one level above src/ and dist/). */
export function packageVersion(): string {
  if (version === undefined) {
    try {
      version = String((JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version?: unknown }).version ?? 'unknown');
    } catch {
      version = 'unknown';
    }
  }
  return version;
}

export interface MetricsInput {
  status: StatusReport;
  stats: StatsSnapshot;
  /** available_at of the longest-waiting due job (epoch ms), or null. */
  oldestDueAt: number | null;
  now: number;
  /** @default packageVersion() */
  version?: string;
  /** Per-queue counts, limits and pauses (queues.ts listQueues); none: the queue metrics are left out. */
  queues?: QueueReport[];
}

/** Reads the root and renders the metrics page. */
export async function collectMetrics(store: Store, staleAfterMs: number, now: number): Promise<string> {
  // The folders and the counters are not read at one instant: each figure is right on its own.
  const [status, oldest, stats, queues] = await Promise.all([readStatus(store, now, staleAfterMs), oldestDueAt(store, now), readStats(store), listQueues(store, now)]);
  return formatMetrics({ status, stats, oldestDueAt: oldest, now, queues });
}

/** Renders the metrics page. Pure. */
export function formatMetrics({ status, stats, oldestDueAt, now, version = packageVersion(), queues }: MetricsInput): string {
  const lines: string[] = [];
  const metric = (name: string, type: string, help: string, samples: [labels: string, value: number][]) => {
    lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
    for (const [labels, value] of samples) lines.push(`${name}${labels} ${num(value)}`);
  };

  metric('queuectl_build_info', 'gauge', 'The queuectl version serving these metrics (always 1).', [[`{version="${label(version)}",node="${label(process.version)}"}`, 1]]);
  const c = status.counts;
  metric('queuectl_jobs', 'gauge', 'Jobs by state (pending = ready now; scheduled = run_at ahead; failed = awaiting a retry).',
    (['pending', 'scheduled', 'failed', 'waiting', 'processing', 'completed', 'dead', 'quarantined'] as const).map((s) => [`{state="${s}"}`, c[s]]));
  if (queues) {
    // Jobs that have not finished, by queue (finished ones are counted above; their folders carry no queue).
    const states = ['pending', 'scheduled', 'failed', 'waiting', 'processing'] as const;
    metric('queuectl_queue_jobs', 'gauge', 'Jobs not finished yet, by queue and state.', queues.flatMap((q) => states.map((s) => [`{queue="${label(q.name)}",state="${s}"}`, q[s]] as [string, number])));
    metric('queuectl_queue_limit', 'gauge', 'Most jobs of the queue that run at once (0: no limit).', queues.map((q) => [`{queue="${label(q.name)}"}`, q.limit]));
    metric('queuectl_queue_paused', 'gauge', '1 when the queue is paused (starts nothing new).', queues.map((q) => [`{queue="${label(q.name)}"}`, q.paused ? 1 : 0]));
  }
  metric('queuectl_jobs_completed_total', 'counter', 'Job runs that succeeded, over the life of the root.', [['', stats.completed]]);
  metric('queuectl_jobs_failed_total', 'counter', 'Job runs that failed (each failed attempt, including the last one of a dead job).', [['', stats.failed]]);
  metric('queuectl_jobs_dead_total', 'counter', 'Jobs moved to the dead letter queue by workers.', [['', stats.dead]]);

  lines.push(
    '# HELP queuectl_job_duration_seconds Duration of job runs, by outcome (completed; failed: a retry follows; dead: no retry left).',
    '# TYPE queuectl_job_duration_seconds histogram',
  );
  for (const outcome of OUTCOMES) {
    const h = stats.durations[outcome];
    DURATION_BUCKETS.forEach((le, i) => lines.push(`queuectl_job_duration_seconds_bucket{outcome="${outcome}",le="${le}"} ${num(h.buckets[i])}`));
    lines.push(`queuectl_job_duration_seconds_bucket{outcome="${outcome}",le="+Inf"} ${num(h.count)}`);
    lines.push(`queuectl_job_duration_seconds_sum{outcome="${outcome}"} ${num(h.sum)}`, `queuectl_job_duration_seconds_count{outcome="${outcome}"} ${num(h.count)}`);
  }

  const alive = status.workers.filter((w) => w.alive).length;
  metric('queuectl_workers_alive', 'gauge', 'Workers whose heartbeat is fresh.', [['', alive]]);
  metric('queuectl_workers_stale', 'gauge', 'Heartbeat files of workers that stopped beating (crashed or frozen).', [['', status.workers.length - alive]]);
  metric('queuectl_oldest_pending_job_age_seconds', 'gauge', 'How long the longest-waiting due job has been ready to run (0 when none is).',
    [['', oldestDueAt === null ? 0 : Math.max(0, (now - oldestDueAt) / 1000)]]);
  return `${lines.join('\n')}\n`;
}

/** A label value, escaped as the text format requires. */
function label(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

function num(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (!Number.isFinite(v)) return v > 0 ? '+Inf' : '-Inf';
  return Number.isInteger(v) ? String(v) : String(Math.round(v * 1e6) / 1e6);
}
