// Who a process is, and whether another one is still alive. A pid means something only inside one PID
// namespace of one boot: containers that share a hostname (network_mode: host, a fixed `hostname:`, or
// `unshare --pid`) each have their own pid 3, and kill(3, 0) in one says nothing about the other. So:
//
//  - A host is a PID namespace of one boot: `hostKey` hashes /proc/sys/kernel/random/boot_id with the
//    inode of /proc/self/ns/pid. Two processes may judge each other by pid only when their keys match;
//    across keys only heartbeat staleness counts.
//  - A process is (hostKey, pid, start time): the start time (field 22 of /proc/PID/stat, clock ticks
//    since boot) tells a reused pid from the process that had it (pid_max is 32,768 here, and pids come
//    round within seconds under load).
//  - A zombie (state Z: killed, not yet reaped by its parent) answers kill(pid, 0) but is dead.
//
// Without /proc (macOS), the key falls back to the hostname and start times are unknown; pids are then
// judged by kill(pid, 0) alone.

import { createHash, randomBytes } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import { hostname } from 'node:os';

/** What a heartbeat (or any record of a process) says about where the process runs. */
export interface HostIdentity {
  /** hostname(2): for people; never enough to compare hosts. */
  host: string;
  /** Kernel boot id, or null where there is none (not Linux). */
  boot_id: string | null;
  /** Inode of the PID namespace, or null where there is none. */
  pid_ns: number | null;
}

function readOr<T>(fn: () => T, fallback: T): T {
  try {
    return fn();
  } catch {
    return fallback;
  }
}

let cachedHost: HostIdentity | undefined;

/** This process's host identity (read once). */
export function hostIdentity(): HostIdentity {
  cachedHost ??= {
    host: hostname(),
    boot_id: readOr(() => readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim() || null, null),
    pid_ns: readOr(() => statSync('/proc/self/ns/pid').ino, null),
  };
  return cachedHost;
}

/** A short key for a host identity: 10 hex digits, safe inside file names. */
export function hostKeyOf(h: HostIdentity): string {
  const basis = h.boot_id !== null && h.pid_ns !== null ? `${h.boot_id}:${h.pid_ns}` : `host:${h.host}`;
  return createHash('sha256').update(basis).digest('hex').slice(0, 10);
}

/** This host's key. */
export function hostKey(): string {
  return hostKeyOf(hostIdentity());
}

/**
 * True when pids recorded under `other` can be checked from here. A record without boot id and PID
 * namespace (written by an older queuectl, or on a system without /proc) is never local.
 */
export function isLocalHost(other: Partial<HostIdentity>): boolean {
  const me = hostIdentity();
  if (me.boot_id === null || me.pid_ns === null) return false;
  return other.boot_id === me.boot_id && other.pid_ns === me.pid_ns;
}

// ---- processes ------------------------------------------------------------------------------------------

export type ProcessState =
  | { state: 'alive'; start: number | null }
  | { state: 'zombie' }
  | { state: 'gone' };

/** Fields of /proc/PID/stat after the command name (which may itself hold spaces and parentheses). */
function statFields(pid: number): string[] | null {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ESRCH') return null;
    throw err;
  }
  return text.slice(text.lastIndexOf(')') + 2).split(' ');
}

let haveProc: boolean | undefined;
function procAvailable(): boolean {
  haveProc ??= readOr(() => statSync('/proc/self/stat').isFile(), false);
  return haveProc;
}

/** Whether `pid` is a live process on this host, a zombie, or gone; with its start time when known. */
export function processState(pid: number): ProcessState {
  if (!Number.isInteger(pid) || pid <= 0) return { state: 'gone' };
  if (procAvailable()) {
    const f = statFields(pid);
    if (!f) return { state: 'gone' };
    // f[0] is field 3 (state); field 22 (starttime) is f[19].
    if (f[0] === 'Z' || f[0] === 'X' || f[0] === 'x') return { state: 'zombie' };
    return { state: 'alive', start: Number(f[19]) };
  }
  try {
    process.kill(pid, 0);
    return { state: 'alive', start: null };
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM' ? { state: 'alive', start: null } : { state: 'gone' };
  }
}

/** The parent of a live process (field 4 of /proc/PID/stat; `ps` where there is no /proc), or null. */
export function parentPid(pid: number): number | null {
  if (!Number.isInteger(pid) || pid <= 0) return null;
  if (procAvailable()) {
    const f = statFields(pid);
    return f ? Number(f[1]) : null;
  }
  try {
    const n = Number(execFileSync('ps', ['-o', 'ppid=', '-p', String(pid)], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim());
    return Number.isInteger(n) && n > 0 ? n : null;
  } catch {
    return null;
  }
}

/** Start time of a process (clock ticks since boot), or null when unknown or gone. */
export function processStart(pid: number): number | null {
  const s = processState(pid);
  return s.state === 'alive' ? s.start : null;
}

/**
 * True when the process that had `pid` and started at `start` is still running on this host: not gone,
 * not a zombie, and not another process that got the same pid since. `start` null: pid alone.
 */
export function isProcessAlive(pid: number, start: number | null | undefined): boolean {
  const s = processState(pid);
  if (s.state !== 'alive') return false;
  return start === null || start === undefined || s.start === null || s.start === start;
}

let selfStart: number | null | undefined;

/** This process's start time. */
export function selfStartTime(): number | null {
  selfStart ??= processStart(process.pid);
  return selfStart;
}

// ---- process tags -----------------------------------------------------------------------------------------

/**
 * A process as it appears in file names: `<hostKey>.<pid>.<start>` (start in base 36; a random tag where
 * start times are unknown). Unique across hosts and PID namespaces, and never reused by a later process.
 */
export interface ProcessTag {
  hostKey: string;
  pid: number;
  /** Start time in clock ticks, or null (then `nonce` makes the tag unique). */
  start: number | null;
  text: string;
}

let selfTag: ProcessTag | undefined;

/** This process's tag. */
export function processTag(): ProcessTag {
  if (!selfTag) {
    const start = selfStartTime();
    const key = hostKey();
    const third = start === null ? `r${randomBytes(4).toString('hex')}` : start.toString(36);
    selfTag = { hostKey: key, pid: process.pid, start, text: `${key}.${process.pid}.${third}` };
  }
  return selfTag;
}

/** Parses `<hostKey>.<pid>.<start>`; null for anything else. */
export function parseProcessTag(text: string): ProcessTag | null {
  const m = /^([0-9a-f]{10})\.(\d+)\.(r[0-9a-f]+|[0-9a-z]+)$/.exec(text);
  if (!m) return null;
  return { hostKey: m[1], pid: Number(m[2]), start: m[3].startsWith('r') ? null : parseInt(m[3], 36), text };
}

/**
 * Liveness of the process behind a tag: 'alive' or 'dead' when it ran on this host (judged by pid and
 * start time), 'unknown' when it ran elsewhere (the caller then judges by the age of what it left).
 */
export function tagLiveness(tag: ProcessTag): 'alive' | 'dead' | 'unknown' {
  if (tag.hostKey !== hostKey()) return 'unknown';
  return isProcessAlive(tag.pid, tag.start) ? 'alive' : 'dead';
}
