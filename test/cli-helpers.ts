// Helpers for the command-line tests: the real CLI in a pseudo-terminal (util-linux `script`), with its
// stdout closed by the reader, and every way of placing an option among a command's words.

import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { CLI, type CliResult, explain, REPO, runCli, type RunCliOptions } from './helpers.js';

/** Quotes a word for sh. */
export const sq = (w: string) => `'${w.replace(/'/g, `'\\''`)}'`;

/** True when util-linux `script` is there (Debian's bsdutils). */
export const HAVE_SCRIPT = spawnSync('script', ['--version'], { stdio: 'ignore' }).status === 0;

/** The environment runCli uses: the test's, without QUEUECTL_* and colour settings, plus `env`. */
export function cliEnv(env: Record<string, string | undefined> = {}): NodeJS.ProcessEnv {
  const out: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (!k.startsWith('QUEUECTL_') && !['FORCE_COLOR', 'NODE_OPTIONS', 'NO_COLOR', 'CI'].includes(k)) out[k] = v;
  }
  for (const [k, v] of Object.entries(env)) {
    if (v === undefined) delete out[k];
    else out[k] = v;
  }
  return out;
}

/**
 * Runs the CLI with stdin, stdout and stderr on a pseudo-terminal (`script -qec`), so that isTTY is true.
 * Returns what the terminal showed (\r\n line ends) and the exit status.
 */
export function runInPty(args: readonly string[], opts: { env?: Record<string, string | undefined>; cwd?: string; stdinFile?: string; timeoutMs?: number } = {}): Promise<CliResult> {
  const command = [process.execPath, CLI, ...args].map(sq).join(' ') + (opts.stdinFile ? ` < ${sq(opts.stdinFile)}` : '');
  return new Promise((resolve, reject) => {
    const child = spawn('script', ['-qec', command, '/dev/null'], { cwd: opts.cwd ?? REPO, env: cliEnv({ TERM: 'xterm-256color', ...opts.env }), stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`script -qec ${command} did not exit; output so far: ${stdout}`));
    }, opts.timeoutMs ?? 20_000);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

/**
 * Runs the CLI with its stdout read by nobody: the read end is closed before the CLI writes (a reader
 * like `head -1` that already exited). Returns the exit status and stderr.
 */
export function runWithClosedStdout(args: readonly string[], opts: { cwd?: string; env?: Record<string, string | undefined> } = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { cwd: opts.cwd ?? REPO, env: cliEnv({ NO_COLOR: '1', ...opts.env }), stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout.destroy();
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`queuectl ${args.join(' ')} did not exit with its stdout closed; stderr: ${stderr}`));
    }, 20_000);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout: '', stderr });
    });
  });
}

/**
 * Every way to give `--root DIR` to a command: in each gap between its words (before the command,
 * between its words and arguments, after them; never after `--`, nor between an option and its value),
 * and as `--root=DIR` at the end. Words that follow an option are taken as its value.
 */
export function rootPlacements(words: readonly string[], root: string): string[][] {
  const end = words.indexOf('--') === -1 ? words.length : words.indexOf('--');
  const out: string[][] = [];
  for (let gap = 0; gap <= end; gap++) {
    // Not between an option and its value (`--state dead`, `--priority -5`): that is one word pair.
    const before = words[gap - 1];
    if (gap > 0 && gap < words.length && before.startsWith('--') && !before.includes('=') && (!words[gap].startsWith('-') || /^-\d/.test(words[gap]))) continue;
    out.push([...words.slice(0, gap), '--root', root, ...words.slice(gap)]);
  }
  out.push([...words.slice(0, end), `--root=${root}`, ...words.slice(end)]);
  return out;
}

/** Runs the CLI (no --root added) and asserts exit 0; returns the result. */
export async function okNoRoot(args: string[], opts: RunCliOptions = {}): Promise<CliResult> {
  const r = await runCli(args, opts);
  assert.equal(r.code, 0, `queuectl ${args.join(' ')}: ${explain(r)}`);
  return r;
}
