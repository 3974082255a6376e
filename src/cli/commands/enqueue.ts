// `queuectl enqueue`: JSON argument, stdin (`-`), --file, or the flag form `-- CMD ARGS...`.

import { readFile } from 'node:fs/promises';
import { loadConfig } from '../../config.js';
import { enqueueBatch, type EnqueueInput } from '../../enqueue.js';
import { InputError } from '../../errors.js';
import { type Context, intOption, rawOption, rawOptions } from '../context.js';
import { printJson } from '../format.js';

export interface EnqueueFlags {
  file?: string;
  json?: boolean;
  '--'?: string[];
}

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

/** The job built from flags: everything after `--` is the command. */
function specFromFlags(ctx: Context, words: string[]): Record<string, unknown> {
  const spec: Record<string, unknown> = {
    command: words.length === 1 ? words[0] : words.map(shellQuote).join(' '),
  };
  const id = rawOption(ctx.argv, '--id');
  if (id !== undefined) spec.id = id;
  const priority = rawOption(ctx.argv, '--priority');
  if (priority !== undefined) spec.priority = intOption(priority, '--priority', -999, 999);
  const maxRetries = rawOption(ctx.argv, '--max-retries');
  if (maxRetries !== undefined) spec.max_retries = intOption(maxRetries, '--max-retries', 0, 100);
  const delay = rawOption(ctx.argv, '--delay');
  if (delay !== undefined) spec.delay = delay;
  const runAt = rawOption(ctx.argv, '--run-at');
  if (runAt !== undefined) spec.run_at = runAt;
  const timeout = rawOption(ctx.argv, '--timeout');
  if (timeout !== undefined) spec.timeout = timeout;
  const cwd = rawOption(ctx.argv, '--cwd');
  if (cwd !== undefined) spec.cwd = cwd;
  const env = rawOptions(ctx.argv, '--env');
  if (env.length) {
    spec.env = Object.fromEntries(env.map((pair) => {
      const eq = pair.indexOf('=');
      if (eq <= 0) throw new InputError(`Expected --env to be NAME=VALUE, got ${JSON.stringify(pair)}`);
      return [pair.slice(0, eq), pair.slice(eq + 1)];
    }));
  }
  return spec;
}

const JOB_FLAGS = ['--id', '--priority', '--max-retries', '--delay', '--run-at', '--timeout', '--cwd', '--env'];

export async function enqueueCommand(ctx: Context, positional: string[], flags: EnqueueFlags): Promise<void> {
  const words = flags['--'] ?? [];
  const sources = [positional.length > 0, flags.file !== undefined, words.length > 0].filter(Boolean).length;
  if (sources === 0) {
    throw new InputError('Nothing to enqueue: give a JSON job, `-` to read stdin, --file PATH, or `-- COMMAND ARGS...`');
  }
  if (sources > 1 || positional.length > 1) {
    throw new InputError('Give the job one way: a JSON argument, `-` (stdin), --file PATH, or `-- COMMAND ARGS...`');
  }
  let inputs: EnqueueInput[];
  if (words.length > 0) {
    inputs = [{ spec: specFromFlags(ctx, words), label: 'job' }];
  } else {
    const given = JOB_FLAGS.filter((f) => rawOption(ctx.argv, f) !== undefined);
    if (given.length) throw new InputError(`${given.join(', ')} apply to the flag form only (\`enqueue ${given[0]} ... -- COMMAND\`); put the field in the JSON instead`);
    if (flags.file !== undefined) {
      const path = rawOption(ctx.argv, '--file') ?? String(flags.file);
      let text: string;
      try {
        text = await readFile(path, 'utf8');
      } catch (err) {
        throw new InputError(`Cannot read --file ${path}: ${(err as Error).message}`);
      }
      inputs = parseJobText(text, path);
    } else if (positional[0] === '-') {
      inputs = parseJobText(await readStdin(ctx.stdin), 'stdin');
    } else {
      inputs = parseJobText(positional[0], 'argument');
    }
  }
  const store = await ctx.store();
  const config = await loadConfig(store);
  const fault = ctx.env.QUEUECTL_FAULT;
  const report = await enqueueBatch(store, inputs, {
    now: Date.now(),
    maxRetries: config.maxRetries,
    cwd: ctx.cwd,
    // QUEUECTL_FAULT=<step>[:stop]: SIGKILL (or SIGSTOP) at that step of the batch, for the torture suite.
    fault: fault ? (point) => {
      const [at, how] = fault.split(':');
      if (point === at) process.kill(process.pid, how === 'stop' ? 'SIGSTOP' : 'SIGKILL');
    } : undefined,
  });
  const jobs = report.jobs;
  if (flags.json) printJson(ctx.out, jobs.map((j) => j.id));
  else if (jobs.length === 1) ctx.out(`Enqueued ${jobs[0].id}`);
  else ctx.out(`Enqueued ${jobs.length} jobs`);
  if (report.waiting > 0) {
    ctx.err(`warning: ${report.waiting} of these jobs are not in pending/ yet (no space left to add them there); they are committed in tmp/ and a worker publishes them once there is room: do not enqueue them again`);
  }
}
