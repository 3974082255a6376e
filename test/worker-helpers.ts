// Helpers for the worker tests: a queue root with tiny intervals, real `worker start` child processes
// driven by real signals, and readers of the file protocol that do not go through the code under test
// (a job's state is the folder its file is in). Builds on helpers.ts (makeTempRoot, runCli, waitFor).

import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import { join } from 'node:path';
import { CLI, type CliResult, explain, makeTempRoot, readJson, runCli, waitFor } from './helpers.js';

/** Config for tests: heartbeats every 50ms, a worker is dead after 600ms, rescans every 200ms. */
export const FAST_CONFIG: Record<string, string> = {
  'heartbeat-interval': '50ms',
  'stale-after': '600ms',
  'poll-interval': '200ms',
  'kill-grace': '500ms',
  'backoff-base': '1',
  retention: '0',
};

type TestContext = { after: (fn: () => Promise<void>) => void };

export interface Queue {
  /** The temp folder (holds the root, ledgers and anything else a test makes). */
  dir: string;
  /** The queue root. */
  root: string;
  /** A file jobs append to; one line per run. */
  ledger: string;
  /** Runs the CLI on this root. */
  cli(args: string[], opts?: { input?: string; timeoutMs?: number; env?: Record<string, string | undefined> }): Promise<CliResult>;
  /** Runs the CLI on this root and asserts exit 0; returns stdout. */
  ok(args: string[], opts?: { input?: string; timeoutMs?: number }): Promise<string>;
}

/**
 * A fresh queue root with FAST_CONFIG plus `config`, written as config.json before the root's first use
 * (what `queuectl config set` writes; config.test.ts covers the command itself). When the test ends, every
 * process of this root (workers, their jobs, anything whose command line or env names the root) is
 * SIGKILLed before the folder is removed, so a failing test leaves nothing running.
 */
export async function makeQueue(t: TestContext, config: Record<string, string> = {}): Promise<Queue> {
  const tmp = await makeTempRoot();
  t.after(async () => {
    await killRootProcesses(tmp.dir);
    await tmp.cleanup();
  });
  await fsp.mkdir(tmp.root, { mode: 0o700 });
  await fsp.writeFile(join(tmp.root, 'config.json'), `${JSON.stringify({ ...FAST_CONFIG, ...config }, null, 2)}\n`, { mode: 0o600 });
  const cli = (args: string[], opts: { input?: string; timeoutMs?: number; env?: Record<string, string | undefined> } = {}) => runCli(args, { root: tmp.root, cwd: tmp.dir, ...opts });
  return {
    dir: tmp.dir,
    root: tmp.root,
    ledger: join(tmp.dir, 'ledger'),
    cli,
    async ok(args, opts) {
      const r = await cli(args, opts);
      assert.equal(r.code, 0, `queuectl ${args.join(' ')}: ${explain(r)}`);
      return r.stdout;
    },
  };
}

/** Enqueues one job in the flag form (`enqueue [flags] -- COMMAND`) and returns its id. */
export async function enqueue(q: Queue, command: string, flags: string[] = []): Promise<string> {
  const out = await q.ok(['enqueue', ...flags, '--', command]);
  const m = /^Enqueued (\S+)$/m.exec(out);
  assert.ok(m, `unexpected enqueue output: ${out}`);
  return m[1];
}

/** Lines of the ledger file ([] when no job wrote to it yet). */
export async function ledgerLines(q: Queue): Promise<string[]> {
  const text = await fsp.readFile(q.ledger, 'utf8').catch(() => '');
  return text.split('\n').filter((l) => l !== '');
}

// ---- worker processes -------------------------------------------------------------------------------

export interface WorkerProc {
  child: ChildProcess;
  pid: number;
  /** Worker ids printed on the "ready" line. */
  ids: string[];
  /** The worker's pid as it sees it (its ready line): differs from `pid` inside a PID namespace or a wrapper. */
  innerPid: number;
  /** Everything printed so far (stdout and stderr, in arrival order). */
  output(): string;
  /** Resolves when the process has exited. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Waits until the output matches `re`; returns the match. */
  waitForOutput(re: RegExp, timeoutMs?: number): Promise<RegExpExecArray>;
  /** Waits for the exit, failing after `timeoutMs`. */
  waitForExit(timeoutMs?: number): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Sends a real signal to the worker process. */
  kill(signal: NodeJS.Signals): void;
}

/**
 * Spawns `node dist/cli/index.js worker start --root ROOT ...args` and resolves once it printed its ready
 * line. NO_COLOR so the lines can be matched.
 */
export async function startWorker(q: Queue, args: string[] | { args?: string[]; env?: NodeJS.ProcessEnv; wrap?: string[] } = []): Promise<WorkerProc> {
  const extra = Array.isArray(args) ? {} : args.env ?? {};
  const wrap = Array.isArray(args) ? [] : args.wrap ?? [];
  args = Array.isArray(args) ? args : args.args ?? [];
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (!k.startsWith('QUEUECTL_') && k !== 'FORCE_COLOR' && k !== 'NODE_OPTIONS') env[k] = v;
  }
  env.NO_COLOR = '1';
  Object.assign(env, extra);
  // `wrap` runs the worker under another command (a PID namespace, a parent that never reaps it).
  const argv = [process.execPath, CLI, 'worker', 'start', '--root', q.root, ...args];
  const child = spawn(wrap[0] ?? argv[0], [...wrap.slice(1), ...(wrap.length ? argv : argv.slice(1))], { cwd: q.dir, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (out += d));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.on('close', (code, signal) => resolve({ code, signal }));
  });
  let exitInfo: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  void exited.then((e) => (exitInfo = e));
  const proc: WorkerProc = {
    child,
    pid: child.pid!,
    ids: [],
    innerPid: 0,
    output: () => out,
    exited,
    async waitForOutput(re, timeoutMs = 10_000) {
      return waitFor(() => {
        const m = re.exec(out);
        if (!m && exitInfo) throw new Error(`the worker exited (${JSON.stringify(exitInfo)}); output:\n${out}`);
        return m;
      }, { timeoutMs, what: `worker pid ${child.pid} to print ${re}; output so far:\n${out}` });
    },
    async waitForExit(timeoutMs = 10_000) {
      await waitFor(() => exitInfo, { timeoutMs, what: `worker pid ${child.pid} to exit; output:\n${out}` });
      return exitInfo!;
    },
    kill(signal) {
      child.kill(signal);
    },
  };
  const ready = await proc.waitForOutput(/workers? ready \(pid (\d+)\): ([^\n]+)\n/);
  proc.ids = ready[2].trim().split(/\s+/);
  proc.innerPid = Number(ready[1]);
  return proc;
}

// ---- processes on this host ---------------------------------------------------------------------------

interface ProcInfo {
  pid: number;
  cmdline: string;
  environ: string;
}

async function listProcesses(): Promise<ProcInfo[]> {
  const out: ProcInfo[] = [];
  for (const e of await fsp.readdir('/proc')) {
    if (!/^\d+$/.test(e) || Number(e) === process.pid) continue;
    try {
      const [cmd, env] = await Promise.all([fsp.readFile(`/proc/${e}/cmdline`), fsp.readFile(`/proc/${e}/environ`).catch(() => Buffer.alloc(0))]);
      if (cmd.length === 0) continue; // zombie or kernel thread
      out.push({ pid: Number(e), cmdline: cmd.toString('utf8').replace(/\0/g, ' ').trim(), environ: `\0${env.toString('utf8')}` });
    } catch {
      // gone while we looked
    }
  }
  return out;
}

/** Pids of live processes whose command line contains `marker` (use a unique one, e.g. `sleep 100.4321`). */
export async function pidsWithCommand(marker: string): Promise<number[]> {
  return (await listProcesses()).filter((p) => p.cmdline.includes(marker)).map((p) => p.pid);
}

/** SIGKILLs every process whose command line or environment names a path under `dir`. */
export async function killRootProcesses(dir: string): Promise<void> {
  for (const p of await listProcesses()) {
    if (p.cmdline.includes(dir) || p.environ.includes(`\0QUEUECTL_ROOT=${dir}`)) {
      try {
        process.kill(p.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  }
}

/** Peak and current resident memory of a process in KB, from /proc/<pid>/status. */
export async function memoryKb(pid: number): Promise<{ hwm: number; rss: number }> {
  const text = await fsp.readFile(`/proc/${pid}/status`, 'utf8');
  const kb = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(text)?.[1] ?? NaN);
  return { hwm: kb('VmHWM'), rss: kb('VmRSS') };
}

// ---- reading the queue folders directly ---------------------------------------------------------------

export type State = 'pending' | 'waiting' | 'processing' | 'completed' | 'dead';

export interface JobFile {
  state: State;
  path: string;
  name: string;
}

const PENDING = /^(?:\.(?:stage|intake)~[^~]+~)?\d{13}-\d{4}-\d{3}-(?:[a-z0-9_-]{1,64}@)?([^@]+)\.json$/;
const CLAIM = /^\d{13}-\d{4}-\d{3}-(?:[a-z0-9_-]{1,64}@)?([^@~]+)~[a-z0-9]+~\d+\.json$/;
const WAITING = /^(?:[a-z0-9_-]{1,64}@)?([^@]+)\.json$/;

async function names(dir: string): Promise<string[]> {
  return fsp.readdir(dir).catch(() => [] as string[]);
}

/** Every file of job `id` in pending/ (staged ones too), processing/, completed/<hour>/ and dead/. */
export async function jobFiles(root: string, id: string): Promise<JobFile[]> {
  const found: JobFile[] = [];
  for (const name of await names(join(root, 'pending'))) {
    if (PENDING.exec(name)?.[1] !== id) continue;
    let path = join(root, 'pending', name);
    // A stage (a move to pending/ in progress) is a folder holding the job as `job`, or empty.
    if (name.startsWith('.') && (await fsp.lstat(path).catch(() => null))?.isDirectory()) {
      path = join(path, 'job');
      if (!(await fsp.access(path).then(() => true, () => false))) continue;
    }
    found.push({ state: 'pending', path, name });
  }
  for (const name of await names(join(root, 'waiting'))) {
    if (!name.startsWith('.') && WAITING.exec(name)?.[1] === id) found.push({ state: 'waiting', path: join(root, 'waiting', name), name });
  }
  for (const name of await names(join(root, 'processing'))) {
    if (CLAIM.exec(name)?.[1] === id) found.push({ state: 'processing', path: join(root, 'processing', name), name });
  }
  for (const shard of await names(join(root, 'completed'))) {
    const path = join(root, 'completed', shard, `${id}.json`);
    if (await fsp.access(path).then(() => true, () => false)) found.push({ state: 'completed', path, name: `${id}.json` });
  }
  const dead = join(root, 'dead', `${id}.json`);
  if (await fsp.access(dead).then(() => true, () => false)) found.push({ state: 'dead', path: dead, name: `${id}.json` });
  return found;
}

/** A job record as the tests read it. */
export interface JobRecord {
  id: string;
  command: string;
  state: string;
  attempts: number;
  max_retries: number;
  priority: number;
  run_at: string;
  available_at: string;
  created_at: string;
  last_error?: string | null;
  exit_code?: number | null;
  signal?: string | null;
  output_tail?: string;
  source?: string;
  finished_at?: string;
  history?: {
    attempt: number;
    worker: string;
    host: string;
    pid: number;
    started_at: string;
    ended_at: string;
    duration_ms: number;
    exit_code: number | null;
    signal: string | null;
    reason: string;
    error?: string;
  }[];
}

/** The one file of job `id` and its record; fails when the job has no file or more than one. */
export async function readJobFile(root: string, id: string): Promise<{ state: State; job: JobRecord; path: string }> {
  const files = await jobFiles(root, id);
  assert.equal(files.length, 1, `job ${id} should have exactly one file, found: ${JSON.stringify(files.map((f) => `${f.state}/${f.name}`))}`);
  const job = JSON.parse(await fsp.readFile(files[0].path, 'utf8')) as JobRecord;
  return { state: files[0].state, job, path: files[0].path };
}

/**
 * Waits until job `id` is in `state` (completed or dead: a final state, whose record is written in place
 * right after the move, so we also wait for the record to say so). Returns the record.
 */
export async function waitForState(root: string, id: string, state: State, timeoutMs = 10_000): Promise<JobRecord> {
  try {
    return await waitFor(async () => {
      const files = await jobFiles(root, id);
      if (files.length !== 1 || files[0].state !== state) return null;
      const job = JSON.parse(await fsp.readFile(files[0].path, 'utf8')) as JobRecord;
      if ((state === 'completed' || state === 'dead') && !job.finished_at) return null;
      return job;
    }, { timeoutMs, intervalMs: 25, what: `job ${id} to be ${state}` });
  } catch (err) {
    // Say where the job is instead, and what its last run did: a timeout alone does not tell a lost
    // worker from a failed run or a job put back.
    (err as Error).message += `; the job is now: ${await describeJob(root, id)}`;
    throw err;
  }
}

/** Where a job's files are and the last entry of its history, for failure messages. */
export async function describeJob(root: string, id: string): Promise<string> {
  const files = await jobFiles(root, id).catch((e: Error) => e);
  if (files instanceof Error) return `unreadable (${files.message})`;
  if (files.length === 0) return 'in no folder';
  const parts = await Promise.all(files.map(async (f) => {
    const job = await fsp.readFile(f.path, 'utf8').then((t) => JSON.parse(t) as JobRecord, () => null);
    return `${f.state}/${f.name}${job ? ` (last run: ${JSON.stringify(job.history?.at(-1) ?? null)})` : ''}`;
  }));
  return parts.join(', ');
}

/** Names in a folder of the root (not dotfiles), sorted. */
export async function folder(root: string, name: string): Promise<string[]> {
  return (await names(join(root, name))).filter((n) => !n.startsWith('.')).sort();
}

/** Number of job files in completed/ (all hour shards). */
export async function completedCount(root: string): Promise<number> {
  let n = 0;
  for (const shard of await names(join(root, 'completed'))) {
    if (/^\d{10}$/.test(shard)) n += (await names(join(root, 'completed', shard))).filter((f) => f.endsWith('.json')).length;
  }
  return n;
}

/**
 * True when process `pid` has exited: no /proc entry, or a zombie (this sandbox's pid 1 does not reap
 * orphans, so a detached worker that exited stays a zombie; kill(pid, 0) still succeeds on it).
 */
export async function processGone(pid: number): Promise<boolean> {
  const stat = await fsp.readFile(`/proc/${pid}/stat`, 'utf8').catch(() => null);
  return stat === null || /^\d+ \(.*\) Z /.test(stat);
}

/** The parent pid of a live process (field 4 of /proc/<pid>/stat), or null when it is gone. */
export async function parentOf(pid: number): Promise<number | null> {
  const stat = await fsp.readFile(`/proc/${pid}/stat`, 'utf8').catch(() => null);
  return stat === null ? null : Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
}

/** The workers whose heartbeats are in the root: pid and process state (R, S, T stopped, Z zombie) or gone. */
export async function workerProcesses(root: string): Promise<string> {
  const beats = (await names(join(root, 'workers'))).filter((n) => n.endsWith('.json'));
  if (beats.length === 0) return 'no heartbeat (exited cleanly)';
  const parts = await Promise.all(beats.map(async (n) => {
    const info = await readJson<{ pid?: number }>(join(root, 'workers', n)).catch(() => null);
    if (!info?.pid) return `${n}: unreadable`;
    const stat = await fsp.readFile(`/proc/${info.pid}/stat`, 'utf8').catch(() => null);
    return `${n}: pid ${info.pid} ${stat ? `state ${stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0]}` : 'gone'}`;
  }));
  return parts.join(', ');
}
