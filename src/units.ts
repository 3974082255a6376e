// Parsing and printing of durations ("30s", "5m", "1h30m", "500ms") and sizes ("10MB"). Pure.

import { InputError } from './errors.js';

const DURATION_UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };

/**
 * Parses a duration into milliseconds. A bare number means seconds (the unit the job file uses).
 * `what` names the field in the error, e.g. `--delay` or `timeout`.
 */
export function parseDurationMs(value: unknown, what: string): number {
  if (typeof value === 'number') {
    if (!Number.isFinite(value) || value < 0) throw new InputError(`${what}: expected a duration of 0 or more seconds, got ${JSON.stringify(value)}`);
    return Math.round(value * 1000);
  }
  if (typeof value !== 'string' || value.trim() === '') {
    throw new InputError(`${what}: expected a duration such as 30s, 5m, 1h or a number of seconds, got ${describe(value)}`);
  }
  const text = value.trim();
  if (/^\d+(\.\d+)?$/.test(text)) return Math.round(Number(text) * 1000);
  const re = /(\d+(?:\.\d+)?)(ms|s|m|h|d|w)/gy;
  let total = 0;
  let matched = 0;
  for (let m = re.exec(text); m; m = re.exec(text)) {
    total += Number(m[1]) * DURATION_UNITS[m[2]];
    matched = re.lastIndex;
  }
  if (matched !== text.length || matched === 0) {
    throw new InputError(`${what}: expected a duration such as 30s, 5m, 1h30m, 500ms or a number of seconds, got ${JSON.stringify(value)}`);
  }
  return Math.round(total);
}

/** Prints milliseconds as a short duration: 1.5s, 2m, 1h30m. */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms)) return '-';
  const sign = ms < 0 ? '-' : '';
  ms = Math.abs(ms);
  if (ms < 1000) return `${sign}${Math.round(ms)}ms`;
  if (ms < 60_000) return `${sign}${+(ms / 1000).toFixed(ms < 10_000 ? 1 : 0)}s`;
  const parts: string[] = [];
  let rest = Math.round(ms / 1000);
  for (const [unit, size] of [['d', 86400], ['h', 3600], ['m', 60], ['s', 1]] as const) {
    if (rest >= size) {
      parts.push(`${Math.floor(rest / size)}${unit}`);
      rest %= size;
    }
  }
  return sign + parts.slice(0, 2).join('');
}

/** Prints milliseconds exactly in the largest unit that divides them: 14d, 10s, 1500ms, 0. */
export function formatDurationExact(ms: number): string {
  if (ms === 0) return '0';
  for (const [unit, size] of [['d', 86_400_000], ['h', 3_600_000], ['m', 60_000], ['s', 1000]] as const) {
    if (ms % size === 0) return `${ms / size}${unit}`;
  }
  return `${ms}ms`;
}

const SIZE_UNITS: Record<string, number> = { b: 1, kb: 1024, k: 1024, mb: 1024 ** 2, m: 1024 ** 2, gb: 1024 ** 3, g: 1024 ** 3 };

/** Parses a size such as 10MB, 512KB or a bare number of bytes. */
export function parseSize(value: unknown, what: string): number {
  if (typeof value === 'number' && Number.isInteger(value) && value >= 0) return value;
  const m = typeof value === 'string' ? /^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$/.exec(value) : null;
  const unit = m ? SIZE_UNITS[m[2].toLowerCase() || 'b'] : undefined;
  if (!m || unit === undefined) throw new InputError(`${what}: expected a size such as 10MB, 512KB or a number of bytes, got ${describe(value)}`);
  return Math.round(Number(m[1]) * unit);
}

/** Prints bytes as 10MB, 512KB, 17B. */
export function formatSize(bytes: number): string {
  for (const [unit, size] of [['GB', 1024 ** 3], ['MB', 1024 ** 2], ['KB', 1024]] as const) {
    if (bytes >= size && bytes % size === 0) return `${bytes / size}${unit}`;
  }
  return `${bytes}B`;
}

/** A short description of an unexpected value for error messages: `"high" (string)`. */
export function describe(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  const type = typeof value;
  const text = type === 'object' ? 'an object' : JSON.stringify(value);
  const shown = text && text.length > 60 ? `${text.slice(0, 57)}...` : text;
  return type === 'object' ? shown : `${shown} (${type})`;
}
