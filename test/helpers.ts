// Shared test helpers: a fresh temp folder per test, the REAL compiled CLI as a child process, and a
// bounded poll instead of sleeps. Nothing here mocks fs or the clock.

import { spawn } from 'node:child_process';
import { existsSync, promises as fsp } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root (the folder above test/). */
export const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..');
/** The compiled bin, as package.json's "bin" names it. */
export const CLI = join(REPO, 'dist', 'cli', 'index.js');

export interface TempRoot {
  /** The mkdtemp folder (mode 0700), removed by cleanup(). */
  dir: string;
  /** `<dir>/queue`: a queue root that does not exist yet; the CLI creates it on first use. */
  root: string;
  cleanup: () => Promise<void>;
}

/**
 * A fresh folder under os.tmpdir(). Pass the test context to have it removed when the test ends;
 * otherwise call cleanup() yourself.
 */
export async function makeTempRoot(t?: { after: (fn: () => Promise<void>) => void }): Promise<TempRoot> {
  const dir = await fsp.mkdtemp(join(tmpdir(), 'queuectl-test-'));
  const cleanup = async () => {
    // A test may have chmod-ed something read-only or world-writable; rm copes with both.
    await fsp.rm(dir, { recursive: true, force: true });
  };
  t?.after(cleanup);
  return { dir, root: join(dir, 'queue'), cleanup };
}

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface RunCliOptions {
  /** Passed as `--root ROOT` before the other arguments; omit to test QUEUECTL_ROOT / ./.queuectl. */
  root?: string;
  /** Written to stdin, which is then closed. stdin is always a closed pipe (never a TTY). */
  input?: string;
  /** Added to the environment. QUEUECTL_* from the outer environment are removed first. */
  env?: Record<string, string | undefined>;
  cwd?: string;
  /** Kill the process and fail after this long. */
  timeoutMs?: number;
  /** Flags for node itself, before the script (e.g. --max-semi-space-size=8). */
  nodeFlags?: readonly string[];
}

let checkedBuild = false;

function assertBuilt(): void {
  if (checkedBuild) return;
  if (!existsSync(CLI)) {
    throw new Error(`${CLI} does not exist: the CLI tests run the compiled bin. Build it first with \`npx tsc -p .\` (or run \`npm test\`, which builds).`);
  }
  checkedBuild = true;
}

/**
 * Runs the real compiled CLI to completion: `node dist/cli/index.js [--root ROOT] ...args`, NO_COLOR=1.
 * The process is spawned synchronously, so calling runCli N times in a row starts N processes at once.
 */
export function runCli(args: readonly string[], opts: RunCliOptions = {}): Promise<CliResult> {
  assertBuilt();
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (!k.startsWith('QUEUECTL_') && k !== 'FORCE_COLOR' && k !== 'NODE_OPTIONS') env[k] = v;
  }
  env.NO_COLOR = '1';
  for (const [k, v] of Object.entries(opts.env ?? {})) {
    if (v === undefined) delete env[k];
    else env[k] = v;
  }
  const argv = [...(opts.nodeFlags ?? []), CLI, ...(opts.root !== undefined ? ['--root', opts.root] : []), ...args];
  const timeoutMs = opts.timeoutMs ?? 20_000;
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, argv, { cwd: opts.cwd ?? REPO, env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`queuectl ${args.join(' ')} did not exit within ${timeoutMs}ms\nstdout: ${stdout}\nstderr: ${stderr}`));
    }, timeoutMs);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolvePromise({ code, signal, stdout, stderr });
    });
    // EPIPE when the CLI exits before reading stdin is fine: what it did with the input is the test.
    child.stdin.on('error', () => {});
    child.stdin.end(opts.input ?? '');
  });
}

/** Formats a result for assertion messages, so a failure shows what the CLI said. */
export function explain(r: CliResult): string {
  return `exit ${r.code}${r.signal ? ` (signal ${r.signal})` : ''}\n--- stdout ---\n${r.stdout}--- stderr ---\n${r.stderr}`;
}

export interface WaitForOptions {
  /** Give up after this long. */
  timeoutMs?: number;
  /** Time between checks. */
  intervalMs?: number;
  /** What is awaited, for the timeout message: "the job to reach completed/". */
  what: string;
}

/**
 * Polls `cond` until it returns a truthy value (which is returned) or `timeoutMs` passes, then throws
 * naming `what`, the time waited and the last value or error seen. The only way tests wait.
 */
export async function waitFor<T>(cond: () => T | Promise<T>, opts: WaitForOptions): Promise<NonNullable<T>> {
  const timeoutMs = opts.timeoutMs ?? 5_000;
  const intervalMs = opts.intervalMs ?? 20;
  const start = Date.now();
  let last: unknown;
  let lastError: unknown;
  let checks = 0;
  for (;;) {
    checks++;
    try {
      last = await cond();
      lastError = undefined;
      if (last) return last as NonNullable<T>;
    } catch (err) {
      lastError = err;
    }
    const waited = Date.now() - start;
    if (waited >= timeoutMs) {
      const seen = lastError !== undefined ? `last check threw: ${(lastError as Error)?.message ?? String(lastError)}` : `last value: ${JSON.stringify(last)}`;
      throw new Error(`Timed out after ${waited}ms (${checks} checks every ${intervalMs}ms) waiting for ${opts.what}; ${seen}`);
    }
    await new Promise((r) => setTimeout(r, Math.min(intervalMs, Math.max(1, timeoutMs - waited))));
  }
}

/**
 * Every entry under `dir` (files and folders, recursively) as sorted relative paths; [] if `dir` is missing.
 * Used to prove that a refused command wrote nothing.
 */
export async function listTree(dir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (d: string): Promise<void> => {
    let entries;
    try {
      entries = await fsp.readdir(d, { withFileTypes: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw err;
    }
    for (const e of entries) {
      const p = join(d, e.name);
      out.push(relative(dir, p) + (e.isDirectory() ? '/' : ''));
      if (e.isDirectory()) await walk(p);
    }
  };
  await walk(dir);
  return out.sort();
}

/**
 * What a refused enqueue must leave unchanged: every entry of pending/, tmp/, processing/ and dead/, and
 * every id marker in ids/. Empty ids/<shard>/ folders are left out: a refused batch may leave the shard
 * folder it made for an id it then released, and an empty shard holds no state.
 */
export async function snapshotQueue(root: string): Promise<Record<string, string[]>> {
  const snap: Record<string, string[]> = {};
  for (const name of ['pending', 'tmp', 'processing', 'dead']) snap[name] = await listTree(join(root, name));
  snap.ids = (await listTree(join(root, 'ids'))).filter((p) => !p.endsWith('/'));
  return snap;
}

/** Names in `<root>/pending`, not dotfiles, sorted. */
export async function pendingFiles(root: string): Promise<string[]> {
  return (await listTree(join(root, 'pending'))).filter((n) => !n.startsWith('.'));
}

/** Reads a JSON file. */
export async function readJson<T = Record<string, unknown>>(path: string): Promise<T> {
  return JSON.parse(await fsp.readFile(path, 'utf8')) as T;
}
