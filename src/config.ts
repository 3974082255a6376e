// Configuration: the known keys with their defaults and validation, stored as <root>/config.json.
// Writes are read-modify-write under a proper-lockfile lock and land by atomic rename.

import { promises as fsp } from 'node:fs';
import { InputError, isErrno, QueuectlError } from './errors.js';
import { fsyncDir, type Store, writeFileDurable } from './store.js';
import { describe, formatDurationExact, formatSize, parseDurationMs, parseSize } from './units.js';

type Kind = 'int' | 'number' | 'duration' | 'size' | 'bool';

interface KeySpec {
  kind: Kind;
  /** Default in the key's unit: ms for durations, bytes for sizes. */
  default: number | boolean;
  min?: number;
  max?: number;
  help: string;
}

/** Every config key. Durations are stored in ms, sizes in bytes. */
export const CONFIG_KEYS = {
  'max-retries': { kind: 'int', default: 3, min: 0, max: 100, help: 'retries after the first run for jobs that do not set max_retries' },
  'backoff-base': { kind: 'number', default: 2, min: 1, max: 100, help: 'retry n waits backoff-base^n seconds' },
  'backoff-max': { kind: 'duration', default: 3_600_000, min: 0, help: 'longest wait between retries' },
  'backoff-jitter': { kind: 'bool', default: false, help: 'spread each retry wait randomly over 50-100% of it' },
  timeout: { kind: 'duration', default: 0, min: 0, help: 'default job timeout (0: none)' },
  'kill-grace': { kind: 'duration', default: 5_000, min: 0, help: 'time between SIGTERM and SIGKILL on timeout or cancel' },
  'heartbeat-interval': { kind: 'duration', default: 1_000, min: 10, help: 'how often a worker touches its heartbeat file' },
  'stale-after': { kind: 'duration', default: 10_000, min: 50, help: 'a worker whose heartbeat is older is dead; its jobs are recovered' },
  'poll-interval': { kind: 'duration', default: 5_000, min: 10, help: 'full rescan of pending/ (file events are only a hint; big queues: per 20,000 files)' },
  poll: { kind: 'bool', default: false, help: 'watch pending/ by polling (network filesystems, where file events do not arrive)' },
  'output-limit': { kind: 'size', default: 10 * 1024 * 1024, min: 0, help: 'bytes of output kept in each attempt log' },
  retention: { kind: 'duration', default: 7 * 86_400_000, min: 0, help: 'completed jobs older than this are removed (0: keep)' },
} satisfies Record<string, KeySpec>;

export type ConfigKey = keyof typeof CONFIG_KEYS;
export const KEY_NAMES = Object.keys(CONFIG_KEYS) as ConfigKey[];

/** Resolved configuration in code units. */
export interface Config {
  maxRetries: number;
  backoffBase: number;
  backoffMaxMs: number;
  backoffJitter: boolean;
  /** 0 means no timeout. */
  timeoutMs: number;
  killGraceMs: number;
  heartbeatIntervalMs: number;
  staleAfterMs: number;
  pollIntervalMs: number;
  poll: boolean;
  outputLimitBytes: number;
  /** 0 means keep completed jobs forever. */
  retentionMs: number;
}

/** Accepts `max_retries`, `max-retries`, `MAX_RETRIES`; throws listing the known keys otherwise. */
export function normalizeKey(key: string): ConfigKey {
  const k = key.trim().toLowerCase().replace(/_/g, '-');
  if (k in CONFIG_KEYS) return k as ConfigKey;
  throw new InputError(`Unknown config key "${key}"; known keys: ${KEY_NAMES.join(', ')}`);
}

/** Validates a value given as text (CLI) or JSON (file) and returns it in the key's unit. */
export function parseConfigValue(key: ConfigKey, value: unknown): number | boolean {
  const spec: KeySpec = CONFIG_KEYS[key];
  const what = `config ${key}`;
  let v: number | boolean;
  switch (spec.kind) {
    case 'bool': {
      const t = typeof value === 'string' ? value.trim().toLowerCase() : value;
      if (t === true || t === 'true' || t === '1' || t === 'yes' || t === 'on') return true;
      if (t === false || t === 'false' || t === '0' || t === 'no' || t === 'off') return false;
      throw new InputError(`${what}: expected true or false, got ${describe(value)}`);
    }
    case 'duration':
      v = parseDurationMs(typeof value === 'string' && /^\d+(\.\d+)?$/.test(value.trim()) ? Number(value) : value, what);
      break;
    case 'size':
      v = parseSize(value, what);
      break;
    default: {
      const n = typeof value === 'string' && value.trim() !== '' ? Number(value) : value;
      if (typeof n !== 'number' || !Number.isFinite(n) || (spec.kind === 'int' && !Number.isInteger(n))) {
        throw new InputError(`${what}: expected ${spec.kind === 'int' ? 'an integer' : 'a number'}, got ${describe(value)}`);
      }
      v = n;
    }
  }
  if (spec.min !== undefined && v < spec.min) throw new InputError(`${what}: expected at least ${show(key, spec.min)}, got ${describe(value)}`);
  if (spec.max !== undefined && v > spec.max) throw new InputError(`${what}: expected at most ${show(key, spec.max)}, got ${describe(value)}`);
  return v;
}

/** A value in the key's unit as a person writes it: 10s, 10MB, 3. */
export function show(key: ConfigKey, value: number | boolean): string {
  const kind: Kind = CONFIG_KEYS[key].kind;
  if (kind === 'duration') return formatDurationExact(value as number);
  if (kind === 'size') return formatSize(value as number);
  return String(value);
}

function fileValue(key: ConfigKey, value: number | boolean): number | boolean | string {
  const kind: Kind = CONFIG_KEYS[key].kind;
  return kind === 'duration' || kind === 'size' ? show(key, value) : value;
}

/** Values set in the root's config.json (validated; a broken file is an error naming the key). */
export async function readConfigFile(store: Store): Promise<Partial<Record<ConfigKey, number | boolean>>> {
  let text: string;
  try {
    text = await fsp.readFile(store.config, 'utf8');
  } catch (err) {
    if (isErrno(err, 'ENOENT')) return {};
    throw err;
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new QueuectlError(`${store.config}: not valid JSON (${(err as Error).message}); fix or remove it`);
  }
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) throw new QueuectlError(`${store.config}: expected a JSON object`);
  const out: Partial<Record<ConfigKey, number | boolean>> = {};
  for (const [k, v] of Object.entries(raw)) {
    try {
      const key = normalizeKey(k);
      out[key] = parseConfigValue(key, v);
    } catch (err) {
      // Not the command line's fault: say which file holds the bad value.
      throw new QueuectlError(`${store.config}: ${(err as Error).message}; fix or remove it`, 'ECONFIG', { cause: err });
    }
  }
  return out;
}

/** The effective configuration: defaults, then the root's file, then `overrides` (e.g. worker flags). */
export async function loadConfig(store: Store, overrides: Partial<Record<ConfigKey, number | boolean>> = {}): Promise<Config> {
  return resolveConfig({ ...(await readConfigFile(store)), ...overrides });
}

/** Pure: merges set values over defaults. */
export function resolveConfig(values: Partial<Record<ConfigKey, number | boolean>>): Config {
  const get = <T extends number | boolean>(k: ConfigKey) => (values[k] ?? CONFIG_KEYS[k].default) as T;
  return Object.freeze({
    maxRetries: get<number>('max-retries'),
    backoffBase: get<number>('backoff-base'),
    backoffMaxMs: get<number>('backoff-max'),
    backoffJitter: get<boolean>('backoff-jitter'),
    timeoutMs: get<number>('timeout'),
    killGraceMs: get<number>('kill-grace'),
    heartbeatIntervalMs: get<number>('heartbeat-interval'),
    staleAfterMs: get<number>('stale-after'),
    pollIntervalMs: get<number>('poll-interval'),
    poll: get<boolean>('poll'),
    outputLimitBytes: get<number>('output-limit'),
    retentionMs: get<number>('retention'),
  });
}

/**
 * What makes a configuration unusable for workers, naming the keys, or null. Checked by `config set`
 * (which refuses it), at worker start, and when running workers re-read the file (they keep the old one).
 */
export function configProblem(c: Config): string | null {
  if (c.heartbeatIntervalMs * 2 > c.staleAfterMs) {
    return `stale-after (${formatDurationExact(c.staleAfterMs)}) must be at least twice heartbeat-interval (${formatDurationExact(c.heartbeatIntervalMs)}), or live workers would look dead; raise stale-after or lower heartbeat-interval`;
  }
  return null;
}

/** Sets (value given) or unsets (undefined) one key, under a lock so concurrent writers do not lose updates. */
export async function updateConfig(store: Store, key: ConfigKey, value: number | boolean | undefined): Promise<void> {
  // Imported here, not at the top: most commands only read the config and need not pay for it.
  const { default: lockfile } = await import('proper-lockfile');
  const release = await lockfile.lock(store.config, {
    realpath: false,
    stale: 10_000,
    retries: { retries: 50, minTimeout: 20, maxTimeout: 200 },
    // The default handler throws from a timer and kills the process; a lost lock here only risks one update.
    onCompromised: () => {},
  });
  try {
    const current = await readConfigFile(store);
    if (value === undefined) delete current[key];
    else current[key] = value;
    const problem = configProblem(resolveConfig(current));
    if (problem) throw new InputError(`Not changed: ${problem}`);
    // Stored as a person writes them ("10s", "10MB", 3), so the file reads well and can be edited by hand.
    const sorted = Object.fromEntries(KEY_NAMES.filter((k) => k in current).map((k) => [k, fileValue(k, current[k]!)]));
    await writeFileDurable(store, store.config, `${JSON.stringify(sorted, null, 2)}\n`);
    await fsyncDir(store.root);
  } finally {
    await release().catch(() => {});
  }
}
