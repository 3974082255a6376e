// `queuectl worker start|stop`.
//
// Invariants:
//  - Jobs start from the environment queuectl was started with (ctx.env), never from process.env:
//    what queuectl sets for itself (UV_THREADPOOL_SIZE, colour settings) does not reach them. --detach
//    passes that same environment to the background process and says --no-color instead of NO_COLOR=1.
//  - One line per event, whatever the event holds (line breaks in a command are folded), each starting
//    with the local time and its offset. --json: one JSON object per line instead.
//  - Output that can no longer be written (a closed terminal, a reader gone) is dropped, never fatal:
//    the workers carry on, and SIGHUP is a graceful stop.

import { spawn } from 'node:child_process';
import { openSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join, resolve } from 'node:path';
import { requestStop, waitForNoWorkers } from '../../admin.js';
import { loadConfig } from '../../config.js';
import { InputError } from '../../errors.js';
import { QUEUE_PATTERN } from '../../job.js';
import { readWorkers } from '../../heartbeat.js';
import { parentPid } from '../../identity.js';
import { formatDuration, parseSize } from '../../units.js';
import type { WorkerEvent, WorkerPool } from '../../pool.js';
import { type Context, durationOption, flag, intOption, list, str } from '../context.js';
import { colorState, cut, loadCellWidths, localTime, oneLine, pc } from '../format.js';
import { DEFAULT_LOG_MAX, RotatingLog } from '../log-file.js';
import { queueOf } from '../queue.js';
import type { Input } from '../spec.js';
import { EXIT_TIMEOUT } from './wait.js';
import { heapSizeFlags, keepHeapSmall } from '../heap-size.js';
import { Helpers, isStopMessage, shares } from '../worker-processes.js';

/** How a stop that finishes the running jobs can be made to kill them instead, where this runs. */
export interface StopHint {
  /** A terminal: Ctrl+C reaches us. */
  terminal: boolean;
}

/** One line per event, coloured like the page; `now` is printed as local time with its offset. */
export function formatEvent(e: WorkerEvent, now: number, hint: StopHint = { terminal: true }): string {
  const time = pc.dim(localTime(now));
  const who = 'worker' in e && e.worker ? ` ${pc.dim(e.worker)}` : '';
  const id = 'id' in e ? pc.bold(e.id) : '';
  const line = (() => {
    switch (e.type) {
      case 'ready': return pc.bold(`${e.workers.length} worker${e.workers.length > 1 ? 's' : ''} ready`) + ` (pid ${e.pid}): ${e.workers.join(' ')}`;
      case 'claimed': return `${colorState('processing')} ${id} run ${e.attempt}/${e.maxRuns}: ${cut(e.command, 80)}`;
      case 'completed': return `${colorState('completed')} ${id} in ${formatDuration(e.durationMs)}`;
      case 'failed': return `${colorState('failed')} ${id} run ${e.attempt}: ${e.summary}; retry in ${formatDuration(e.retryInMs)}`;
      case 'dead': return `${colorState('dead')} ${id} after ${e.attempt} run${e.attempt > 1 ? 's' : ''}: ${e.summary}`;
      case 'interrupted': return `${pc.yellow('interrupted')} ${id}: back to pending (no attempt used)`;
      case 'cancelled': return `${colorState('dead')} ${id} cancelled`;
      case 'fenced': return `${pc.yellow('fenced')} ${id}: this worker was judged dead and the job was taken over; result discarded`;
      case 'recovered': return `${pc.yellow('recovered')} ${id} from dead worker ${e.from} -> ${colorState(e.to)}${e.killed ? ` (killed ${e.killed} leftover process${e.killed > 1 ? 'es' : ''})` : ''}`;
      case 'normalized': return `${pc.cyan('accepted')} pending/${e.name} as ${id}`;
      case 'quarantined': return `${pc.gray('quarantined')} ${e.name}: ${e.reason}`;
      case 'published': return `${pc.cyan('published')} ${e.count} job${e.count > 1 ? 's' : ''} of a committed batch whose enqueue did not finish`;
      case 'scheduled': return `${pc.cyan('scheduled')} ${id} (schedule ${e.schedule})`;
      case 'settled': return `${pc.cyan('dependents')} of ${id}: ${e.released} may run now${e.doomed ? `, ${e.doomed} dead (dependency-failed)` : ''}`;
      case 'queues': return `${pc.bold('queues')}: paused ${e.paused.join(', ') || 'none'}; limits ${Object.entries(e.limits).map(([q, n]) => `${q} ${n}`).join(', ') || 'none'}`;
      case 'config': return `${pc.bold('config changed')}: ${e.changed.join(', ')} (applied)`;
      case 'stopping': return pc.bold(e.mode === 'force'
        ? 'stopping now: killing running jobs (they go back to pending)'
        : `stopping: finishing running jobs (${hint.terminal ? 'Ctrl+C again' : 'SIGTERM again, or queuectl worker stop --force,'} to kill them)`);
      case 'error': return `${pc.red('error')} ${e.message}`;
    }
  })();
  return `${time}${who} ${oneLine(line ?? '')}`;
}

/** An event as one NDJSON object: `time` (ISO-8601 UTC) and `event` first, fields in snake_case. */
export function eventJson(e: WorkerEvent, now: number): string {
  const out: Record<string, unknown> = { time: new Date(now).toISOString(), event: e.type };
  for (const [k, v] of Object.entries(e)) if (k !== 'type') out[k.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`)] = v;
  return JSON.stringify(out);
}

export async function startCommand(ctx: Context, input: Input): Promise<number> {
  const count = intOption(str(input, 'count'), '--count', 1, 256) ?? 1;
  // One process per core by default: more processes than cores only add memory.
  const processes = intOption(str(input, 'processes'), '--processes', 1, count) ?? Math.min(count, availableParallelism());
  const queues = list(input, 'queue');
  for (const q of queues) if (!QUEUE_PATTERN.test(q)) throw new InputError(`Expected --queue to be a queue name (1-64 of a-z 0-9 _ -), got ${JSON.stringify(q)}`);
  const logMaxText = str(input, 'log-max');
  const logMax = logMaxText === undefined ? DEFAULT_LOG_MAX : parseSize(logMaxText, '--log-max');
  const queue = await queueOf(ctx);
  // A bad config.json fails here, before anything starts (in the background too).
  await queue.config(flag(input, 'poll') ? { poll: true } : {});
  if (flag(input, 'detach')) return detach(ctx, input, count, processes);
  keepHeapSmall(ctx.nodeFlags, ctx.env.NODE_OPTIONS);

  // A helper of another `worker start` (worker-processes.ts) reports its events there and prints nothing.
  const parent = ctx.parent;
  const logPath = parent ? undefined : str(input, 'log');
  const log = logPath !== undefined ? new RotatingLog(resolve(ctx.cwd, logPath), logMax) : null;
  const json = flag(input, 'json');
  // logrotate moves the file away and sends SIGUSR1: the next line opens FILE anew, this one first.
  if (log) {
    ctx.signals.on('SIGUSR1', () => {
      log.reopen();
      const now = Date.now();
      log.write(json ? JSON.stringify({ time: new Date(now).toISOString(), event: 'log-reopened' }) : `${localTime(now)} log reopened (SIGUSR1)`);
    });
  }
  const hint: StopHint = { terminal: ctx.tty.stdin && !log };
  const print = (e: WorkerEvent) => {
    const now = Date.now();
    const line = json ? eventJson(e, now) : formatEvent(e, now, hint);
    if (log) log.write(line);
    else ctx.out(line);
  };
  if (process.pid === 1 && !parent) {
    print({ type: 'error', message: 'queuectl is PID 1 (a container without an init): processes that jobs leave behind are never reaped and stay zombies. Run the container with an init: docker run --init, or init: true in compose' });
  }
  if (!parent) await loadCellWidths();

  const counts = shares(count, processes);
  // Until every process is ready, events are held, so that the one "ready" line comes first.
  let held: WorkerEvent[] | null = counts.length > 1 ? [] : null;
  let ownReady: { workers: string[]; pid: number } | null = null;
  let helpers: Helpers | null = null;
  const show = (e: WorkerEvent) => {
    if (flag(input, 'quiet') && e.type !== 'error' && e.type !== 'ready') return;
    if (parent) parent.send({ event: e });
    else if (held) held.push(e);
    else print(e);
  };
  /** Prints the held events: after the merged ready line when every process is ready, or without it. */
  const release = (withReady: boolean) => {
    if (!held) return;
    const out = held;
    held = null;
    if (withReady && ownReady && helpers) {
      const h = helpers.ready;
      print({ type: 'ready', workers: [...ownReady.workers, ...h.workers], pid: ownReady.pid, helpers: h.pids });
    }
    for (const e of out) print(e);
  };
  const readyNow = () => {
    if (held && ownReady && helpers?.allReady) release(true);
  };

  // Signals are handled from before the first claim: a stop asked for while the pool starts is applied
  // as soon as it exists (the workers finish what they claimed meanwhile).
  let interrupts = 0;
  let requested: 'graceful' | 'force' | null = null;
  let pool: WorkerPool | undefined;
  const request = (mode: 'graceful' | 'force') => {
    requested = requested === 'force' ? 'force' : mode;
    pool?.stop(requested);
    helpers?.stop(requested);
  };
  ctx.signals.on('SIGINT', () => request(++interrupts > 1 ? 'force' : 'graceful'));
  ctx.signals.on('SIGTERM', () => request(++interrupts > 1 ? 'force' : 'graceful'));
  // A closed terminal: finish the running jobs. Never counted as a second interrupt, since a shell
  // may pass its own SIGHUP on after the kernel's.
  ctx.signals.on('SIGHUP', () => request('graceful'));
  ctx.signals.on('SIGUSR2', () => request('force'));
  if (parent) {
    // The leader's stop is a mode, not an interrupt (a Ctrl+C reached this process too).
    parent.onMessage((m) => {
      if (isStopMessage(m)) request(m.stop);
    });
    // The leader is gone (kill -9): no orphan workers; finish what runs and exit.
    parent.onDisconnect(() => request('graceful'));
  }
  if (counts.length > 1) {
    const passOn = passedOn(input, ['poll', 'quiet']);
    helpers = new Helpers(
      counts.slice(1),
      { argv: [process.execPath, ...heapSizeFlags(ctx.nodeFlags), ctx.bin], root: ctx.root, passOn, cwd: ctx.cwd, env: ctx.env },
      (e) => (e.type === 'ready' ? readyNow() : show(e)),
      (message) => {
        release(false);
        print({ type: 'error', message });
        request('graceful');
      },
      () => request('graceful'),
    );
  }
  const fault = ctx.env.QUEUECTL_FAULT;
  try {
    pool = await queue.startWorkers({
      count: counts[0],
      poll: flag(input, 'poll'),
      env: ctx.env,
      queues,
      // QUEUECTL_FAULT=<step> makes the worker SIGKILL itself at that step, <step>:stop SIGSTOP itself
      // (a pause that another process ends with SIGCONT); for the torture suite and the fencing tests.
      fault: fault
        ? (point) => {
            const [at, how] = fault.split(':');
            if (point === at) process.kill(process.pid, how === 'stop' ? 'SIGSTOP' : 'SIGKILL');
          }
        : undefined,
      onEvent: (e) => {
        if (e.type === 'ready' && held) {
          ownReady = { workers: e.workers, pid: e.pid };
          readyNow();
        } else show(e);
      },
    });
  } catch (err) {
    helpers?.stop('graceful');
    await helpers?.done;
    throw err;
  }
  if (requested) pool.stop(requested);
  await pool.done;
  // A helper that died (said as an error when it did) makes the exit status 1.
  const failed = helpers ? !(await helpers.done) : false;
  release(false);
  log?.close();
  return failed ? 1 : 0;
}

/** The options a `worker start` passes on to the one it starts: these flags as given, and every --queue. */
function passedOn(input: Input, flags: string[]): string[] {
  const out = flags.filter((f) => flag(input, f)).map((f) => `--${f}`);
  for (const q of list(input, 'queue')) out.push('--queue', q);
  return out;
}

/**
 * Starts `worker start --log <root>/logs/workers.log` in the background, with the environment this
 * command was started with, and returns once its workers are up.
 */
async function detach(ctx: Context, input: Input, count: number, processes: number): Promise<number> {
  const store = await ctx.store();
  const logFile = join(store.logs, 'workers.log');
  // The background process's stderr (a crash, a warning from node) goes to the log too.
  const fd = openSync(logFile, 'a', 0o600);
  const passOn = passedOn(input, ['poll', 'quiet', 'json']);
  const logMax = str(input, 'log-max');
  const args = [ctx.bin, 'worker', 'start', '--root', store.root, '--count', String(count), '--processes', String(processes), '--log', logFile, '--no-color', ...passOn, ...(logMax !== undefined ? ['--log-max', logMax] : [])];
  const child = spawn(process.execPath, [...heapSizeFlags(ctx.nodeFlags), ...args], { detached: true, stdio: ['ignore', 'ignore', fd], cwd: ctx.cwd, env: ctx.env });
  child.unref();
  const before = new Set((await readWorkers(store, Date.now(), 60_000)).map((w) => w.id));
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    // Its workers: those of the process itself and of its helpers (--processes), which it started.
    const mine = (await readWorkers(store, Date.now(), 60_000)).filter((w) => !before.has(w.id) && (w.pid === child.pid || parentPid(w.pid) === child.pid));
    if (mine.length >= count) {
      ctx.out(`Started ${count} worker${count > 1 ? 's' : ''}${processes > 1 ? ` in ${processes} processes` : ''} in the background (pid ${child.pid}); log: ${logFile}`);
      return 0;
    }
    if (child.exitCode !== null) break;
    await new Promise((r) => setTimeout(r, 25));
  }
  ctx.err(`The background worker (pid ${child.pid}) did not start; see ${logFile}`);
  return 1;
}

export async function stopCommand(ctx: Context, input: Input): Promise<number> {
  const store = await ctx.store();
  const config = await loadConfig(store);
  const force = flag(input, 'force');
  const timeoutMs = durationOption(str(input, 'timeout'), '--timeout');
  const req = await requestStop(store, force ? 'force' : 'graceful', config.staleAfterMs);
  const n = req.signalled.length + req.asked.length;
  if (n === 0) {
    ctx.out('No live workers.');
    return 0;
  }
  const here = req.signalled.length ? `${req.signalled.length} worker process${req.signalled.length > 1 ? 'es' : ''} (pid ${req.signalled.join(', ')})` : '';
  const there = req.asked.length ? `${req.asked.length} worker${req.asked.length > 1 ? 's' : ''} on other hosts` : '';
  ctx.out(`Asked ${[here, there].filter(Boolean).join(' and ')} to stop${force ? ' now' : ' after their current job'}...`);
  if (!(await waitForNoWorkers(store, config.staleAfterMs, timeoutMs))) {
    ctx.err(`Workers still running after ${formatDuration(timeoutMs)}; use --force to kill their jobs (they go back to pending)`);
    return EXIT_TIMEOUT;
  }
  ctx.out('All workers stopped.');
  return 0;
}
