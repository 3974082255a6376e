// Worker heartbeats and the one judgment of whether a worker is alive.
//
// One touch-file per worker in workers/. Its content says who the worker is (written once, at start: id,
// pid and its start time, host name, boot id and PID namespace); its mtime says when it last proved alive.
// A touch is a one-byte pwrite, so the mtime comes from the filesystem's clock (the file server's, on a
// shared filesystem), and staleness is judged by comparing two mtimes, never against the local clock.
//
// A worker is dead when (judgeWorker, used by recovery, `status`, `worker stop`, `cancel` and the page):
//  - it runs on this host (same boot id and PID namespace, identity.ts) and its process is gone, a zombie,
//    or another process with the same pid (start time differs); or
//  - its heartbeat is older than stale-after against a reference mtime (a heartbeat just touched on the
//    same filesystem); or
//  - its heartbeat has not changed for stale-after on this process's monotonic clock (a file server
//    whose clock stepped back must not hold recovery up).
// On another host (or another PID namespace of this one) only the last two count.

import * as fs from 'node:fs';
import { promises as fsp } from 'node:fs';
import { join } from 'node:path';
import { isErrno } from './errors.js';
import { type HostIdentity, hostIdentity, isLocalHost, processState, selfStartTime } from './identity.js';
import { FILE_MODE, listJsonNames, type Store, writeFileDurable } from './store.js';

/** What a heartbeat file holds. */
export interface WorkerInfo extends Partial<HostIdentity> {
  id: string;
  pid: number;
  /** Start time of the worker's process (clock ticks since boot), to tell it from a later one with its pid. */
  pid_start?: number | null;
  host: string;
  started_at: string;
  /** The root this worker serves (for people reading the file). */
  root: string;
  /** Set by the worker itself when it is stopping: it takes no more jobs, finishes (or kills) what it runs, and exits. */
  stop?: boolean;
}

export interface WorkerStatus extends WorkerInfo {
  /** mtime of the heartbeat file (epoch ms). */
  heartbeat_at: number;
  alive: boolean;
  /** Why it counts as dead (null while alive): "its process is gone", "no heartbeat for 12s", ... */
  dead_because: string | null;
}

export function heartbeatPath(store: Store, workerId: string): string {
  return join(store.workers, `${workerId}.json`);
}

export interface Heartbeat {
  info: WorkerInfo;
  /** Touches the file now; resolves to its new mtime. */
  beat(): Promise<number>;
  /**
   * Rewrites the file (atomically) with `stop: true`, so that `status` and the page show the worker as
   * stopping instead of idle while jobs wait. Beats go on into the new file. Never throws.
   */
  markStopping(): Promise<void>;
  /** Removes the file (clean exit), after a markStopping() in flight, so the file cannot come back. */
  remove(): Promise<void>;
}

/** Writes a worker's heartbeat file and keeps it open for cheap touches. */
export async function createHeartbeat(store: Store, workerId: string): Promise<Heartbeat> {
  const me = hostIdentity();
  const info: WorkerInfo = {
    id: workerId, pid: process.pid, pid_start: selfStartTime(), host: me.host, boot_id: me.boot_id, pid_ns: me.pid_ns,
    started_at: new Date().toISOString(), root: store.root,
  };
  const path = heartbeatPath(store, workerId);
  await writeFileDurable(store, path, `${JSON.stringify(info)}\n`);
  let fh = await fsp.open(path, 'r+', FILE_MODE);
  const first = Buffer.from('{');
  let marking: Promise<void> | undefined;
  let removed = false;
  return {
    info,
    async beat() {
      // pwrite of the byte already there: the content stays, the filesystem sets the mtime.
      const h = fh;
      try {
        await h.write(first, 0, 1, 0);
        return (await h.stat()).mtimeMs;
      } catch (err) {
        if (h === fh) throw err;
        // markStopping swapped the file (and closed this handle) meanwhile: beat the new one.
        await fh.write(first, 0, 1, 0);
        return (await fh.stat()).mtimeMs;
      }
    },
    markStopping() {
      if (removed || info.stop) return marking ?? Promise.resolve();
      info.stop = true;
      marking = (async () => {
        await writeFileDurable(store, path, `${JSON.stringify(info)}\n`);
        const old = fh;
        fh = await fsp.open(path, 'r+', FILE_MODE);
        await old.close();
      })().catch(() => {
        // Only what status shows is lost: the old file still beats.
      });
      return marking;
    },
    async remove() {
      removed = true;
      await marking;
      await fh.close().catch(() => {});
      await fsp.unlink(path).catch(() => {});
    },
  };
}

/**
 * What a judge remembers between passes: per worker id, the last heartbeat mtime it saw and when (on this
 * process's monotonic clock) it saw it change.
 */
export type HeartbeatMemory = Map<string, { mtime: number; changedAt: number }>;

export interface JudgeOptions {
  /** mtime of a heartbeat just touched on this filesystem ("now" on its clock), or the local clock. */
  reference: number;
  staleAfterMs: number;
  /** Workers of this process: alive to ourselves. */
  self?: ReadonlySet<string>;
  /** Kept by the caller across passes; without it, only mtime age (and the pid check) count. */
  memory?: HeartbeatMemory;
}

/** Why a worker of this host is dead by its pid (gone, a zombie, reused), or null (alive, or not of this host). */
export function localDeath(w: WorkerInfo): string | null {
  if (!isLocalHost(w)) return null;
  const p = processState(w.pid);
  if (p.state === 'gone') return 'its process is gone';
  if (p.state === 'zombie') return 'its process was killed (a zombie not yet reaped)';
  if (w.pid_start != null && p.start !== null && p.start !== w.pid_start) return 'its process is gone (its pid now belongs to another process)';
  return null;
}

/** Why a worker with this heartbeat is dead, or null when it is alive. */
export function judgeWorker(w: WorkerInfo & { heartbeat_at: number }, opts: JudgeOptions, mono = performance.now()): string | null {
  if (opts.self?.has(w.id)) return null;
  const local = localDeath(w);
  if (local) return local;
  const age = opts.reference - w.heartbeat_at;
  if (age > opts.staleAfterMs) return `no heartbeat for ${Math.round(age / 100) / 10}s (stale-after ${opts.staleAfterMs / 1000}s)`;
  const seen = opts.memory?.get(w.id);
  if (seen && mono - seen.changedAt > opts.staleAfterMs) return `its heartbeat has not changed for ${Math.round((mono - seen.changedAt) / 100) / 10}s`;
  return null;
}

/**
 * Every heartbeat file, judged (see judgeWorker). `reference` is the mtime of a file just touched on the
 * same filesystem (a live worker's own heartbeat), or the local clock when there is none.
 */
export async function readWorkers(store: Store, reference: number, staleAfterMs: number, extra: Omit<JudgeOptions, 'reference' | 'staleAfterMs'> = {}): Promise<WorkerStatus[]> {
  const opts: JudgeOptions = { reference, staleAfterMs, ...extra };
  const mono = performance.now();
  const out: WorkerStatus[] = [];
  for (const name of await listJsonNames(store.workers)) {
    const path = join(store.workers, name);
    try {
      const [text, st] = await Promise.all([fsp.readFile(path, 'utf8'), fsp.stat(path)]);
      const info = JSON.parse(text) as WorkerInfo;
      if (opts.memory) {
        const seen = opts.memory.get(info.id);
        if (!seen || seen.mtime !== st.mtimeMs) opts.memory.set(info.id, { mtime: st.mtimeMs, changedAt: mono });
      }
      const dead = judgeWorker({ ...info, heartbeat_at: st.mtimeMs }, opts, mono);
      out.push({ ...info, heartbeat_at: st.mtimeMs, alive: dead === null, dead_because: dead });
    } catch (err) {
      if (isErrno(err, 'ENOENT')) continue; // exited while we looked
      // A half-readable heartbeat is a worker that is starting; skip it this time.
    }
  }
  if (opts.memory) for (const id of [...opts.memory.keys()]) if (!out.some((w) => w.id === id)) opts.memory.delete(id);
  return out.sort((a, b) => a.started_at.localeCompare(b.started_at) || a.id.localeCompare(b.id));
}

/**
 * Notices, between recovery passes, that a worker of this host has died: one readdir of workers/ and
 * a /proc read per worker of this host, each heartbeat file read once. A worker killed on this host is
 * then recovered within a heartbeat interval, not at the next pass (stale-after / 2). Each death is
 * reported once; recovery itself judges again (judgeWorker) before it moves anything.
 */
export class LocalDeathWatch {
  private readonly known = new Map<string, WorkerInfo | null>();
  private readonly reported = new Set<string>();

  constructor(private readonly store: Store, private readonly self: ReadonlySet<string>) {}

  /** True when a worker of this host has died since the last call. */
  check(): boolean {
    let names: string[];
    try {
      names = fs.readdirSync(this.store.workers).filter((n) => n.endsWith('.json') && !n.startsWith('.'));
    } catch {
      return false;
    }
    let died = false;
    const present = new Set(names);
    for (const name of names) {
      if (this.reported.has(name)) continue;
      let info = this.known.get(name);
      if (info === undefined) {
        try {
          info = JSON.parse(fs.readFileSync(join(this.store.workers, name), 'utf8')) as WorkerInfo;
        } catch {
          continue; // being written, or gone: next time
        }
        if (!info || typeof info.id !== 'string' || this.self.has(info.id) || !isLocalHost(info)) info = null;
        this.known.set(name, info);
      }
      if (info && localDeath(info)) {
        this.reported.add(name);
        died = true;
      }
    }
    for (const name of this.known.keys()) if (!present.has(name)) this.known.delete(name);
    for (const name of this.reported) if (!present.has(name)) this.reported.delete(name);
    return died;
  }
}
