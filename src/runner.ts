// Runs one shell command: `sh -c COMMAND` through execa, in its own process group, with output streamed
// to a log file (capped) and a short tail kept in memory. Knows nothing about queues.
//
// Invariants:
//  - Output never accumulates in memory: execa runs with buffer:false and we copy chunks to the log,
//    dropping what is past the cap (a job printing gigabytes costs the worker nothing).
//  - A timeout or an abort signals the whole process group (SIGTERM, then SIGKILL after the grace), so
//    `sh -c 'sleep 100 & sleep 100'` leaves nothing behind; after a timeout the group is SIGKILLed
//    again once the shell is gone.
//  - stdout and stderr are one pipe: the shell points stderr at stdout (`exec 2>&1;`) before the
//    command, so the log keeps the order in which they were written. Two pipes read in the parent
//    cannot: `echo o1; echo e1 >&2; echo o2` was logged o1 o2 e1 in four runs of five.
//  - The log ends with the outcome as data, e.g. `[exited with status 2]`. A run that printed nothing
//    gets no log file (one file fewer per job for the many silent jobs); its outcome is in the job's
//    history, and `queuectl logs` prints it the same way.

import { closeSync, constants as FS, existsSync, openSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import { ensureRealDir, FILE_MODE, forgetRealDir, withSubject } from './store.js';

export type RunOutcome =
  | { kind: 'exited'; exitCode: number }
  | { kind: 'signaled'; signal: string }
  | { kind: 'timedOut'; signal: string }
  | { kind: 'aborted'; signal: string }
  | { kind: 'spawnFailed'; message: string };

export interface RunResult {
  outcome: RunOutcome;
  exitCode: number | null;
  signal: string | null;
  startedAt: number;
  endedAt: number;
  durationMs: number;
  /** The last TAIL_BYTES of output. */
  tail: string;
  /** One line for people: "exit status 2", "timed out after 10s", "killed by SIGKILL". */
  summary: string;
  /** Set when the output could not be written to the log (from then on it was dropped; `tail` has the end). */
  outputError?: string;
}

export interface RunSpec {
  command: string;
  cwd: string | null;
  env: Record<string, string>;
  /** 0: no timeout. */
  timeoutMs: number;
  killGraceMs: number;
  logPath: string;
  outputLimitBytes: number;
  /** Aborting kills the job (force stop, cancel); the reason is the signal's `reason`. */
  abort?: AbortSignal;
  /**
   * A file that must still exist when the shell starts, or the command is not run (the shell exits with
   * GUARD_EXIT first): the caller's claim, so that a caller paused between its last check and the spawn,
   * whose claim was taken over meanwhile, cannot start the command once it resumes.
   */
  guardPath?: string;
  /** Called once the process exists, with its pid (= its process group id). */
  onSpawn?: (pid: number) => void;
  /**
   * Called when the shell has exited, after its process group was killed, with its pid: the caller kills
   * what left the group (setsid, double forks). Output already written stays readable.
   */
  onExit?: (pid: number) => void;
}

export const TAIL_BYTES = 2048;

/** Put before the command, on the same line, so that error messages keep their line numbers. */
const ONE_PIPE = 'exec 2>&1; ';
/**
 * The guard, before ONE_PIPE on the same line: the path comes as the shell's $1 (never parsed as shell
 * text) and is shifted away, so the command sees no arguments, as without it.
 */
const GUARD = '[ -e "$1" ] || exit 75; shift; ';
/** The shell's status when the guard file was gone (EX_TEMPFAIL): the command did not start. */
export const GUARD_EXIT = 75;
/**
 * Linux refuses an argument of MAX_ARG_STRLEN (131072) bytes or more, NUL included: a command within
 * ONE_PIPE of that runs as it is, with stdout and stderr on their own pipes (their order is then lost).
 */
const ARG_MAX_BYTES = 131_071;

/** The script `sh -c` runs: the command with stderr joined to stdout (and the guard, when asked and room). */
export function shellScript(command: string, guarded = false): string {
  const size = Buffer.byteLength(command);
  if (guarded && size + GUARD.length + ONE_PIPE.length <= ARG_MAX_BYTES) return GUARD + ONE_PIPE + command;
  return size + ONE_PIPE.length <= ARG_MAX_BYTES ? ONE_PIPE + command : command;
}

type Execa = typeof import('execa').execa;
let execaFn: Execa | undefined;

/** Loads execa (only worker processes pay for it). Workers call this at start, so that runCommand goes
 * from its caller's last check to the spawn without yielding. */
export async function loadRunner(): Promise<void> {
  execaFn ??= (await import('execa')).execa;
}

/** Node fires any setTimeout over 2^31-1 ms (24.8 days) after 1 ms: longer delays are armed in steps. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** setTimeout for any delay; returns the function that cancels it. */
function setLongTimeout(fn: () => void, ms: number): () => void {
  let timer: NodeJS.Timeout;
  const arm = (left: number) => {
    timer = setTimeout(() => (left > MAX_TIMER_MS ? arm(left - MAX_TIMER_MS) : fn()), Math.min(left, MAX_TIMER_MS));
  };
  arm(ms);
  return () => clearTimeout(timer);
}

/** Sends a signal to a whole process group; a group that is already gone is fine. */
export function killGroup(pgid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pgid, signal);
  } catch {
    // ESRCH: nothing left in the group.
  }
}

/** Runs the command to its end and returns what happened. Never throws for the command's failures. */
export async function runCommand(spec: RunSpec): Promise<RunResult> {
  if (!execaFn) await loadRunner();
  const execa = execaFn!;
  const startedAt = Date.now();
  const log = new CappedLog(spec.logPath, spec.outputLimitBytes);
  const script = shellScript(spec.command, spec.guardPath !== undefined);
  // $0 is /bin/sh as without the guard (the shell's own messages start with it); $1 is the guard's file.
  const args = script.startsWith(GUARD) ? ['-c', script, '/bin/sh', spec.guardPath!] : ['-c', script];
  const sub = execa('/bin/sh', args, {
    cwd: spec.cwd ?? undefined,
    env: spec.env,
    extendEnv: false, // the caller passes the whole environment (the pool: the one queuectl started with)
    detached: true, // own process group: a timeout or cancel reaches every descendant
    buffer: false,
    reject: false,
    stdin: 'ignore',
    stripFinalNewline: false,
    forceKillAfterDelay: false, // we escalate ourselves, to the whole group
  });
  sub.catch(() => {}); // outcomes are read from the events below
  if (sub.pid !== undefined) spec.onSpawn?.(sub.pid);

  let timedOut = false;
  let aborted = false;
  let escalate: (() => void) | undefined;
  const terminate = () => {
    if (sub.pid === undefined) return;
    killGroup(sub.pid, 'SIGTERM');
    escalate ??= setLongTimeout(() => killGroup(sub.pid!, 'SIGKILL'), spec.killGraceMs);
  };
  const cancelTimeout = spec.timeoutMs > 0 ? setLongTimeout(() => { timedOut = true; terminate(); }, spec.timeoutMs) : undefined;
  const onAbort = () => { aborted = true; terminate(); };
  if (spec.abort?.aborted) onAbort();
  else spec.abort?.addEventListener('abort', onAbort, { once: true });

  sub.stdout?.on('data', (chunk: Buffer) => log.write(chunk));
  sub.stderr?.on('data', (chunk: Buffer) => log.write(chunk));
  const streamsClosed = Promise.all([sub.stdout, sub.stderr].map((s) => (s ? new Promise<void>((r) => s.once('close', () => r())) : undefined)));

  const ended = await new Promise<{ code: number | null; signal: NodeJS.Signals | null } | { error: Error }>((resolve) => {
    sub.once('exit', (code, signal) => resolve({ code, signal }));
    sub.once('error', (error) => resolve({ error }));
    // A spawn that fails at once (E2BIG: a command or env value over 128KB) emits neither event; execa only
    // settles its promise (with reject: false, to the error).
    if (sub.pid === undefined) sub.then((r) => resolve({ error: r instanceof Error ? r : new Error(String(r.message)) }), (error: Error) => resolve({ error }));
  });

  // The run is over when the shell exits: what it left in its group goes now (it would hold the pipes and
  // outlive its job), what left the group goes through onExit.
  if (sub.pid !== undefined) {
    killGroup(sub.pid, 'SIGKILL');
    try {
      spec.onExit?.(sub.pid);
    } catch {
      // finding leftovers is best effort; recovery scans again if the worker dies
    }
  }
  // Output may still be in the pipes; drain it for a moment, then stop reading.
  let grace: NodeJS.Timeout | undefined;
  await Promise.race([streamsClosed, new Promise<void>((r) => { grace = setTimeout(r, 200); })]);
  clearTimeout(grace);
  sub.stdout?.destroy();
  sub.stderr?.destroy();
  cancelTimeout?.();
  escalate?.();
  spec.abort?.removeEventListener('abort', onAbort);

  const endedAt = Date.now();
  let outcome: RunOutcome;
  if ('error' in ended) {
    const noCwd = spec.cwd !== null && !existsSync(spec.cwd);
    outcome = { kind: 'spawnFailed', message: noCwd ? `working directory ${spec.cwd} does not exist` : ended.error.message };
  }
  else if (timedOut) outcome = { kind: 'timedOut', signal: ended.signal ?? 'SIGTERM' };
  else if (aborted) outcome = { kind: 'aborted', signal: ended.signal ?? 'SIGTERM' };
  else if (ended.signal) outcome = { kind: 'signaled', signal: ended.signal };
  else outcome = { kind: 'exited', exitCode: ended.code ?? 0 };

  const summary = summarize(outcome, spec.timeoutMs);
  log.close(`[${summary}]\n`);
  return {
    outcome,
    exitCode: outcome.kind === 'exited' ? outcome.exitCode : null,
    signal: 'signal' in outcome ? outcome.signal : null,
    startedAt,
    endedAt,
    durationMs: endedAt - startedAt,
    tail: log.tail(),
    summary,
    ...(log.error ? { outputError: log.error } : {}),
  };
}

function summarize(outcome: RunOutcome, timeoutMs: number): string {
  switch (outcome.kind) {
    case 'exited': return `exited with status ${outcome.exitCode}`;
    case 'signaled': return `killed by signal ${outcome.signal}`;
    case 'timedOut': return `timed out after ${timeoutMs / 1000}s; killed by ${outcome.signal}`;
    case 'aborted': return `stopped by request; killed by ${outcome.signal}`;
    case 'spawnFailed': return `could not start: ${outcome.message}`;
  }
}

/**
 * A log file that keeps at most `limit` bytes of output plus a marker, and the last TAIL_BYTES in memory.
 * Written with synchronous calls: appends to a local file are microseconds, and a stream's open/close
 * round trips cost more than a short job's whole run. Opened at the first output, so a silent job costs
 * one write at the end.
 */
class CappedLog {
  private fd: number | null = null;
  private failed = false;
  private written = 0;
  private truncated = false;
  private last: Buffer = Buffer.alloc(0);

  constructor(private readonly path: string, private readonly limit: number) {}

  write(chunk: Buffer): void {
    if (chunk.length >= TAIL_BYTES) this.last = Buffer.from(chunk.subarray(-TAIL_BYTES));
    else {
      this.last = Buffer.concat([this.last, chunk]);
      if (this.last.length > TAIL_BYTES * 2) this.last = Buffer.from(this.last.subarray(-TAIL_BYTES));
    }
    if (this.truncated) return;
    const room = this.limit - this.written;
    if (chunk.length <= room) {
      this.append(chunk);
      this.written += chunk.length;
      return;
    }
    if (room > 0) this.append(chunk.subarray(0, room));
    this.written = this.limit;
    this.truncated = true;
    this.append(Buffer.from(`\n[output truncated: over the output-limit of ${this.limit} bytes]\n`));
  }

  tail(): string {
    return this.last.subarray(-TAIL_BYTES).toString('utf8');
  }

  /** Writes the outcome line, on a line of its own, if there was output; then closes. */
  close(trailer: string): void {
    if (this.fd !== null) this.append(Buffer.from(this.endsWithNewline ? trailer : `\n${trailer}`));
    if (this.fd !== null) closeSync(this.fd);
    this.fd = null;
  }

  /** Why the output could not be written, if it could not (the first failure). */
  error: string | null = null;

  /**
   * Creates the log (its folder on first use); never through a symlink (O_NOFOLLOW, and a real folder).
   * A folder this process made before may have been removed since (someone cleaning logs/ under a running
   * worker): it is made again, rather than every later run of that shard losing its output.
   */
  private open(): number {
    const dir = dirname(this.path);
    const flags = FS.O_WRONLY | FS.O_CREAT | FS.O_TRUNC | FS.O_NOFOLLOW;
    ensureRealDir(dir);
    try {
      return openSync(this.path, flags, FILE_MODE);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      forgetRealDir(dir);
      ensureRealDir(dir);
      return openSync(this.path, flags, FILE_MODE);
    }
  }

  private endsWithNewline = true;

  private append(data: Buffer): void {
    if (this.failed) return;
    if (data.length) this.endsWithNewline = data[data.length - 1] === 0x0a;
    try {
      this.fd ??= this.open();
      writeSync(this.fd, data);
    } catch (err) {
      // A full disk must not crash the worker or lose the job: the outcome is recorded in the job anyway,
      // the end of the output in its tail, and the caller is told (RunResult.outputError).
      this.failed = true;
      const e = err as NodeJS.ErrnoException;
      this.error = typeof e.errno === 'number' ? withSubject(err, `write ${this.path}`).message : e.message;
    }
  }
}
