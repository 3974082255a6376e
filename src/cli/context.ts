// What every command needs: the queue root from --root / QUEUECTL_ROOT / ./.queuectl, the opened store,
// the raw text of options (cac turns "007" into 7), and output helpers.

import { resolve } from 'node:path';
import { InputError } from '../errors.js';
import { openStore, type Store } from '../store.js';

/** Options every command accepts. */
export interface GlobalOptions {
  root?: string;
  json?: boolean;
}

/** The raw string given for a --flag on the command line (last one wins), or undefined. */
export function rawOption(argv: readonly string[], flag: string): string | undefined {
  let value: string | undefined;
  const end = argv.indexOf('--');
  const upto = end === -1 ? argv.length : end;
  for (let i = 0; i < upto; i++) {
    const a = argv[i];
    if (a === flag) {
      if (i + 1 >= upto) throw new InputError(`${flag} needs a value`);
      value = argv[++i];
    } else if (a.startsWith(`${flag}=`)) value = a.slice(flag.length + 1);
  }
  return value;
}

/** Every raw value of a repeatable --flag. */
export function rawOptions(argv: readonly string[], flag: string): string[] {
  const out: string[] = [];
  const end = argv.indexOf('--');
  const upto = end === -1 ? argv.length : end;
  for (let i = 0; i < upto; i++) {
    if (argv[i] === flag && i + 1 < upto) out.push(argv[++i]);
    else if (argv[i].startsWith(`${flag}=`)) out.push(argv[i].slice(flag.length + 1));
  }
  return out;
}

export interface Context {
  argv: readonly string[];
  env: NodeJS.ProcessEnv;
  cwd: string;
  /** Absolute path of the queue root. */
  root: string;
  out: (line: string) => void;
  err: (line: string) => void;
  stdin: NodeJS.ReadableStream;
  /** Opens (creating on first use) the queue root. */
  store: () => Promise<Store>;
}

export function makeContext(argv: readonly string[], env: NodeJS.ProcessEnv, cwd: string, stdin: NodeJS.ReadableStream): Context {
  const given = rawOption(argv, '--root') ?? env.QUEUECTL_ROOT ?? '.queuectl';
  if (given === '') throw new InputError('--root / QUEUECTL_ROOT is empty; expected a folder path');
  const root = resolve(cwd, given);
  let opened: Promise<Store> | undefined;
  return {
    argv,
    env,
    cwd,
    root,
    out: (line) => process.stdout.write(`${line}\n`),
    err: (line) => process.stderr.write(`${line}\n`),
    stdin,
    store: () => (opened ??= openStore(root)),
  };
}

/** Parses an integer flag, naming it and the expected range in the error. */
export function intOption(value: unknown, flag: string, min: number, max = Number.MAX_SAFE_INTEGER): number | undefined {
  if (value === undefined) return undefined;
  const n = typeof value === 'string' && value.trim() !== '' ? Number(value) : value;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < min || n > max) {
    throw new InputError(`Expected ${flag} to be an integer from ${min}${max < Number.MAX_SAFE_INTEGER ? ` to ${max}` : ' up'}, got ${JSON.stringify(value)}`);
  }
  return n;
}
