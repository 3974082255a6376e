// `queuectl enqueue`: JSON argument, stdin (`-`), --file, or the flag form `-- CMD ARGS...`.

import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { EnqueueInput } from '../../enqueue.js';
import { InputError } from '../../errors.js';
import { type Context, flag, intOption, list, str } from '../context.js';
import { count, printJson } from '../format.js';
import { queueOf } from '../queue.js';
import type { Input } from '../spec.js';

/** Splits text into job specs: one JSON object, a JSON array, or NDJSON (one object a line). */
export function parseJobText(text: string, source: string): EnqueueInput[] {
  const trimmed = text.trim();
  if (trimmed === '') throw new InputError(`${source} is empty; expected a JSON object, a JSON array or NDJSON (one job a line)`);
  try {
    const value = JSON.parse(trimmed);
    if (Array.isArray(value)) {
      if (value.length === 0) throw new InputError(`${source} is an empty array; expected at least one job`);
      return value.map((spec, i) => ({ spec, label: `job ${i + 1} of ${source}` }));
    }
    return [{ spec: value, label: source === 'argument' ? 'job' : `job in ${source}` }];
  } catch (err) {
    if (err instanceof InputError) throw err;
    const lines = text.split('\n');
    if (lines.filter((l) => l.trim() !== '').length < 2 || trimmed.startsWith('[')) {
      throw new InputError(`${source}: malformed JSON: ${(err as Error).message}`);
    }
    const inputs: EnqueueInput[] = [];
    lines.forEach((line, i) => {
      if (line.trim() === '') return;
      try {
        inputs.push({ spec: JSON.parse(line), label: `line ${i + 1} of ${source}` });
      } catch (lineErr) {
        throw new InputError(`line ${i + 1} of ${source}: malformed JSON: ${(lineErr as Error).message}`);
      }
    });
    return inputs;
  }
}

async function readStdin(stream: NodeJS.ReadableStream): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer));
  return Buffer.concat(chunks).toString('utf8');
}

/** Quotes one word for sh so that `enqueue -- echo "a b"` runs exactly `echo 'a b'`. */
export function shellQuote(word: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}

/** The job built from flags: everything after `--` is the command. Values are validated by createJob. */
export function specFromFlags(ctx: Context, input: Input, words: string[]): Record<string, unknown> {
  const spec: Record<string, unknown> = {
    command: words.length === 1 ? words[0] : words.map(shellQuote).join(' '),
  };
  const id = str(input, 'id');
  if (id !== undefined) spec.id = id;
  const priority = str(input, 'priority');
  if (priority !== undefined) spec.priority = intOption(priority, '--priority', -999, 999);
  const maxRetries = str(input, 'max-retries');
  if (maxRetries !== undefined) spec.max_retries = intOption(maxRetries, '--max-retries', 0, 100);
  const delay = str(input, 'delay');
  if (delay !== undefined) spec.delay = delay;
  const runAt = str(input, 'run-at');
  if (runAt !== undefined) spec.run_at = runAt;
  const timeout = str(input, 'timeout');
  if (timeout !== undefined) spec.timeout = timeout;
  // A relative --cwd means relative to where enqueue runs, as a person typing it expects.
  const cwd = str(input, 'cwd');
  if (cwd !== undefined) {
    if (cwd === '') throw new InputError('Expected --cwd to be a folder, got ""');
    spec.cwd = resolve(ctx.cwd, cwd);
  }
  const queue = str(input, 'queue');
  if (queue !== undefined) spec.queue = queue;
  const after = list(input, 'after');
  if (after.length) spec.after = after;
  const env = list(input, 'env');
  if (env.length) {
    spec.env = Object.fromEntries(env.map((pair) => {
      const eq = pair.indexOf('=');
      if (eq <= 0) throw new InputError(`Expected --env to be NAME=VALUE, got ${JSON.stringify(pair)}`);
      return [pair.slice(0, eq), pair.slice(eq + 1)];
    }));
  }
  return spec;
}

const JOB_FLAGS = ['id', 'priority', 'max-retries', 'delay', 'run-at', 'timeout', 'cwd', 'env', 'queue', 'after'];

/** From this many jobs on, a terminal shows how far the write has got. */
const PROGRESS_MIN = 1000;

export async function enqueueCommand(ctx: Context, input: Input): Promise<void> {
  const words = input.rest ?? [];
  const positional = input.args;
  const file = str(input, 'file');
  if (input.rest !== null && words.length === 0) throw new InputError('Expected a command after `--`: queuectl enqueue [flags] -- COMMAND ARGS...');
  const sources = [positional.length > 0, file !== undefined, words.length > 0].filter(Boolean).length;
  if (sources === 0) {
    throw new InputError('Nothing to enqueue: give a JSON job, `-` to read stdin, --file PATH, or `-- COMMAND ARGS...`');
  }
  if (sources > 1) {
    throw new InputError('Give the job one way: a JSON argument, `-` (stdin), --file PATH, or `-- COMMAND ARGS...`');
  }
  let inputs: EnqueueInput[];
  if (words.length > 0) {
    inputs = [{ spec: specFromFlags(ctx, input, words), label: 'job' }];
  } else {
    const given = JOB_FLAGS.filter((f) => input.opts[f] !== undefined).map((f) => `--${f}`);
    if (given.length) throw new InputError(`${given.join(', ')} apply to the flag form only (\`enqueue ${given[0]} ... -- COMMAND\`); put the field in the JSON instead`);
    if (file !== undefined) {
      let text: string;
      try {
        text = await readFile(resolve(ctx.cwd, file), 'utf8');
      } catch (err) {
        throw new InputError(`Cannot read --file ${file}: ${(err as Error).message}`);
      }
      inputs = parseJobText(text, file);
    } else if (positional[0] === '-') {
      inputs = parseJobText(await readStdin(ctx.stdin), 'stdin');
    } else {
      inputs = parseJobText(positional[0], 'argument');
    }
  }
  const queue = await queueOf(ctx);
  const onProgress = inputs.length >= PROGRESS_MIN && ctx.tty.stderr ? throttledProgress(ctx, inputs.length) : undefined;
  const fault = ctx.env.QUEUECTL_FAULT;
  let report;
  try {
    report = await queue.enqueueInputs(inputs, {
      ifAbsent: flag(input, 'if-absent'),
      onProgress,
      // QUEUECTL_FAULT=<step>[:stop]: SIGKILL (or SIGSTOP) at that step of the batch, for the torture suite.
      fault: fault ? (point) => {
        const [at, how] = fault.split(':');
        if (point === at) process.kill(process.pid, how === 'stop' ? 'SIGSTOP' : 'SIGKILL');
      } : undefined,
    });
  } finally {
    if (onProgress) ctx.progress('');
  }
  const jobs = report.jobs;
  if (flag(input, 'json')) printJson(ctx.out, jobs.map((j) => j.id));
  else {
    if (jobs.length === 1) ctx.out(`Enqueued ${jobs[0].id}`);
    else if (jobs.length > 1 || report.existing.length === 0) ctx.out(`Enqueued ${jobs.length} jobs`);
    // --if-absent: an id already used by a job is not an error (a cron line run twice, a retried script).
    for (const id of report.existing.slice(0, 20)) ctx.out(`Exists ${id}`);
    if (report.existing.length > 20) ctx.out(`Exists ${report.existing.length - 20} more`);
  }
  if (report.doomed.length > 0) {
    // Accepted, as when the dependency dies a moment after the enqueue; said, since nothing of it will run.
    const ids = report.doomed.slice(0, 20).join(' ') + (report.doomed.length > 20 ? ` and ${report.doomed.length - 20} more` : '');
    ctx.err(`warning: ${ids} went to dead/ at once: a job ${report.doomed.length === 1 ? 'it waits' : 'they wait'} for is dead (queuectl show ID says which; retry it and them together with queuectl dlq retry)`);
  }
  if (report.waiting > 0) {
    ctx.err(`warning: ${report.waiting} of these jobs are not in pending/ yet (no space left to add them there); they are committed in tmp/ and a worker publishes them once there is room: do not enqueue them again`);
  }
}

/** "enqueue: 45% of 100,000 jobs", redrawn at most every 100 ms (the core counts steps: write, then publish). */
function throttledProgress(ctx: Context, jobs: number): (done: number, total: number) => void {
  let last = 0;
  return (done, total) => {
    const now = Date.now();
    if (now - last < 100 && done < total) return;
    last = now;
    ctx.progress(`enqueue: ${Math.floor((100 * done) / total)}% of ${count(jobs)} jobs`);
  };
}
