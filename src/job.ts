// The job record: its fields, the one validation of what may be stored and run, and ids.
// Pure: no I/O, no clock reads (callers pass `now`).

import { randomBytes } from 'node:crypto';
import { InputError, QueuectlError } from './errors.js';
import { describe, parseDurationMs } from './units.js';

/** The folders a job can be in; the folder is the job's state (waiting: for its dependencies). */
export const STATES = ['pending', 'waiting', 'processing', 'completed', 'dead'] as const;
export type JobState = (typeof STATES)[number];

/** Why a run ended, as recorded in its history entry. */
export const ATTEMPT_REASONS = ['completed', 'failed', 'timeout', 'spawn-error', 'killed', 'worker-lost', 'interrupted', 'cancelled'] as const;
export type AttemptReason = (typeof ATTEMPT_REASONS)[number];

/** One run of a job's command, recorded when it ends (or when recovery finds its worker dead). */
export interface Attempt {
  /**
   * The run's number in the job's history, from 1. It keeps counting across `dlq retry` (which resets the
   * job's `attempts`, the runs used against max_retries), so it also numbers the run's log file.
   */
  attempt: number;
  /** Worker id that ran it. */
  worker: string;
  host: string;
  /** Pid of the worker process (0 when recovery could not know it). */
  pid: number;
  /** ISO-8601 UTC. */
  started_at: string;
  ended_at: string;
  /** For a worker-lost run: until recovery found the worker dead (an upper bound). */
  duration_ms: number;
  /** Exit status, or null when the command ended by a signal or never started. */
  exit_code: number | null;
  /** Signal name when killed (SIGTERM, SIGKILL), else null. */
  signal: string | null;
  reason: AttemptReason;
  /** Short error message for a run that did not complete. */
  error?: string;
}

/** A job as stored in its JSON file. Unknown fields are kept as they are. */
export interface Job {
  /** 1-128 of [A-Za-z0-9._-], not starting with "." or "-"; unique across all states. */
  id: string;
  /** Shell command, run with `sh -c`. */
  command: string;
  /** Mirrors the folder the file is in; the folder wins when they differ. */
  state: JobState;
  /** Lower runs first; -999..999, default 0. */
  priority: number;
  /** The named queue it belongs to: 1-64 of [a-z0-9_-]; "default" when none was given. */
  queue?: string;
  /** Ids of jobs that must complete before this one runs; it waits in waiting/ until they have. */
  after?: string[];
  /** Set when the job went to dead/ because a job of `after` ended dead. */
  failed_dependency?: string;
  /**
   * Runs used against max_retries: every run that ended (a completed, failed or lost one), except one
   * interrupted by queuectl's own stop. `dlq retry` resets it to 0; the history keeps every run.
   */
  attempts: number;
  /** Retries after the first run: max_retries 2 means at most 3 runs. */
  max_retries: number;
  /** When the job was scheduled to run first (ISO-8601 UTC). */
  run_at: string;
  /** When the job may run next: run_at, or the retry time after a failure (ISO-8601 UTC). */
  available_at: string;
  /** Seconds before the command is killed; null means the config's `timeout`. */
  timeout: number | null;
  /** Working directory of the command; null means the worker's. */
  cwd: string | null;
  /** Extra environment variables for the command (never printed unless asked). */
  env?: Record<string, string>;
  created_at: string;
  updated_at: string;
  /** Set when the job ends in completed/ or dead/. */
  finished_at?: string;
  exit_code?: number | null;
  signal?: string | null;
  last_error?: string | null;
  /** Last few KB of the command's output from the latest attempt. */
  output_tail?: string;
  history?: Attempt[];
  /** History entries dropped to keep the record small (the oldest first; see MAX_HISTORY). */
  history_dropped?: number;
  /** Set when the job was cancelled (ISO-8601 UTC). */
  cancelled_at?: string;
  /** Where the job came from when it was not the CLI: the name of a file dropped into pending/. */
  source?: string;
  [extra: string]: unknown;
}

/** Defaults for fields a spec leaves out. */
export interface JobDefaults {
  maxRetries: number;
  cwd: string | null;
}

export const ID_PATTERN = /^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$/;
/** Names of queues: 1-64 of [a-z0-9_-]. */
export const QUEUE_PATTERN = /^[a-z0-9_-]{1,64}$/;
export const DEFAULT_QUEUE = 'default';
export const PRIORITY_MIN = -999;
export const PRIORITY_MAX = 999;
export const MAX_RETRIES_MAX = 100;
/**
 * Linux refuses one argv or environment string of MAX_ARG_STRLEN (131072) bytes or more, its final NUL
 * included; `sh -c` passes the command as one string, and each env entry is NAME=VALUE.
 */
export const COMMAND_MAX_BYTES = 131_071;
/** Latest run_at: pending/ names hold available_at in 13 digits of ms. */
export const MAX_RUN_AT_MS = 9_999_999_999_999;
/**
 * Largest record a new job may have (serialised). A worker reads records of up to 4MB (store.ts
 * MAX_JOB_BYTES); the rest is room for the history and output tail a job gathers as it runs, so whatever
 * enqueue accepts stays readable by the claim that runs it.
 */
export const MAX_NEW_JOB_BYTES = 1024 * 1024;
/** History entries kept in a record; older ones are dropped (counted in history_dropped). */
export const MAX_HISTORY = 1000;

/**
 * Fields queuectl owns. A spec may carry them (a job file copied from `show --json`), but they are set
 * afresh for the new job: a copied record starts over, it does not inherit attempts or a history.
 */
const SYSTEM_FIELDS = new Set([
  'state', 'created_at', 'updated_at', 'available_at', 'finished_at', 'delay', 'attempts', 'history', 'history_dropped',
  'exit_code', 'signal', 'last_error', 'output_tail', 'source', 'cancelled_at', 'failed_dependency',
]);

/**
 * Validates one job spec (parsed JSON from the CLI, a batch, or a file dropped into pending/) and returns
 * the complete pending Job that will be stored. `label` names the job in errors ("job 3", "line 7").
 * Throws InputError naming the field and what was expected. The record it returns passes recordProblem,
 * the same check a claim makes before it runs a job: whatever is accepted here can be run.
 */
export function createJob(spec: unknown, label: string, now: number, defaults: JobDefaults, newId: () => string): Job {
  if (spec === null || typeof spec !== 'object' || Array.isArray(spec)) {
    throw new InputError(`${label}: expected a JSON object with at least a "command", got ${describe(spec)}`);
  }
  const s = spec as Record<string, unknown>;
  const fail: Fail = (field, expected, value) => {
    const who = typeof s.id === 'string' && ID_PATTERN.test(s.id) ? `${label} (id "${s.id}")` : label;
    throw new InputError(`${who}: field "${field}" ${expected}, got ${describe(value)}`);
  };
  const command = checkCommand(s.command, fail);
  let id: string;
  if (s.id === undefined || s.id === null) id = newId();
  else if (typeof s.id !== 'string' || !ID_PATTERN.test(s.id)) {
    throw new InputError(`${label}: field "id" must be 1-128 characters of A-Z a-z 0-9 . _ - not starting with "." or "-", got ${describe(s.id)}`);
  } else id = s.id;
  const priority = s.priority ?? 0;
  if (typeof priority !== 'number' || !Number.isInteger(priority) || priority < PRIORITY_MIN || priority > PRIORITY_MAX) {
    fail('priority', `must be an integer from ${PRIORITY_MIN} to ${PRIORITY_MAX} (lower runs first)`, priority);
  }
  const maxRetries = s.max_retries ?? defaults.maxRetries;
  if (typeof maxRetries !== 'number' || !Number.isInteger(maxRetries) || maxRetries < 0 || maxRetries > MAX_RETRIES_MAX) {
    fail('max_retries', `must be an integer from 0 to ${MAX_RETRIES_MAX}`, maxRetries);
  }
  const after = checkAfter(s.after, typeof s.id === 'string' ? s.id : null, fail);
  const queue = s.queue ?? DEFAULT_QUEUE;
  if (typeof queue !== 'string' || !QUEUE_PATTERN.test(queue)) fail('queue', 'must be 1-64 characters of a-z 0-9 _ -', queue);
  const { timeout, runAt } = checkTiming(s, now, fail);
  const cwd = s.cwd ?? defaults.cwd;
  if (cwd !== null && (typeof cwd !== 'string' || !cwd.startsWith('/'))) fail('cwd', 'must be an absolute path', cwd);
  if ((cwd as string | null)?.includes('\0')) fail('cwd', 'must not contain a NUL character', cwd);
  if (s.env !== undefined && s.env !== null) checkEnv(s.env, fail);

  const iso = new Date(now).toISOString();
  const job: Job = {
    id,
    command,
    state: 'pending',
    priority: priority as number,
    queue: queue as string,
    ...(after.length ? { after } : {}),
    attempts: 0,
    max_retries: maxRetries as number,
    run_at: new Date(runAt).toISOString(),
    available_at: new Date(runAt).toISOString(),
    timeout,
    cwd: cwd as string | null,
    ...(s.env ? { env: s.env as Record<string, string> } : {}),
    created_at: iso,
    updated_at: iso,
  };
  for (const [k, v] of Object.entries(s)) {
    // Fields of the spec that shaped the job above are not copied as they were given (after: null, []).
    if (!(k in job) && !SYSTEM_FIELDS.has(k) && k !== 'after' && k !== 'queue') job[k] = v;
  }
  const problem = recordProblem(job);
  if (problem) throw new InputError(`${label}: ${problem}`);
  const size = Buffer.byteLength(serializeJob(job));
  if (size > MAX_NEW_JOB_BYTES) {
    throw new InputError(`${label}: the job is ${formatBytes(size)} as stored; a new job may be at most ${formatBytes(MAX_NEW_JOB_BYTES)} (keep large data in a file and pass its path)`);
  }
  return job;
}

/** Most dependencies one job may have. */
export const MAX_AFTER = 100;

/** `after`: ids of other jobs, at most MAX_AFTER, without repeats; not the job itself. */
function checkAfter(after: unknown, id: string | null, fail: Fail): string[] {
  if (after === undefined || after === null) return [];
  const list = typeof after === 'string' ? [after] : after;
  if (!Array.isArray(list)) fail('after', 'must be a job id or an array of job ids', after);
  const ids = list as unknown[];
  if (ids.length > MAX_AFTER) fail('after', `must name at most ${MAX_AFTER} jobs`, `${ids.length} ids`);
  for (const dep of ids) if (typeof dep !== 'string' || !ID_PATTERN.test(dep)) fail('after', 'must hold job ids (1-128 of A-Z a-z 0-9 . _ -)', dep);
  if (id !== null && ids.includes(id)) fail('after', 'must not name the job itself', id);
  return [...new Set(ids as string[])];
}

/** Throws the InputError for one field: what was expected, and what was given. */
type Fail = (field: string, expected: string, value: unknown) => never;

function checkCommand(command: unknown, fail: Fail): string {
  if (typeof command !== 'string') fail('command', 'must be a non-empty string', command);
  const c = command as string;
  if (c.trim() === '') fail('command', 'must not be empty', command);
  if (c.includes('\0')) fail('command', 'must not contain a NUL character', '"...\\u0000..."');
  const bytes = Buffer.byteLength(c);
  if (bytes > COMMAND_MAX_BYTES) fail('command', `must be at most ${COMMAND_MAX_BYTES} bytes (Linux's limit for one argument)`, `${bytes} bytes`);
  return c;
}

/** timeout (seconds), and when the job may first run (run_at, or now + delay), checked for range. */
function checkTiming(s: Record<string, unknown>, now: number, fail: Fail): { timeout: number | null; runAt: number } {
  let timeout: number | null = null;
  if (s.timeout !== undefined && s.timeout !== null) {
    const ms = guard(() => parseDurationMs(s.timeout, 'timeout'), () => fail('timeout', 'must be a number of seconds or a duration such as 30s or 5m', s.timeout));
    if (ms < 1) fail('timeout', 'must be at least 1ms (0.001 seconds)', s.timeout);
    if (ms > MAX_DURATION_MS) fail('timeout', `must be at most ${MAX_DURATION_MS / 86_400_000} days`, s.timeout);
    timeout = ms / 1000;
  }
  let runAt = now;
  if (s.run_at !== undefined && s.run_at !== null) {
    runAt = parseTimestamp(s.run_at) ?? fail('run_at', 'must be a real ISO-8601 date or time such as 2026-01-31T09:00:00Z (no offset: local time)', s.run_at);
  }
  if (s.delay !== undefined && s.delay !== null) {
    if (s.run_at !== undefined && s.run_at !== null) fail('delay', 'cannot be given together with run_at', s.delay);
    const delay = guard(() => parseDurationMs(s.delay, 'delay'), () => fail('delay', 'must be a duration such as 30s, 5m or a number of seconds', s.delay));
    if (delay > MAX_DURATION_MS) fail('delay', `must be at most ${MAX_DURATION_MS / 86_400_000} days`, s.delay);
    runAt = now + delay;
  }
  // pending/ names hold the time in 13 digits of ms: later than 2286-11-20 would not parse as a queuectl name.
  if (runAt > MAX_RUN_AT_MS) fail(s.delay != null ? 'delay' : 'run_at', `must be no later than ${new Date(MAX_RUN_AT_MS).toISOString()}`, s.delay ?? s.run_at);
  return { timeout, runAt };
}

function checkEnv(env: unknown, fail: Fail): void {
  if (typeof env !== 'object' || Array.isArray(env)) fail('env', 'must be an object of string values', env);
  for (const [k, v] of Object.entries(env as object)) {
    if (typeof v !== 'string') fail(`env.${k}`, 'must be a string', v);
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(k)) fail('env', 'must have names of letters, digits and _', k);
    const entry = Buffer.byteLength(`${k}=${v}`);
    if (entry > COMMAND_MAX_BYTES) fail(`env.${k}`, `must be at most ${COMMAND_MAX_BYTES} bytes with its name (Linux's limit for one variable)`, `${entry} bytes`);
    if ((v as string).includes('\0')) fail(`env.${k}`, 'must not contain a NUL character', '"...\\u0000..."');
  }
}

/** Longest timeout or delay accepted: 100 years, in ms. */
export const MAX_DURATION_MS = 100 * 365 * 86_400_000;

function formatBytes(n: number): string {
  return n >= 1024 * 1024 ? `${(n / 1024 / 1024).toFixed(1)}MB` : `${(n / 1024).toFixed(1)}KB`;
}

function guard<T>(fn: () => T, onError: () => never): T {
  try {
    return fn();
  } catch {
    return onError();
  }
}

const TIMESTAMP = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})?)?$/i;

/**
 * Parses an ISO-8601 date or date-time into epoch ms; null when it is not one, or not a real moment
 * (2026-02-30, 24:00, 10:61). Without an offset the time is local time (the time zone of the process that
 * parses it), and a date alone is local midnight: JavaScript would read a date alone as UTC midnight.
 */
export function parseTimestamp(value: unknown): number | null {
  if (typeof value !== 'string') return null;
  const m = TIMESTAMP.exec(value.trim());
  if (!m) return null;
  const [year, month, day, hour, minute, second] = [m[1], m[2], m[3], m[4] ?? '0', m[5] ?? '0', m[6] ?? '0'].map(Number);
  if (month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || second > 59) return null;
  // The day must exist in that month (Date.UTC carries 30 February over into March).
  const probe = new Date(Date.UTC(year, month - 1, day));
  if (probe.getUTCMonth() !== month - 1 || probe.getUTCDate() !== day) return null;
  const ms = m[7] ? Math.floor(Number(m[7]) * 1000) : 0;
  const zone = m[8];
  if (zone === undefined) {
    const local = new Date(year, month - 1, day, hour, minute, second, ms);
    local.setFullYear(year); // years 0-99 would otherwise mean 1900-1999
    return local.getTime();
  }
  let offsetMin = 0;
  if (zone.toUpperCase() !== 'Z') {
    const z = /^([+-])(\d{2}):?(\d{2})$/.exec(zone)!;
    if (Number(z[2]) > 23 || Number(z[3]) > 59) return null;
    offsetMin = (z[1] === '-' ? -1 : 1) * (Number(z[2]) * 60 + Number(z[3]));
  }
  return Date.UTC(year, month - 1, day, hour, minute, second, ms) - offsetMin * 60_000;
}

/** The queue of a record (records written before queues existed have none: the default queue). */
export function queueOf(job: Pick<Job, 'queue'>): string {
  return job.queue ?? DEFAULT_QUEUE;
}

/** Serialises a job for its file (pretty, so `cat` is readable). */
export function serializeJob(job: Job): string {
  return `${JSON.stringify(job, null, 2)}\n`;
}

/**
 * Parses a stored job file. Returns the job with `state` set from the folder it was read from.
 * Throws QueuectlError naming the path when the file is not a job.
 */
export function parseStoredJob(text: string, path: string, state: JobState): Job {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new QueuectlError(`${path}: not valid JSON (${(err as Error).message})`, 'EBADJOB');
  }
  if (!value || typeof value !== 'object' || Array.isArray(value)) throw new QueuectlError(`${path}: not a JSON object`, 'EBADJOB');
  const job = value as Job;
  if (typeof job.id !== 'string' || typeof job.command !== 'string') throw new QueuectlError(`${path}: missing id or command`, 'EBADJOB');
  job.state = state;
  return job;
}

/**
 * THE check of a record: what a worker relies on, with its types. createJob runs it on every new job
 * (enqueue and the intake of dropped files) and a claim runs it before it runs a job, so the two can never
 * disagree. Returns what is wrong, or null.
 */
export function recordProblem(job: Job): string | null {
  const int = (v: unknown) => typeof v === 'number' && Number.isInteger(v);
  const str = (v: unknown) => typeof v === 'string';
  if (!ID_PATTERN.test(job.id)) return `invalid id ${describe(job.id)}`;
  if (typeof job.command !== 'string' || job.command.trim() === '') return 'field "command" must be a non-empty string';
  if (Buffer.byteLength(job.command) > COMMAND_MAX_BYTES || job.command.includes('\0')) return `field "command" must be at most ${COMMAND_MAX_BYTES} bytes without NUL characters`;
  if (!int(job.attempts) || job.attempts < 0) return `field "attempts" must be an integer of 0 or more, got ${describe(job.attempts)}`;
  if (!int(job.max_retries) || job.max_retries < 0 || job.max_retries > MAX_RETRIES_MAX) return `field "max_retries" must be an integer from 0 to ${MAX_RETRIES_MAX}, got ${describe(job.max_retries)}`;
  if (!int(job.priority) || job.priority < PRIORITY_MIN || job.priority > PRIORITY_MAX) return `field "priority" must be an integer from ${PRIORITY_MIN} to ${PRIORITY_MAX}, got ${describe(job.priority)}`;
  if (job.queue !== undefined && (typeof job.queue !== 'string' || !QUEUE_PATTERN.test(job.queue))) return `field "queue" must be 1-64 characters of a-z 0-9 _ -, got ${describe(job.queue)}`;
  if (job.timeout !== null && job.timeout !== undefined && !(typeof job.timeout === 'number' && Number.isFinite(job.timeout) && job.timeout > 0)) return `field "timeout" must be a number of seconds, got ${describe(job.timeout)}`;
  if (job.cwd !== null && job.cwd !== undefined && (typeof job.cwd !== 'string' || !job.cwd.startsWith('/'))) return `field "cwd" must be an absolute path, got ${describe(job.cwd)}`;
  if (job.env !== undefined && (job.env === null || typeof job.env !== 'object' || Array.isArray(job.env) || Object.values(job.env).some((v) => typeof v !== 'string'))) return 'field "env" must be an object of strings';
  if (job.env && Object.entries(job.env).some(([k, v]) => !/^[A-Za-z_][A-Za-z0-9_]*$/.test(k) || v.includes('\0') || Buffer.byteLength(`${k}=${v}`) > COMMAND_MAX_BYTES)) return 'field "env" must have names of letters, digits and _ and values without NUL, each under 128KB';
  for (const f of ['run_at', 'available_at', 'created_at'] as const) if (!str(job[f]) || !Number.isFinite(Date.parse(job[f]))) return `field "${f}" must be an ISO-8601 time, got ${describe(job[f])}`;
  if (job.history !== undefined && !Array.isArray(job.history)) return 'field "history" must be an array';
  if (job.after !== undefined && (!Array.isArray(job.after) || job.after.some((d) => typeof d !== 'string' || !ID_PATTERN.test(d)))) return 'field "after" must be an array of job ids';
  return null;
}

// ---- ids ----------------------------------------------------------------------------------------

let lastMs = 0;
let seq = 0;
const processTag = randomBytes(3).toString('hex');

/**
 * A new unique, time-sortable id: 9 base-36 digits of milliseconds, 3 of a per-process sequence,
 * then a per-process random tag and 2 random digits, e.g. `0mih8x2k3000-a1b2c3f0`.
 */
export function newJobId(now: number): string {
  if (now <= lastMs) now = lastMs;
  if (now === lastMs) seq++;
  else {
    lastMs = now;
    seq = 0;
  }
  if (seq >= 36 ** 3) {
    lastMs++;
    seq = 0;
  }
  return `${lastMs.toString(36).padStart(9, '0')}${seq.toString(36).padStart(3, '0')}-${processTag}${randomBytes(1).toString('hex')}`;
}

/**
 * Refuses anything that is not a job id before it becomes part of a path: ids given on the command
 * line or to the page (`../../x`, `a/b`) must never name a file outside the queue root.
 */
export function assertValidId(id: unknown): asserts id is string {
  if (typeof id !== 'string' || !ID_PATTERN.test(id)) {
    throw new InputError(`Invalid job id ${describe(id)}: ids are 1-128 characters of A-Z a-z 0-9 . _ - not starting with "." or "-"`);
  }
}

/** The id a hand-dropped file gets when its JSON names none: its file name without .json, if that is a valid id. */
export function idFromFileName(name: string): string | null {
  const base = name.endsWith('.json') ? name.slice(0, -'.json'.length) : name;
  return ID_PATTERN.test(base) ? base : null;
}
