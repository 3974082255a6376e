// The torture suite's toolbox: queue roots with tiny intervals, real `worker start` processes driven by real
// signals (SIGKILL, SIGSTOP, SIGCONT), a seeded random source, a reader of the queue folders that does not go
// through the code under test, and the ledger checker (after Jepsen's total-queue): every enqueued id is
// classified as ok, lost, duplicated or stuck.
//
// Nothing here mocks the filesystem, the clock or the processes. Builds on ../helpers.ts (runCli, waitFor).

import { type ChildProcess, spawn } from 'node:child_process';
import { promises as fsp, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CLI, type CliResult, explain, REPO, runCli, waitFor } from '../helpers.js';

export { CLI, explain, REPO, runCli, waitFor };

export type Scale = 'full' | 'short';

// ---- figures --------------------------------------------------------------------------------------------

/** What every case reports. */
export interface Figures {
  case: string;
  jobs: number;
  /** Processes killed (SIGKILL), or faults injected. */
  kills: number;
  /** Enqueued ids that never completed, or completed without ever running. */
  lost: number;
  /** Runs beyond what the guarantee allows (more than 1 + the job's worker-lost attempts), or ids in two states. */
  duplicated: number;
  /** Jobs left in pending/ (due) or processing/ at the end. */
  stuck: number;
  /** Extra runs that the guarantee allows: a kill landed mid-run and the history says worker-lost. */
  extra: number;
  timeMs: number;
  /** Set when the case could not run here (not root, no FUSE...). */
  skipped?: string;
  /** Anything else worth a line: findings, limits, sub-figures. */
  notes: string[];
}

export function emptyFigures(name: string): Figures {
  return { case: name, jobs: 0, kills: 0, lost: 0, duplicated: 0, stuck: 0, extra: 0, timeMs: 0, notes: [] };
}

export function formatFigures(f: Figures): string {
  if (f.skipped) return `${f.case.padEnd(16)} SKIPPED: ${f.skipped}`;
  const s = (f.timeMs / 1000).toFixed(1);
  return `${f.case.padEnd(16)} jobs ${String(f.jobs).padStart(6)}  kills ${String(f.kills).padStart(4)}  lost ${f.lost}  duplicated ${f.duplicated}  stuck ${f.stuck}  extra-runs ${f.extra}  time ${s}s`;
}

// ---- seeded randomness ----------------------------------------------------------------------------------

/** mulberry32: a small seeded PRNG, so a failing run can be replayed with TORTURE_SEED. */
export function makeRng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

// ---- the context a case runs in -------------------------------------------------------------------------

export interface CaseOptions {
  scale: Scale;
  seed: number;
  /** Progress lines (the runner prints them; npm test keeps them quiet unless TORTURE_VERBOSE). */
  log?: (line: string) => void;
  /**
   * Violations of a known, still open bug (see test-output/torture-findings.md) are collected in
   * ctx.bugHits instead of failing the case; npm test reports them as todo. The full run fails on them.
   */
  bugsAsTodo?: boolean;
}

/** One case's run: its random source, its temp folders and processes (all removed by cleanup()). */
export class Ctx {
  readonly scale: Scale;
  readonly seed: number;
  readonly rng: () => number;
  readonly full: boolean;
  private readonly dirs: string[] = [];
  private readonly procs = new Set<WorkerProc>();
  private readonly cleanups: (() => Promise<void>)[] = [];
  private readonly logFn: (line: string) => void;
  readonly bugsAsTodo: boolean;
  /** Known-bug violations seen (only with bugsAsTodo). */
  readonly bugHits: string[] = [];

  constructor(opts: CaseOptions) {
    this.bugsAsTodo = opts.bugsAsTodo ?? false;
    this.scale = opts.scale;
    this.full = opts.scale === 'full';
    this.seed = opts.seed;
    this.rng = makeRng(opts.seed);
    this.logFn = opts.log ?? (() => {});
  }

  log(line: string): void {
    this.logFn(line);
  }

  /** A violation caused by known bug `id`: a problem of the case, or (bugsAsTodo) a todo hit. */
  bug(id: string, message: string, problems: string[]): void {
    const line = `[${id}] ${message}`;
    if (this.bugsAsTodo) this.bugHits.push(line);
    else problems.push(line);
  }

  /** n in the full run, s in the short one. */
  pick<T>(full: T, short: T): T {
    return this.full ? full : short;
  }

  /** A fresh temp folder, removed at cleanup. */
  async tempDir(tag: string): Promise<string> {
    const dir = await fsp.mkdtemp(join(tmpdir(), `queuectl-torture-${tag}-`));
    this.dirs.push(dir);
    return dir;
  }

  /** Runs `fn` at cleanup (before folders are removed), e.g. to unmount. */
  onCleanup(fn: () => Promise<void>): void {
    this.cleanups.push(fn);
  }

  track(p: WorkerProc): WorkerProc {
    this.procs.add(p);
    return p;
  }

  /** Kills every process of this case (workers, their jobs, anything naming its folders), unmounts, removes. */
  async cleanup(): Promise<void> {
    for (const p of this.procs) p.kill('SIGKILL');
    for (const dir of this.dirs) await killProcessesUnder(dir);
    for (const fn of this.cleanups.reverse()) await fn().catch(() => {});
    for (const dir of this.dirs) await killProcessesUnder(dir);
    if (process.env.TORTURE_KEEP) {
      this.log(`TORTURE_KEEP: left ${this.dirs.join(' ')}`);
      return;
    }
    for (const dir of this.dirs) await fsp.rm(dir, { recursive: true, force: true }).catch(() => {});
  }
}

// ---- queue roots ----------------------------------------------------------------------------------------

/** Tiny intervals: heartbeats every 50ms, dead after 500ms, rescans every 200ms, retries at once. */
export const FAST_CONFIG: Record<string, string | number | boolean> = {
  'heartbeat-interval': '50ms',
  'stale-after': '500ms',
  'poll-interval': '200ms',
  'kill-grace': '300ms',
  'backoff-base': 1,
  'backoff-max': '0ms',
  retention: '0ms',
};

export interface Queue {
  /** The folder holding the root, the ledger and anything else the case makes. */
  dir: string;
  root: string;
  ledger: string;
  cli(args: string[], opts?: { input?: string; timeoutMs?: number; env?: Record<string, string | undefined> }): Promise<CliResult>;
  /** Runs the CLI and fails unless it exits 0; returns stdout. */
  ok(args: string[], opts?: { input?: string; timeoutMs?: number }): Promise<string>;
}

/**
 * A queue root `<dir>/q` with FAST_CONFIG plus `config`, written as config.json before the root's first use
 * (what `config set` writes). `dir` defaults to a fresh temp folder.
 */
export async function makeQueue(ctx: Ctx, config: Record<string, string | number | boolean> = {}, dir?: string): Promise<Queue> {
  const base = dir ?? (await ctx.tempDir('q'));
  const root = join(base, 'q');
  await fsp.mkdir(root, { mode: 0o700, recursive: true });
  await fsp.writeFile(join(root, 'config.json'), `${JSON.stringify({ ...FAST_CONFIG, ...config }, null, 2)}\n`, { mode: 0o600 });
  return queueAt(base, root);
}

export function queueAt(dir: string, root: string, ledger = join(dir, 'ledger')): Queue {
  const cli = (args: string[], opts: { input?: string; timeoutMs?: number; env?: Record<string, string | undefined> } = {}) =>
    runCli(args, { root, cwd: dir, ...opts });
  return {
    dir,
    root,
    ledger,
    cli,
    async ok(args, opts) {
      const r = await cli(args, opts);
      if (r.code !== 0) throw new Error(`queuectl ${args.join(' ').slice(0, 200)}: ${explain(r)}`);
      return r.stdout;
    },
  };
}

/** The ledger command: appends `id attempt pid` with O_APPEND (one write(2) of a short line: atomic). */
export function ledgerCommand(q: Pick<Queue, 'ledger'>, before = ''): string {
  return `${before}echo "$QUEUECTL_JOB_ID $QUEUECTL_ATTEMPT $$" >> ${q.ledger}`;
}

/** Enqueues job specs through `enqueue -` as NDJSON, in batches. */
export async function enqueueMany(q: Queue, specs: Record<string, unknown>[], batch = 5_000): Promise<void> {
  for (let i = 0; i < specs.length; i += batch) {
    const chunk = specs.slice(i, i + batch);
    await q.ok(['enqueue', '-'], { input: chunk.map((s) => JSON.stringify(s)).join('\n') + '\n', timeoutMs: 180_000 });
  }
}

// ---- worker processes -----------------------------------------------------------------------------------

export interface WorkerProc {
  child: ChildProcess;
  pid: number;
  output(): string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  exitInfo(): { code: number | null; signal: NodeJS.Signals | null } | undefined;
  /** Resolves with the worker ids once the ready line is printed. */
  ready: Promise<string[]>;
  waitForOutput(re: RegExp, timeoutMs?: number): Promise<RegExpExecArray>;
  kill(signal: NodeJS.Signals): void;
  /**
   * Pids of the helper processes this `worker start` started (`--processes`: its children that run
   * `worker start`), read from /proc now; [] inside a PID namespace.
   */
  helpers(): number[];
}

export interface WorkerOptions {
  count?: number;
  poll?: boolean;
  quiet?: boolean;
  /** Extra environment (QUEUECTL_FAULT=...). */
  env?: Record<string, string>;
  /** Run in a new UTS namespace with this hostname (`unshare -u`; root only). */
  host?: string;
  /**
   * With `host`: also a new PID namespace (`unshare --pid --fork --mount-proc`), as a container would have,
   * whose pids start after `lastPid` when given (two hosts can then have the same pids). Its init is a
   * shell that waits for the worker; kill('SIGKILL') kills the whole namespace
   * (a host that crashes, with everything it ran); other signals go to the worker process inside.
   */
  pidns?: boolean;
  lastPid?: number;
  /** Run under this umask (e.g. "000"). */
  umask?: string;
}

/** Spawns `queuectl worker start` on the queue. Does not wait for it: await `ready` for that. */
export function spawnWorker(ctx: Ctx, q: Pick<Queue, 'root' | 'dir'>, opts: WorkerOptions = {}): WorkerProc {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (!k.startsWith('QUEUECTL_') && k !== 'FORCE_COLOR' && k !== 'NODE_OPTIONS') env[k] = v;
  }
  env.NO_COLOR = '1';
  Object.assign(env, opts.env ?? {});
  const args = [CLI, 'worker', 'start', '--root', q.root];
  if (opts.count) args.push('--count', String(opts.count));
  if (opts.poll) args.push('--poll');
  if (opts.quiet) args.push('--quiet');
  // Through sh when the process needs a hostname or a umask first; sh execs node, so the pid is node's.
  const script = `${opts.umask ? `umask ${opts.umask}; ` : ''}${opts.host ? 'hostname "$1" || exit 1; ' : ''}shift; exec "$@"`;
  const shArgs = ['/bin/sh', '-c', script, 'sh', opts.host ?? '-', process.execPath, ...args];
  let [cmd, argv] = opts.host ? ['unshare', ['-u', '--', ...shArgs]] : opts.umask ? [shArgs[0], shArgs.slice(1)] : [process.execPath, args];
  if (opts.host && opts.pidns) {
    const init = [
      'hostname "$1" || exit 1', '[ "$2" = - ] || echo "$2" > /proc/sys/kernel/ns_last_pid', 'shift 2',
      '"$@" & P=$!', 'wait $P',
    ].join('\n');
    [cmd, argv] = ['unshare', ['-u', '--pid', '--fork', '--mount-proc', '--kill-child=SIGTERM', '--', '/bin/sh', '-c', init, 'sh', opts.host, opts.lastPid === undefined ? '-' : String(opts.lastPid), process.execPath, ...args]];
  }
  const child = spawn(cmd, argv as string[], { cwd: q.dir, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (out += d));
  let info: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.on('close', (code, signal) => {
      info = { code, signal };
      resolve(info);
    });
  });
  const waitForOutput = (re: RegExp, timeoutMs = 15_000) =>
    waitFor(() => {
      const m = re.exec(out);
      if (!m && info) throw new Error(`worker pid ${child.pid} exited (${JSON.stringify(info)}); output:\n${out.slice(-3000)}`);
      return m;
    }, { timeoutMs, intervalMs: 10, what: `worker pid ${child.pid} to print ${re}; output so far:\n${out.slice(-3000)}` });
  const ready = waitForOutput(/workers? ready \(pid \d+\): ([^\n]+)\n/, 30_000).then((m) => m[1].trim().split(/\s+/));
  ready.catch(() => {});
  const proc: WorkerProc = {
    child,
    pid: child.pid!,
    output: () => out,
    exited,
    exitInfo: () => info,
    ready,
    waitForOutput,
    kill(signal) {
      if (info) return;
      try {
        // A namespaced host: SIGKILL goes to its init, which takes everything in the namespace with it; any
        // other signal to the worker itself (unshare -> the namespace's init -> node).
        const init = opts.pidns ? childOf(child.pid!) : null;
        const target = !opts.pidns ? child.pid! : signal === 'SIGKILL' ? init ?? child.pid! : (init !== null ? childOf(init) : null) ?? child.pid!;
        process.kill(target, signal);
      } catch {
        // gone
      }
    },
    helpers: () => (opts.pidns || info ? [] : helperPids(child.pid!)),
  };
  return ctx.track(proc);
}

/** Children of a process, from /proc ([] when it is gone). */
function childrenOf(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

/** Children of `pid` whose command line runs `worker start` (the helpers of --processes). */
function helperPids(pid: number): number[] {
  return childrenOf(pid).filter((k) => {
    try {
      return readFileSync(`/proc/${k}/cmdline`, 'latin1').includes('\0worker\0start\0');
    } catch {
      return false;
    }
  });
}

/** The first child of a process (unshare's forked child: a PID namespace's init), or null. */
function childOf(pid: number): number | null {
  return childrenOf(pid)[0] ?? null;
}

/** Spawns a worker and waits for its ready line. */
export async function startWorker(ctx: Ctx, q: Pick<Queue, 'root' | 'dir'>, opts: WorkerOptions = {}): Promise<WorkerProc> {
  const w = spawnWorker(ctx, q, opts);
  await w.ready;
  return w;
}

/** SIGTERM (finish the current job, exit 0) and wait for the exit. */
export async function stopWorker(w: WorkerProc, timeoutMs = 30_000): Promise<void> {
  if (w.exitInfo()) return;
  w.kill('SIGTERM');
  await waitFor(() => w.exitInfo(), { timeoutMs, what: `worker ${w.pid} to exit after SIGTERM; output:\n${w.output().slice(-2000)}` });
}

/** Lines a worker printed with "error" (the worker's own errors, not the jobs'). */
export function errorLines(w: WorkerProc): string[] {
  return w.output().split('\n').filter((l) => / error /.test(l) || /^error:/.test(l) || /TypeError|RangeError|Unhandled|at .*\.js:\d+/.test(l));
}

// ---- processes on this host -----------------------------------------------------------------------------

export interface ProcInfo {
  pid: number;
  ppid: number;
  state: string;
  cmdline: string;
  /** NUL-separated environment with a leading NUL, for `\0NAME=value` searches. */
  environ: string;
}

export async function listProcesses(): Promise<ProcInfo[]> {
  const out: ProcInfo[] = [];
  for (const e of await fsp.readdir('/proc')) {
    if (!/^\d+$/.test(e) || Number(e) === process.pid) continue;
    try {
      const [cmd, env, stat] = await Promise.all([
        fsp.readFile(`/proc/${e}/cmdline`),
        fsp.readFile(`/proc/${e}/environ`).catch(() => Buffer.alloc(0)),
        fsp.readFile(`/proc/${e}/stat`, 'utf8'),
      ]);
      const after = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      out.push({ pid: Number(e), ppid: Number(after[1]), state: after[0], cmdline: cmd.toString('utf8').replace(/\0/g, ' ').trim(), environ: `\0${env.toString('utf8')}` });
    } catch {
      // gone while we looked
    }
  }
  return out;
}

/** Live job processes (not zombies) started by queuectl for this root: QUEUECTL_ROOT=<root> and a QUEUECTL_CLAIM. */
export async function jobProcesses(root: string): Promise<ProcInfo[]> {
  return (await listProcesses()).filter((p) => p.state !== 'Z' && p.environ.includes(`\0QUEUECTL_ROOT=${root}\0`) && p.environ.includes('\0QUEUECTL_CLAIM='));
}

/** SIGKILLs every process whose command line or environment names a path under `dir`. */
export async function killProcessesUnder(dir: string): Promise<void> {
  for (const p of await listProcesses()) {
    if (/^\S*bindfs /.test(p.cmdline)) continue; // a FUSE server: unmounted by its case's cleanup
    if (p.cmdline.includes(dir) || p.environ.includes(`=${dir}`)) {
      try {
        process.kill(p.pid, 'SIGKILL');
      } catch {
        // gone
      }
    }
  }
}

/** CPU time (user+system, in clock ticks) of a process. */
export async function cpuTicks(pid: number): Promise<number> {
  const stat = await fsp.readFile(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(f[11]) + Number(f[12]);
}

// ---- reading the queue folders directly -----------------------------------------------------------------

export type State = 'pending' | 'processing' | 'completed' | 'dead';

export interface JobFile {
  state: State;
  path: string;
  name: string;
  /** A pending/.stage~ file (a move back to pending in flight or interrupted). */
  staged?: boolean;
}

const PENDING_RE = /^(\.(?:stage|intake)~[^~]+~)?(\d{13})-(\d{4})-(\d{3})-(?:[a-z0-9_-]{1,64}@)?([A-Za-z0-9_][A-Za-z0-9._-]{0,127})\.json$/;
const CLAIM_RE = /^\d{13}-\d{4}-\d{3}-(?:[a-z0-9_-]{1,64}@)?([A-Za-z0-9_][A-Za-z0-9._-]{0,127})~[a-z0-9]+~\d+\.json$/;

async function names(dir: string): Promise<string[]> {
  return fsp.readdir(dir).catch(() => [] as string[]);
}

export interface StoreScan {
  byId: Map<string, JobFile[]>;
  /** Names in pending/ that are not queuectl names (hand-dropped files not yet taken in). */
  droppedPending: string[];
  /** pending/ names whose available_at is past (due now). */
  duePending: string[];
  processing: string[];
  stages: string[];
  quarantine: string[];
  tmp: string[];
}

/** Every job file of the root, by id, read from the folder names only. */
export async function scanStore(root: string, now = Date.now()): Promise<StoreScan> {
  const byId = new Map<string, JobFile[]>();
  const add = (id: string, f: JobFile) => {
    const list = byId.get(id);
    if (list) list.push(f);
    else byId.set(id, [f]);
  };
  const scan: StoreScan = { byId, droppedPending: [], duePending: [], processing: [], stages: [], quarantine: [], tmp: [] };
  for (const name of await names(join(root, 'pending'))) {
    const m = PENDING_RE.exec(name);
    if (!m) {
      scan.droppedPending.push(name);
      continue;
    }
    let path = join(root, 'pending', name);
    if (m[1]) {
      // A stage is a folder holding its job as `job` (an older queuectl's stage was the file itself).
      const st = await fsp.lstat(path).catch(() => null);
      if (!st) continue;
      if (st.isDirectory()) {
        scan.stages.push(name);
        path = join(path, 'job');
        if (!(await fsp.access(path).then(() => true, () => false))) continue; // empty: no job in it
      } else scan.stages.push(name);
    } else if (Number(m[2]) <= now) scan.duePending.push(name);
    add(m[5], { state: 'pending', path, name, staged: !!m[1] });
  }
  for (const name of await names(join(root, 'processing'))) {
    scan.processing.push(name);
    const m = CLAIM_RE.exec(name);
    if (m) add(m[1], { state: 'processing', path: join(root, 'processing', name), name });
  }
  for (const shard of await names(join(root, 'completed'))) {
    if (!/^\d{10}$/.test(shard)) continue;
    for (const name of await names(join(root, 'completed', shard))) {
      if (name.endsWith('.json')) add(name.slice(0, -5), { state: 'completed', path: join(root, 'completed', shard, name), name });
    }
  }
  for (const name of await names(join(root, 'dead'))) {
    if (name.endsWith('.json')) add(name.slice(0, -5), { state: 'dead', path: join(root, 'dead', name), name });
  }
  scan.quarantine = await names(join(root, 'quarantine'));
  scan.tmp = await names(join(root, 'tmp'));
  return scan;
}

/** Number of job files in completed/ and dead/ (cheap: names only). */
export async function finishedCount(root: string): Promise<number> {
  let n = (await names(join(root, 'dead'))).length;
  for (const shard of await names(join(root, 'completed'))) {
    if (/^\d{10}$/.test(shard)) n += (await names(join(root, 'completed', shard))).length;
  }
  return n;
}

export interface JobRecord {
  id: string;
  command: string;
  state: string;
  attempts: number;
  max_retries: number;
  available_at: string;
  created_at: string;
  finished_at?: string;
  last_error?: string | null;
  env?: Record<string, string>;
  history?: { attempt: number; worker: string; host: string; pid: number; started_at: string; ended_at: string; reason: string; error?: string }[];
  [k: string]: unknown;
}

export async function readRecord(path: string): Promise<JobRecord> {
  return JSON.parse(await fsp.readFile(path, 'utf8')) as JobRecord;
}

/** Waits until `n` jobs are in completed/ or dead/ (names only), or throws after timeoutMs. */
export async function waitFinished(root: string, n: number, timeoutMs: number, onTick?: (done: number) => void): Promise<void> {
  let last = -1;
  await waitFor(async () => {
    const done = await finishedCount(root);
    if (done !== last) onTick?.(done);
    last = done;
    return done >= n;
  }, { timeoutMs, intervalMs: 250, what: `${n} jobs to finish in ${root} (last count ${last})` });
}

/** Waits until a job has one file, in `state`, with a final record (finished_at) when completed or dead. */
export async function waitForState(root: string, id: string, state: State, timeoutMs = 15_000): Promise<JobRecord> {
  return waitFor(async () => {
    const files = (await scanStore(root)).byId.get(id) ?? [];
    if (files.length !== 1 || files[0].state !== state) return null;
    const job = await readRecord(files[0].path);
    if ((state === 'completed' || state === 'dead') && !job.finished_at) return null;
    return job;
  }, { timeoutMs, intervalMs: 25, what: `job ${id} to be ${state} in ${root}` });
}

// ---- the ledger checker ---------------------------------------------------------------------------------

export interface LedgerRun {
  id: string;
  attempt: number;
  pid: number;
}

/** The ledger's runs by id; malformed lines (torn writes) are returned apart. */
export async function readLedger(path: string): Promise<{ runs: Map<string, LedgerRun[]>; malformed: string[] }> {
  const text = await fsp.readFile(path, 'utf8').catch(() => '');
  const runs = new Map<string, LedgerRun[]>();
  const malformed: string[] = [];
  for (const line of text.split('\n')) {
    if (line === '') continue;
    // The attempt may be "NaN" (a record without attempts); it is still a run.
    const m = /^(\S+) (\S+) (\d+)$/.exec(line);
    if (!m) {
      malformed.push(line);
      continue;
    }
    const run = { id: m[1], attempt: Number(m[2]), pid: Number(m[3]) };
    const list = runs.get(run.id);
    if (list) list.push(run);
    else runs.set(run.id, [run]);
  }
  return { runs, malformed };
}

export interface Verdict {
  ok: number;
  lost: string[];
  duplicated: string[];
  stuck: string[];
  dead: string[];
  /** Runs allowed by the guarantee: a kill landed mid-run and the history has a worker-lost attempt for it. */
  extra: number;
  /** worker-lost attempts over all histories: kills that landed while a job was held. */
  workerLost: number;
  /** Completed/dead records that miss the final attempt (a kill between the fence and the final write). */
  staleRecords: string[];
  /** Jobs whose history does not match its runs (attempts != history length). */
  badHistory: string[];
  /** Of `duplicated`: single file, completed, but more runs than 1 + its worker-lost attempts (see F6). */
  unaccounted: string[];
  unexpected: string[];
  malformed: string[];
  details: string[];
}

/**
 * Classifies every enqueued id, Jepsen total-queue style, from the folders and the ledger:
 *  - lost: no file at all, or completed without a single run in the ledger;
 *  - duplicated: in two states at once, or more runs than 1 + its worker-lost attempts
 *    (exactly once while workers live; one extra run per worker judged dead mid-run);
 *  - stuck: still in processing/ or due in pending/;
 *  - ok: completed, with its runs accounted for.
 * `expectRuns(id)` gives the runs a job needs without any kill (1, or 2 for a job that fails once).
 */
export async function checkLedger(root: string, ledgerPath: string, ids: string[], opts: { expectRuns?: (id: string) => number; strict?: boolean } = {}): Promise<Verdict> {
  const scan = await scanStore(root);
  const { runs, malformed } = await readLedger(ledgerPath);
  const v: Verdict = { ok: 0, lost: [], duplicated: [], stuck: [], dead: [], extra: 0, workerLost: 0, staleRecords: [], badHistory: [], unaccounted: [], unexpected: [], malformed, details: [] };
  const known = new Set(ids);
  for (const id of runs.keys()) if (!known.has(id)) v.unexpected.push(id);
  for (const id of ids) {
    const files = scan.byId.get(id) ?? [];
    const n = runs.get(id)?.length ?? 0;
    if (files.length === 0) {
      v.lost.push(id);
      v.details.push(`${id}: LOST (no file in any state; ${n} runs in the ledger)`);
      continue;
    }
    if (files.length > 1) {
      v.duplicated.push(id);
      v.details.push(`${id}: IN ${files.length} STATES: ${files.map((f) => `${f.state}/${f.name}`).join(', ')}`);
      continue;
    }
    const f = files[0];
    if (f.state === 'pending' || f.state === 'processing') {
      v.stuck.push(id);
      v.details.push(`${id}: STUCK in ${f.state}/${f.name} (${n} runs)`);
      continue;
    }
    const job = await readRecord(f.path).catch(() => null);
    const history = job?.history ?? [];
    const lostRuns = history.filter((h) => h.reason === 'worker-lost').length;
    v.workerLost += lostRuns;
    if (!job?.finished_at) v.staleRecords.push(id);
    else if (job.attempts !== history.length) v.badHistory.push(id);
    if (f.state === 'dead') {
      v.dead.push(id);
      v.details.push(`${id}: DEAD (${job?.last_error ?? '?'}; ${n} runs)`);
      continue;
    }
    if (n === 0) {
      v.lost.push(id);
      v.details.push(`${id}: completed but never ran (no ledger line)`);
      continue;
    }
    const base = opts.expectRuns?.(id) ?? 1;
    const allowed = base + (opts.strict ? 0 : lostRuns);
    if (n > allowed) {
      v.duplicated.push(id);
      // With no kill (strict), nothing can explain an extra run: a plain duplicate.
      if (!opts.strict) v.unaccounted.push(id);
      const attempts = (runs.get(id) ?? []).map((r) => r.attempt).join(',');
      v.details.push(`${id}: ran ${n} times (QUEUECTL_ATTEMPT ${attempts}), allowed ${allowed} (history: ${history.map((h) => `${h.reason}@${h.worker}`).join(',') || 'none'}; attempts ${job?.attempts}${job?.finished_at ? '' : ', record not final'})`);
      continue;
    }
    v.extra += Math.max(0, n - base);
    v.ok++;
  }
  return v;
}

/** Folds a verdict into figures. */
export function applyVerdict(f: Figures, v: Verdict): void {
  f.lost += v.lost.length;
  f.duplicated += v.duplicated.length;
  f.stuck += v.stuck.length;
  f.extra += v.extra;
  if (v.dead.length) f.notes.push(`${v.dead.length} dead`);
  if (v.workerLost) f.notes.push(`${v.workerLost} worker-lost attempts in histories`);
  if (v.staleRecords.length) f.notes.push(`${v.staleRecords.length} finished records without their final attempt: ${v.staleRecords.slice(0, 5).join(' ')}`);
  if (v.badHistory.length) f.notes.push(`${v.badHistory.length} records with attempts != history length: ${v.badHistory.slice(0, 5).join(' ')}`);
  if (v.unaccounted.length) f.notes.push(`${v.unaccounted.length} jobs ran more often than their history says (F6): ${v.details.filter((d) => d.includes(' ran ')).slice(0, 3).join('; ')}`);
  if (v.unexpected.length) f.notes.push(`${v.unexpected.length} unexpected ids in the ledger`);
  if (v.malformed.length) f.notes.push(`${v.malformed.length} torn ledger lines`);
}

/**
 * Throws, listing the first offenders, when anything was lost, duplicated or stuck. With `allowUnaccounted`,
 * extra runs the history does not explain (a completed job, one file: the F6 window) are left to the caller.
 */
export function assertVerdict(v: Verdict, what: string, opts: { allowUnaccounted?: boolean } = {}): void {
  const dup = opts.allowUnaccounted ? v.duplicated.length - v.unaccounted.length : v.duplicated.length;
  const bad = v.lost.length + dup + v.stuck.length + v.unexpected.length + v.malformed.length;
  if (bad) {
    throw new Error(`${what}: ${v.lost.length} lost, ${v.duplicated.length} duplicated (${v.unaccounted.length} of them extra runs missing from the history), ${v.stuck.length} stuck, ${v.unexpected.length} unexpected, ${v.malformed.length} torn ledger lines\n  ${v.details.slice(0, 20).join('\n  ')}`);
  }
}

/** Fails with a message when `cond` is false (a plain assert that reads well in the figures' notes). */
export function check(cond: unknown, message: string): asserts cond {
  if (!cond) throw new Error(message);
}
