// `worker start --count N --processes P`: the N workers as P processes. This process (the leader) runs
// the first share itself and starts P-1 helpers, each `worker start --count K --processes 1` with
// HELPER_ENV set and an IPC channel. Why: every process has one main thread that spawns, watches and
// writes for all of its workers, and a fork copies the page tables of the process that forks; two
// processes of one worker ran 23-28% more jobs a second than one of two (BENCHMARKS.md).
//
// Invariants:
//  - One command, one set of output: helpers print nothing; their events come here over IPC and are
//    printed by the leader like its own (same --json, --log, --quiet). One "ready" line, once every
//    process is ready. A helper's 'stopping', 'config' and 'queues' events are dropped: the leader's
//    own say the same.
//  - One stop: a stop asked of the leader (signal, `worker stop` reaches every process by its own pid
//    too) is passed to every helper, as a mode, never as another interrupt: a Ctrl+C reaches the whole
//    process group at once, and the leader's message must not turn a helper's graceful stop into force.
//  - No orphans: a helper whose leader is gone (kill -9) sees its channel close and stops gracefully.
//  - A helper that is gone without being asked (killed, crashed, an exit status not 0) is an error: it
//    is said, the others stop gracefully and the leader exits 1, so a supervisor restarts the whole
//    set. The jobs it had claimed go back through recovery, as for any dead worker. A helper that
//    stopped because it was asked to (a signal to its own pid: exit 0) stops the whole set, gracefully.

import { type ChildProcess, spawn } from 'node:child_process';
import type { StopMode, WorkerEvent } from '../pool.js';
import { HELPER_ENV } from './context.js';

/** How N workers are divided among P processes: as evenly as can be, the larger shares first. */
export function shares(count: number, processes: number): number[] {
  const p = Math.max(1, Math.min(processes, count));
  return Array.from({ length: p }, (_, i) => Math.floor(count / p) + (i < count % p ? 1 : 0));
}

/** What the helpers are started with. */
export interface HelperSpawn {
  /** node and its flags, then the CLI script: `[execPath, ...flags, bin]`. */
  argv: string[];
  root: string;
  /** Options passed on as given (--poll, --quiet, --queue NAME ...). */
  passOn: string[];
  cwd: string;
  env: Record<string, string>;
}

/** A message from a helper: one of its events. */
interface FromHelper {
  event: WorkerEvent;
}

/** A message to a helper: stop in this mode. */
export interface ToHelper {
  stop: StopMode;
}

/** Events a helper reports that the leader reports for itself. */
const LEADER_SAYS = new Set<WorkerEvent['type']>(['stopping', 'config', 'queues']);

export function isStopMessage(m: unknown): m is ToHelper {
  return typeof m === 'object' && m !== null && ((m as ToHelper).stop === 'graceful' || (m as ToHelper).stop === 'force');
}

function isFromHelper(m: unknown): m is FromHelper {
  return typeof m === 'object' && m !== null && typeof (m as FromHelper).event?.type === 'string';
}

interface Helper {
  child: ChildProcess;
  ready: { workers: string[]; pid: number } | null;
  exited: boolean;
}

/** The helper processes of one `worker start`. */
export class Helpers {
  private readonly list: Helper[] = [];
  private stopMode: StopMode | null = null;
  /** Resolves when every helper has exited; true when each exited 0 after a stop was asked. */
  readonly done: Promise<boolean>;
  private failed = false;

  /**
   * Starts one helper per share. `onEvent` gets their events (the ready events included, for the
   * caller to merge); `onLost` when a helper is gone without being asked (killed, crashed, exit not 0);
   * `onStopped` when one stopped as asked (exit 0) before the leader was asked: the caller stops the rest.
   */
  constructor(
    counts: number[],
    how: HelperSpawn,
    private readonly onEvent: (e: WorkerEvent) => void,
    private readonly onLost: (message: string) => void,
    private readonly onStopped: () => void,
  ) {
    const exits: Promise<void>[] = [];
    for (const n of counts) {
      const child = spawn(how.argv[0], [...how.argv.slice(1), 'worker', 'start', '--root', how.root, '--count', String(n), '--processes', '1', '--no-color', ...how.passOn], {
        cwd: how.cwd,
        env: { ...how.env, [HELPER_ENV]: '1' },
        // stdout is not used (events come over IPC); stderr is this process's, so a crash is seen.
        stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
      });
      const h: Helper = { child, ready: null, exited: false };
      this.list.push(h);
      child.on('message', (m: unknown) => {
        if (!isFromHelper(m)) return;
        if (m.event.type === 'ready') {
          h.ready = { workers: m.event.workers, pid: m.event.pid };
          // A stop sent while it started may have come before it listened: say it again.
          if (this.stopMode) child.send({ stop: this.stopMode } satisfies ToHelper, undefined, undefined, () => {});
        }
        if (LEADER_SAYS.has(m.event.type)) return;
        this.onEvent(m.event);
      });
      exits.push(new Promise<void>((resolve) => {
        child.on('error', (err) => {
          // spawn itself failed: no 'exit' follows.
          if (h.exited) return;
          h.exited = true;
          this.lost(`a worker process could not be started: ${err.message}`);
          resolve();
        });
        child.on('exit', (code, signal) => {
          if (h.exited) return;
          h.exited = true;
          const workers = h.ready ? ` (workers ${h.ready.workers.join(' ')})` : ' before it was ready';
          const how = signal ? `was killed by ${signal}` : `exited with code ${code}`;
          if (code !== 0) this.lost(`worker process pid ${child.pid}${workers} ${how}${this.stopMode === null ? '; stopping the others' : ' while stopping'}`);
          // Exit 0 is a stop that was asked of it (a signal to its own pid): the set stops with it.
          else if (this.stopMode === null) this.onStopped();
          resolve();
        });
      }));
    }
    this.done = Promise.all(exits).then(() => !this.failed);
  }

  private lost(message: string): void {
    this.failed = true;
    this.onLost(message);
  }

  /** True once every helper said it was ready. */
  get allReady(): boolean {
    return this.list.every((h) => h.ready !== null);
  }

  /** The helpers' workers and pids, in order. */
  get ready(): { workers: string[]; pids: number[] } {
    return { workers: this.list.flatMap((h) => h.ready?.workers ?? []), pids: this.list.flatMap((h) => (h.ready ? [h.ready.pid] : [])) };
  }

  /** Asks every helper to stop; force wins over graceful and is never taken back. */
  stop(mode: StopMode): void {
    if (this.stopMode === 'force' || this.stopMode === mode) return;
    this.stopMode = mode;
    const message: ToHelper = { stop: mode };
    for (const h of this.list) {
      if (h.exited || !h.child.connected) continue;
      h.child.send(message, undefined, undefined, () => {});
    }
  }
}
