// The job record: its fields, validation of job specs from users and files, ids and pending/ file names.
// Pure: no I/O, no clock reads (callers pass `now`).

import { randomBytes } from 'node:crypto';
import { InputError, QueuectlError } from './errors.js';
import { describe, parseDurationMs } from './units.js';

/** The folders a job can be in; the folder is the job's state. */
export const STATES = ['pending', 'processing', 'completed', 'dead'] as const;
export type JobState = (typeof STATES)[number];

/** One run of a job's command, recorded when it ends. */
export interface Attempt {
  /** 1-based attempt number. */
  attempt: number;
  /** Worker id that ran it. */
  worker: string;
  host: string;
  pid: number;
  /** ISO-8601 UTC. */
  started_at: string;
  ended_at: string;
  duration_ms: number;
  /** Exit status, or null when the command ended by a signal or never started. */
  exit_code: number | null;
  /** Signal name when killed (SIGTERM, SIGKILL), else null. */
  signal: string | null;
  /** Why the attempt ended: completed, failed, timeout, spawn-error, worker-lost, cancelled, interrupted. */
  reason: string;
  /** Short error message for a failed attempt. */
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
  /** Runs started so far (including one cut short by a lost worker). */
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
  /** Where the job came from when it was not the CLI: the name of a file dropped into pending/. */
  source?: string;
  [extra: string]: unknown;
}

/** Fields a user may give when enqueuing. Everything else is filled in. */
export interface JobDefaults {
  maxRetries: number;
  cwd: string | null;
}

export const ID_PATTERN = /^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$/;
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

/** Fields the system owns; a spec may carry them (a copied job file) but they are re-derived. */
const SYSTEM_FIELDS = new Set(['state', 'created_at', 'updated_at', 'available_at', 'finished_at', 'delay']);

/**
 * Validates one job spec (parsed JSON from the CLI or a file) and returns a complete pending Job.
 * `label` names the job in errors ("job 3", "line 7"). Throws InputError naming the field and what was expected.
 */
export function createJob(spec: unknown, label: string, now: number, defaults: JobDefaults, newId: () => string): Job {
  if (spec === null || typeof spec !== 'object' || Array.isArray(spec)) {
    throw new InputError(`${label}: expected a JSON object with at least a "command", got ${describe(spec)}`);
  }
  const s = spec as Record<string, unknown>;
  const fail = (field: string, expected: string, value: unknown): never => {
    const who = typeof s.id === 'string' && ID_PATTERN.test(s.id) ? `${label} (id "${s.id}")` : label;
    throw new InputError(`${who}: field "${field}" ${expected}, got ${describe(value)}`);
  };

  const command = s.command;
  if (typeof command !== 'string') fail('command', 'must be a non-empty string', command);
  if ((command as string).trim() === '') fail('command', 'must not be empty', command);
  if ((command as string).includes('\0')) fail('command', 'must not contain a NUL character', '"...\\u0000..."');
  const bytes = Buffer.byteLength(command as string);
  if (bytes > COMMAND_MAX_BYTES) fail('command', `must be at most ${COMMAND_MAX_BYTES} bytes (Linux's limit for one argument)`, `${bytes} bytes`);

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
  const attempts = s.attempts ?? 0;
  if (typeof attempts !== 'number' || !Number.isInteger(attempts) || attempts < 0) fail('attempts', 'must be an integer of 0 or more', attempts);

  let timeout: number | null = null;
  if (s.timeout !== undefined && s.timeout !== null) {
    const ms = guard(() => parseDurationMs(s.timeout, 'timeout'), () => fail('timeout', 'must be a number of seconds or a duration such as 30s or 5m', s.timeout));
    if (ms <= 0) fail('timeout', 'must be more than 0', s.timeout);
    timeout = ms / 1000;
  }

  let runAt = now;
  if (s.run_at !== undefined && s.run_at !== null) {
    runAt = parseTimestamp(s.run_at) ?? fail('run_at', 'must be an ISO-8601 time such as 2026-01-31T09:00:00Z', s.run_at);
  }
  if (s.delay !== undefined && s.delay !== null) {
    if (s.run_at !== undefined && s.run_at !== null) fail('delay', 'cannot be given together with run_at', s.delay);
    runAt = now + guard(() => parseDurationMs(s.delay, 'delay'), () => fail('delay', 'must be a duration such as 30s, 5m or a number of seconds', s.delay));
  }
  // pending/ names hold the time in 13 digits of ms: later than 2286-11-20 would not parse as a queuectl name.
  if (runAt > MAX_RUN_AT_MS) fail(s.delay != null ? 'delay' : 'run_at', `must be no later than ${new Date(MAX_RUN_AT_MS).toISOString()}`, s.delay ?? s.run_at);

  const cwd = s.cwd ?? defaults.cwd;
  if (cwd !== null && (typeof cwd !== 'string' || !cwd.startsWith('/'))) fail('cwd', 'must be an absolute path', cwd);
  if (s.env !== undefined && s.env !== null) {
    if (typeof s.env !== 'object' || Array.isArray(s.env)) fail('env', 'must be an object of string values', s.env);
    for (const [k, v] of Object.entries(s.env as object)) {
      if (typeof v !== 'string') fail(`env.${k}`, 'must be a string', v);
      if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(k)) fail('env', 'must have names of letters, digits and _', k);
      const entry = Buffer.byteLength(`${k}=${v}`);
      if (entry > COMMAND_MAX_BYTES) fail(`env.${k}`, `must be at most ${COMMAND_MAX_BYTES} bytes with its name (Linux's limit for one variable)`, `${entry} bytes`);
      if (v.includes('\0')) fail(`env.${k}`, 'must not contain a NUL character', '"...\\u0000..."');
    }
  }

  const iso = new Date(now).toISOString();
  const job: Job = {
    id,
    command: command as string,
    state: 'pending',
    priority: priority as number,
    attempts: attempts as number,
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
    if (!(k in job) && !SYSTEM_FIELDS.has(k)) job[k] = v;
  }
  return job;
}

function guard<T>(fn: () => T, onError: () => never): T {
  try {
    return fn();
  } catch {
    return onError();
  }
}

/** Parses an ISO-8601 date-time (a date alone means midnight UTC); returns epoch ms or null. */
export function parseTimestamp(value: unknown): number | null {
  if (typeof value !== 'string') return null;
  if (!/^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})?)?$/.test(value.trim())) return null;
  const ms = Date.parse(value.trim());
  return Number.isFinite(ms) ? ms : null;
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
 * Checks that a record in a queuectl-named file has the fields a worker relies on, with their types.
 * Returns what is wrong, or null. (A file another program wrote under a queuectl name is not trusted.)
 */
export function storedJobProblem(job: Job): string | null {
  const int = (v: unknown) => typeof v === 'number' && Number.isInteger(v);
  if (!ID_PATTERN.test(job.id)) return `invalid id ${describe(job.id)}`;
  if (typeof job.command !== 'string' || job.command.trim() === '') return 'field "command" must be a non-empty string';
  if (!int(job.attempts) || job.attempts < 0) return `field "attempts" must be an integer of 0 or more, got ${describe(job.attempts)}`;
  if (!int(job.max_retries) || job.max_retries < 0) return `field "max_retries" must be an integer of 0 or more, got ${describe(job.max_retries)}`;
  if (!int(job.priority) || job.priority < PRIORITY_MIN || job.priority > PRIORITY_MAX) return `field "priority" must be an integer from ${PRIORITY_MIN} to ${PRIORITY_MAX}, got ${describe(job.priority)}`;
  if (job.timeout !== null && job.timeout !== undefined && !(typeof job.timeout === 'number' && job.timeout > 0)) return `field "timeout" must be a number of seconds, got ${describe(job.timeout)}`;
  if (job.cwd !== null && job.cwd !== undefined && (typeof job.cwd !== 'string' || !job.cwd.startsWith('/'))) return `field "cwd" must be an absolute path, got ${describe(job.cwd)}`;
  if (job.env !== undefined && (job.env === null || typeof job.env !== 'object' || Object.values(job.env).some((v) => typeof v !== 'string'))) return 'field "env" must be an object of strings';
  if (job.history !== undefined && !Array.isArray(job.history)) return 'field "history" must be an array';
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

// ---- names in pending/ --------------------------------------------------------------------------

/** What a worker needs to choose a job, read from its name in pending/ without opening the file. */
export interface PendingName {
  name: string;
  availableAt: number;
  priority: number;
  attempts: number;
  id: string;
}

const PENDING_NAME = /^(\d{13})-(\d{4})-(\d{3})-([A-Za-z0-9_][A-Za-z0-9._-]{0,127})\.json$/;

/**
 * The file name of a job in pending/: `<available_at ms, 13 digits>-<priority+1000, 4 digits>-<attempts, 3 digits>-<id>.json`.
 * Fixed width, so a sorted listing is the schedule; the id makes it unique.
 */
export function pendingName(job: Pick<Job, 'available_at' | 'priority' | 'attempts' | 'id'>): string {
  const at = Math.max(0, Date.parse(job.available_at));
  return `${String(at).padStart(13, '0')}-${String(job.priority + 1000).padStart(4, '0')}-${String(Math.min(job.attempts, 999)).padStart(3, '0')}-${job.id}.json`;
}

/** Parses a pending/ file name made by pendingName(); null for any other name (a hand-dropped file). */
export function parsePendingName(name: string): PendingName | null {
  const m = PENDING_NAME.exec(name);
  if (!m) return null;
  return { name, availableAt: Number(m[1]), priority: Number(m[2]) - 1000, attempts: Number(m[3]), id: m[4] };
}

/** True when the job may run at `now`. */
export function isDue(p: Pick<PendingName, 'availableAt'>, now: number): boolean {
  return p.availableAt <= now;
}
