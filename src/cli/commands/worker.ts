// `queuectl worker start|stop`.

import { spawn } from 'node:child_process';
import { openSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pc from 'picocolors';
import { requestStop, waitForNoWorkers } from '../../admin.js';
import { loadConfig } from '../../config.js';
import { InputError } from '../../errors.js';
import { readWorkers } from '../../heartbeat.js';
import { formatDuration, parseDurationMs } from '../../units.js';
import type { WorkerEvent } from '../../pool.js';
import { type Context, intOption, rawOption } from '../context.js';
import { colorState } from '../format.js';

export const WORKER_ACTIONS = ['start', 'stop'] as const;

export interface WorkerFlags {
  count?: unknown;
  detach?: boolean;
  poll?: boolean;
  force?: boolean;
  timeout?: unknown;
  quiet?: boolean;
}

export async function workerCommand(ctx: Context, action: string, flags: WorkerFlags, signals: SignalSource): Promise<number> {
  if (action === 'start') return start(ctx, flags, signals);
  if (action === 'stop') return stop(ctx, flags);
  throw new InputError(`Unknown worker action "${action}"; expected one of ${WORKER_ACTIONS.join(', ')}`);
}

/** Process signals, handed in by the entry point (the only place that touches `process`). */
export interface SignalSource {
  on(signal: NodeJS.Signals, handler: () => void): void;
}

function time(): string {
  return pc.dim(new Date().toISOString().slice(11, 23));
}

/** One line per event, coloured like the page. */
export function formatEvent(e: WorkerEvent): string | null {
  const who = 'worker' in e && e.worker ? pc.dim(e.worker) : '';
  switch (e.type) {
    case 'ready': return `${time()} ${pc.bold(`${e.workers.length} worker${e.workers.length > 1 ? 's' : ''} ready`)} (pid ${e.pid}): ${e.workers.join(' ')}`;
    case 'claimed': return `${time()} ${who} ${colorState('processing')} ${pc.bold(e.id)} run ${e.attempt}/${e.maxRuns}: ${e.command.length > 80 ? `${e.command.slice(0, 79)}…` : e.command}`;
    case 'completed': return `${time()} ${who} ${colorState('completed')} ${pc.bold(e.id)} in ${formatDuration(e.durationMs)}`;
    case 'failed': return `${time()} ${who} ${colorState('failed')} ${pc.bold(e.id)} run ${e.attempt}: ${e.summary}; retry in ${formatDuration(e.retryInMs)}`;
    case 'dead': return `${time()} ${who} ${colorState('dead')} ${pc.bold(e.id)} after ${e.attempt} run${e.attempt > 1 ? 's' : ''}: ${e.summary}`;
    case 'interrupted': return `${time()} ${who} ${pc.yellow('interrupted')} ${pc.bold(e.id)}: back to pending (no attempt used)`;
    case 'cancelled': return `${time()} ${who} ${colorState('dead')} ${pc.bold(e.id)} cancelled`;
    case 'fenced': return `${time()} ${who} ${pc.yellow('fenced')} ${pc.bold(e.id)}: this worker was judged dead and the job was taken over; result discarded`;
    case 'recovered': return `${time()} ${who} ${pc.yellow('recovered')} ${pc.bold(e.id)} from dead worker ${e.from} -> ${colorState(e.to)}${e.killed ? ` (killed ${e.killed} leftover process${e.killed > 1 ? 'es' : ''})` : ''}`;
    case 'normalized': return `${time()} ${who} ${pc.cyan('accepted')} pending/${e.name} as ${pc.bold(e.id)}`;
    case 'quarantined': return `${time()} ${who} ${pc.gray('quarantined')} ${e.name}: ${e.reason}`;
    case 'stopping': return `${time()} ${pc.bold(e.mode === 'force' ? 'stopping now: killing running jobs (they go back to pending)' : 'stopping: finishing running jobs (Ctrl+C again to kill them)')}`;
    case 'published': return `${time()} ${who} ${pc.cyan('published')} ${e.count} job${e.count > 1 ? 's' : ''} of a committed batch whose enqueue did not finish`;
    case 'config': return `${time()} ${pc.bold('config changed')}: ${e.changed.join(', ')} (applied)`;
    case 'error': return `${time()} ${who} ${pc.red('error')} ${e.message}`;
  }
}

async function start(ctx: Context, flags: WorkerFlags, signals: SignalSource): Promise<number> {
  const count = intOption(rawOption(ctx.argv, '--count') ?? flags.count, '--count', 1, 256) ?? 1;
  const store = await ctx.store();
  const config = await loadConfig(store, flags.poll ? { poll: true } : {});
  if (flags.detach) return detach(ctx, count);

  const { startWorkerPool } = await import('../../pool.js');
  // Signals are handled from before the first claim: a stop asked for while the pool starts is applied
  // as soon as it exists (the workers finish what they claimed meanwhile).
  let interrupts = 0;
  let requested: 'graceful' | 'force' | null = null;
  let pool: Awaited<ReturnType<typeof startWorkerPool>> | undefined;
  const request = (mode: 'graceful' | 'force') => {
    requested = requested === 'force' ? 'force' : mode;
    pool?.stop(mode);
  };
  signals.on('SIGINT', () => request(++interrupts > 1 ? 'force' : 'graceful'));
  signals.on('SIGTERM', () => request(++interrupts > 1 ? 'force' : 'graceful'));
  // A closed terminal (or an ssh session that ends) sends SIGHUP: a graceful stop, never a lost run.
  signals.on('SIGHUP', () => request('graceful'));
  signals.on('SIGUSR2', () => request('force'));
  pool = await startWorkerPool({
    store,
    config,
    count,
    env: ctx.env,
    // QUEUECTL_FAULT=<step> makes the worker SIGKILL itself at that step, <step>:stop SIGSTOP itself
    // (a pause that another process ends with SIGCONT); for the torture suite and the fencing tests.
    fault: ctx.env.QUEUECTL_FAULT
      ? (point) => {
          const [at, how] = ctx.env.QUEUECTL_FAULT!.split(':');
          if (point === at) process.kill(process.pid, how === 'stop' ? 'SIGSTOP' : 'SIGKILL');
        }
      : undefined,
    onEvent: (e) => {
      if (flags.quiet && e.type !== 'error' && e.type !== 'ready') return;
      const line = formatEvent(e);
      if (line) ctx.out(line);
    },
  });
  if (requested) pool.stop(requested);
  await pool.done;
  return 0;
}

/** Starts the same command without --detach in the background, its output appended to logs/workers.log. */
async function detach(ctx: Context, count: number): Promise<number> {
  const store = await ctx.store();
  const logFile = join(store.logs, 'workers.log');
  const fd = openSync(logFile, 'a', 0o600);
  const bin = fileURLToPath(new URL('../index.js', import.meta.url));
  const args = [bin, 'worker', 'start', '--count', String(count), '--root', store.root, ...ctx.argv.filter((a) => a === '--poll')];
  const child = spawn(process.execPath, args, { detached: true, stdio: ['ignore', fd, fd], cwd: ctx.cwd, env: { ...ctx.env, NO_COLOR: '1' } });
  child.unref();
  const before = new Set((await readWorkers(store, Date.now(), 60_000)).map((w) => w.id));
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    const mine = (await readWorkers(store, Date.now(), 60_000)).filter((w) => w.pid === child.pid && !before.has(w.id));
    if (mine.length >= count) {
      ctx.out(`Started ${count} worker${count > 1 ? 's' : ''} in the background (pid ${child.pid}); log: ${logFile}`);
      return 0;
    }
    if (child.exitCode !== null) break;
    await new Promise((r) => setTimeout(r, 25));
  }
  ctx.err(`The background worker (pid ${child.pid}) did not start; see ${logFile}`);
  return 1;
}

async function stop(ctx: Context, flags: WorkerFlags): Promise<number> {
  const store = await ctx.store();
  const config = await loadConfig(store);
  const timeoutRaw = rawOption(ctx.argv, '--timeout');
  const timeoutMs = timeoutRaw === undefined ? 0 : parseDurationMs(timeoutRaw, '--timeout');
  const req = await requestStop(store, flags.force ? 'force' : 'graceful', config.staleAfterMs);
  const n = req.signalled.length + req.asked.length;
  if (n === 0) {
    ctx.out('No live workers.');
    return 0;
  }
  ctx.out(`Asked ${req.signalled.length ? `${req.signalled.length} worker process${req.signalled.length > 1 ? 'es' : ''} (pid ${req.signalled.join(', ')})` : ''}${req.signalled.length && req.asked.length ? ' and ' : ''}${req.asked.length ? `${req.asked.length} worker${req.asked.length > 1 ? 's' : ''} on other hosts` : ''} to stop${flags.force ? ' now' : ' after their current job'}...`);
  if (!(await waitForNoWorkers(store, config.staleAfterMs, timeoutMs))) {
    ctx.err(`Workers still running after ${formatDuration(timeoutMs)}; use --force to kill their jobs (they go back to pending)`);
    return 1;
  }
  ctx.out('All workers stopped.');
  return 0;
}
