// What every command needs: the queue root (--root, $QUEUECTL_ROOT, ./.queuectl), the store opened on
// first use, the environment queuectl was started with, output that copes with a closed stdout, and
// the process's signals. Built by index.ts, the only file that touches `process`.

import { resolve } from 'node:path';
import { InputError } from '../errors.js';
import { openStore, type Store } from '../store.js';
import { parseDurationMs } from '../units.js';
import type { Input } from './spec.js';

/**
 * Set in the environment of the helper processes of `worker start --processes P` (worker-processes.ts):
 * such a process reports to its parent over the IPC channel instead of printing. Never reaches a job:
 * index.ts removes it from `env`.
 */
export const HELPER_ENV = 'QUEUECTL_WORKER_HELPER';

/** The IPC channel to the `worker start` that started this process as one of its helpers. */
export interface ParentChannel {
  send(message: unknown): void;
  onMessage(handler: (message: unknown) => void): void;
  /** The parent is gone (exited, killed): the channel closed. */
  onDisconnect(handler: () => void): void;
}

/** Process signals, handed in by the entry point. */
export interface SignalSource {
  on(signal: NodeJS.Signals, handler: () => void): void;
}

export interface Context {
  /**
   * The environment queuectl was started with, copied before anything changed it: jobs start from
   * exactly this (plus the QUEUECTL_ variables), never from what queuectl set for itself.
   */
  env: Record<string, string>;
  cwd: string;
  /** Absolute path of the queue root. */
  root: string;
  /** A line to stdout; dropped once stdout is closed (a reader that went away). */
  out: (line: string) => void;
  /** Bytes to stdout as they are (logs). */
  write: (chunk: string | Uint8Array) => void;
  /** A line to stderr; dropped once stderr is closed. */
  err: (line: string) => void;
  /** Replaces the current progress line on stderr (only when stderr is a terminal); '' clears it. */
  progress: (text: string) => void;
  stdin: NodeJS.ReadableStream;
  tty: { stdin: boolean; stdout: boolean; stderr: boolean };
  /** Terminal width for tables (120 when stdout is not a terminal). */
  columns: number;
  /** --color (true), --no-color (false), or neither. */
  colorFlag: boolean | undefined;
  /** The package version (package.json). */
  version: string;
  /** Path of the CLI's entry script, to start it again (worker start --detach). */
  bin: string;
  /** The flags node itself was started with (process.execArgv). */
  nodeFlags: readonly string[];
  signals: SignalSource;
  /** Set when this process is a helper of another `worker start` (HELPER_ENV and an IPC channel). */
  parent: ParentChannel | null;
  /** Opens (creating on first use) the queue root. */
  store: () => Promise<Store>;
}

/** The root from --root, then QUEUECTL_ROOT, then ./.queuectl; relative paths are resolved in cwd. */
export function resolveRoot(flag: string | undefined, env: Record<string, string | undefined>, cwd: string): string {
  const given = flag ?? env.QUEUECTL_ROOT ?? '.queuectl';
  if (given === '') throw new InputError(`${flag !== undefined ? '--root' : 'QUEUECTL_ROOT'} is empty; expected a folder path`);
  return resolve(cwd, given);
}

export function lazyStore(root: string): () => Promise<Store> {
  let opened: Promise<Store> | undefined;
  return () => (opened ??= openStore(root));
}

/** A string option's value as typed, or undefined. */
export function str(input: Input, name: string): string | undefined {
  const v = input.opts[name];
  return typeof v === 'string' ? v : undefined;
}

export function flag(input: Input, name: string): boolean {
  return input.opts[name] === true;
}

export function list(input: Input, name: string): string[] {
  const v = input.opts[name];
  return Array.isArray(v) ? v : [];
}

/** Parses an integer option as typed, naming it and the expected range in the error. */
export function intOption(value: string | undefined, what: string, min: number, max = Number.MAX_SAFE_INTEGER): number | undefined {
  if (value === undefined) return undefined;
  const n = /^-?\d+$/.test(value) ? Number(value) : NaN;
  if (!Number.isSafeInteger(n) || n < min || n > max) {
    throw new InputError(`Expected ${what} to be an integer from ${min}${max < Number.MAX_SAFE_INTEGER ? ` to ${max}` : ' up'}, got ${JSON.stringify(value)}`);
  }
  return n;
}

/** A duration option in ms (0 when not given). */
export function durationOption(value: string | undefined, what: string): number {
  return value === undefined ? 0 : parseDurationMs(value, what);
}
