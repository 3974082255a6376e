#!/usr/bin/env node
// The queuectl command line: a cac program (program.ts) of the commands in the table spec.ts, whose options
// are read once, as typed (parse.ts); one module per command does the work through the core. This is the only file that reads argv and the environment,
// owns stdout and stderr, and sets the exit status: 0 done, 1 failed, 2 bad usage or input (nothing
// changed), 124 a --timeout ran out.
//
// Invariants:
//  - START_ENV is copied before anything below runs; jobs start from it (see start-env.ts).
//  - A closed stdout (`queuectl list | head -1`) is not an error: a read-only command stops at once with
//    exit 0; any other command carries on and drops its output (a worker whose terminal went away keeps
//    working; an enqueue still finishes its batch).

import { START_ENV } from './start-env.js';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { exitCodeFor } from '../errors.js';
import { type Context, HELPER_ENV, lazyStore, type ParentChannel, resolveRoot } from './context.js';
import { pcErr, setColor, wantColor } from './format.js';
import type { Parsed } from './parse.js';
import { makeProgram } from './program.js';

// A batch enqueue keeps 64 file operations in flight; libuv's default of 4 threads serialises them.
// It counts only if set before the first asynchronous fs call starts the thread pool: on Node 22 and 24
// it is (15 threads fsync a batch of 20); Node 20's ESM loader reads this very file through the pool, so
// there it comes too late and 4 threads do the work (strace; no measurable cost on a local disk: 172 vs
// 168 ms for 20 jobs). Set UV_THREADPOOL_SIZE outside for the same on Node 20. Jobs never see the value
// set here (START_ENV); one set outside is part of their environment like any other.
process.env.UV_THREADPOOL_SIZE ??= '16';

/** The version, from the package's own package.json (two folders up from src/cli or dist/cli). */
function readVersion(): string {
  const path = fileURLToPath(new URL('../../package.json', import.meta.url));
  return (JSON.parse(readFileSync(path, 'utf8')) as { version: string }).version;
}

let stdoutClosed = false;
let stderrClosed = false;
/** Set once the command is known: what to do when stdout closes. */
let stopWhenStdoutCloses = false;

// EPIPE (the reader exited), EIO (the terminal went away): nobody reads any more.
process.stdout.on('error', () => {
  stdoutClosed = true;
  if (stopWhenStdoutCloses) process.exit(0);
});
process.stderr.on('error', () => {
  stderrClosed = true;
});

const write = (chunk: string | Uint8Array) => {
  if (!stdoutClosed) process.stdout.write(chunk);
};
const writeErr = (text: string) => {
  if (!stderrClosed) process.stderr.write(text);
};

/** The channel to the `worker start` that started this process as a helper, when it did. */
function parentChannel(): ParentChannel | null {
  if (START_ENV[HELPER_ENV] !== '1' || typeof process.send !== 'function') return null;
  // The channel alone must not keep this process alive: it exits when its workers have stopped.
  process.channel?.unref();
  return {
    send: (message) => {
      // A parent that is gone cannot be told; 'disconnect' stops this process.
      if (process.connected) process.send!(message, undefined, undefined, () => {});
    },
    onMessage: (handler) => process.on('message', handler),
    onDisconnect: (handler) => process.on('disconnect', handler),
  };
}

function makeContext(parsed: Parsed): Context {
  const cwd = process.cwd();
  const root = resolveRoot(parsed.global.root, START_ENV, cwd);
  let progressShown = false;
  // HELPER_ENV says how this process was started; the jobs it runs must not see it.
  const { [HELPER_ENV]: _helper, ...env } = START_ENV;
  return {
    env,
    cwd,
    root,
    out: (line) => write(`${line}\n`),
    write,
    err: (line) => writeErr(`${progressShown ? '\r\x1b[K' : ''}${line}\n`),
    progress: (text) => {
      if (!process.stderr.isTTY) return;
      writeErr(`\r\x1b[K${text}`);
      progressShown = text !== '';
    },
    stdin: process.stdin,
    tty: { stdin: !!process.stdin.isTTY, stdout: !!process.stdout.isTTY, stderr: !!process.stderr.isTTY },
    columns: process.stdout.isTTY ? process.stdout.columns || 80 : 120,
    colorFlag: parsed.global.color,
    version: readVersion(),
    bin: fileURLToPath(import.meta.url),
    nodeFlags: process.execArgv,
    signals: { on: (sig, fn) => process.on(sig, fn) },
    parent: parentChannel(),
    store: lazyStore(root),
  };
}

async function main(argv: string[]): Promise<number> {
  let ctx: Context | undefined;
  const { cli, parsed } = makeProgram(argv, async (p) => p.command.run(ctx!, p.input));
  const color = (isTTY: boolean) => wantColor({ flag: parsed.global.color, env: START_ENV, isTTY });
  setColor(color(!!process.stdout.isTTY), color(!!process.stderr.isTTY));
  stopWhenStdoutCloses = parsed.kind !== 'run' || parsed.command.readOnly === true;
  ctx = makeContext(parsed);
  if (parsed.kind === 'version') {
    ctx.out(ctx.version);
    return 0;
  }
  if (parsed.kind === 'help') {
    const { helpLines } = await import('./help.js');
    for (const line of helpLines(parsed.target, ctx)) (parsed.incomplete ? ctx.err : ctx.out)(line);
    return parsed.incomplete ? 2 : 0;
  }
  cli.parse(['node', 'queuectl', ...argv], { run: false });
  if (!cli.matchedCommand) throw new Error(`internal: cac matched no command for ${parsed.command.path.join(' ')}`);
  const code: unknown = await cli.runMatchedCommand();
  return typeof code === 'number' ? code : 0;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    const message = error instanceof Error ? error.message : String(error);
    writeErr(`${pcErr.red('error:')} ${message}\n`);
    if (START_ENV.QUEUECTL_DEBUG && error instanceof Error) writeErr(`${error.stack}\n`);
    process.exitCode = exitCodeFor(error);
  },
);
