// GET /metrics: the queue in the Prometheus text format (version 0.0.4). Every figure comes from folder
// listings and the workers' stats files; no job file is opened. The counters are sums over the stats
// files of worker processes; when an old file is removed they go down, which Prometheus reads as a reset.

import { DURATION_BUCKETS, type StatsSnapshot } from '../stats.js';
import type { StatusReport } from '../inspect.js';

export const METRICS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

export interface MetricsInput {
  status: StatusReport;
  stats: StatsSnapshot;
  /** available_at of the longest-waiting due job (epoch ms), or null. */
  oldestDueAt: number | null;
  now: number;
}

/** Renders the metrics page. */
export function formatMetrics({ status, stats, oldestDueAt, now }: MetricsInput): string {
  const lines: string[] = [];
  const metric = (name: string, type: string, help: string, samples: [labels: string, value: number][]) => {
    lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
    for (const [labels, value] of samples) lines.push(`${name}${labels} ${num(value)}`);
  };

  const c = status.counts;
  metric('queuectl_jobs', 'gauge', 'Jobs by state (pending = ready now; scheduled = run_at ahead; failed = awaiting a retry).',
    (['pending', 'scheduled', 'failed', 'processing', 'completed', 'dead', 'quarantined'] as const).map((s) => [`{state="${s}"}`, c[s]]));
  metric('queuectl_jobs_completed_total', 'counter', 'Job runs that succeeded, summed over worker processes.', [['', stats.completed]]);
  metric('queuectl_jobs_failed_total', 'counter', 'Job runs that failed (each failed attempt, including the last one of a dead job).', [['', stats.failed]]);
  metric('queuectl_jobs_dead_total', 'counter', 'Jobs moved to the dead letter queue by workers.', [['', stats.dead]]);

  lines.push('# HELP queuectl_job_duration_seconds Duration of job runs.', '# TYPE queuectl_job_duration_seconds histogram');
  DURATION_BUCKETS.forEach((le, i) => lines.push(`queuectl_job_duration_seconds_bucket{le="${le}"} ${num(stats.duration_buckets[i] ?? 0)}`));
  lines.push(`queuectl_job_duration_seconds_bucket{le="+Inf"} ${num(stats.duration_buckets[DURATION_BUCKETS.length] ?? stats.duration_count)}`);
  lines.push(`queuectl_job_duration_seconds_sum ${num(stats.duration_sum)}`, `queuectl_job_duration_seconds_count ${num(stats.duration_count)}`);

  const alive = status.workers.filter((w) => w.alive).length;
  metric('queuectl_workers_alive', 'gauge', 'Workers whose heartbeat is fresh.', [['', alive]]);
  metric('queuectl_workers_stale', 'gauge', 'Heartbeat files of workers that stopped beating (crashed or frozen).', [['', status.workers.length - alive]]);
  metric('queuectl_oldest_pending_job_age_seconds', 'gauge', 'How long the longest-waiting due job has been ready to run (0 when none is).',
    [['', oldestDueAt === null ? 0 : Math.max(0, (now - oldestDueAt) / 1000)]]);
  return `${lines.join('\n')}\n`;
}

function num(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (!Number.isFinite(v)) return v > 0 ? '+Inf' : '-Inf';
  return Number.isInteger(v) ? String(v) : String(Math.round(v * 1e6) / 1e6);
}
