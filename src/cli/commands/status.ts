// `queuectl status`: counts by state and the workers.

import type { Overview } from '../../inspect.js';
import { formatDuration } from '../../units.js';
import { type Context, flag } from '../context.js';
import { colorState, loadCellWidths, pc, printJson, table } from '../format.js';
import { queueOf } from '../queue.js';
import type { Input } from '../spec.js';

/** status --json: the report with every time as ISO-8601 (heartbeat_at is epoch ms in the core). */
export function statusJson(report: Overview): unknown {
  return { ...report, workers: report.workers.map((w) => ({ ...w, heartbeat_at: new Date(w.heartbeat_at).toISOString() })) };
}

export async function statusCommand(ctx: Context, input: Input): Promise<void> {
  const q = await queueOf(ctx);
  const report = await q.status();
  const now = Date.now();
  if (flag(input, 'json')) return printJson(ctx.out, statusJson(report));
  await loadCellWidths(report.workers.flatMap((w) => [w.id, w.host, w.current_job ?? '']));
  ctx.out(`${pc.bold('Queue')} ${report.root}`);
  const c = report.counts;
  const order = ['pending', 'scheduled', 'failed', 'waiting', 'processing', 'completed', 'dead'] as const;
  ctx.out(order.map((s) => `${colorState(s)} ${pc.bold(String(c[s]))}`).join('   '));
  if (c.quarantined) ctx.out(pc.gray(`quarantined ${c.quarantined} (files in quarantine/ that were not valid jobs)`));
  // More than the default queue, or any queue settings: a line per queue.
  const queues = report.queues;
  if (queues.length > 1 || queues.some((q) => q.paused || q.limit)) {
    ctx.out('');
    for (const line of table(['QUEUE', 'PENDING', 'WAITING', 'RUNNING', 'LIMIT', 'STATE'], queues.map((q) => [
      q.name, String(q.pending + q.scheduled + q.failed), String(q.waiting), String(q.processing), q.limit ? String(q.limit) : '-',
      q.paused ? pc.yellow('paused') : pc.green('running'),
    ]), ctx.columns)) ctx.out(line);
  }
  ctx.out('');
  if (report.workers.length === 0) {
    ctx.out(pc.dim('No workers. Start one with: queuectl worker start'));
    return;
  }
  ctx.out(pc.bold(`Workers (${report.workers.filter((w) => w.alive).length} alive)`));
  for (const line of table(
    ['ID', 'PID', 'HOST', 'STATE', 'HEARTBEAT', 'JOB'],
    report.workers.map((w) => [
      w.id,
      String(w.pid),
      w.host,
      w.alive ? pc.green('alive') : pc.red('stale'),
      `${formatDuration(Math.max(0, now - w.heartbeat_at))} ago`,
      w.current_job ?? pc.dim('idle'),
    ]),
    ctx.columns,
  )) ctx.out(line);
}
