// Reads argv once, with node's util.parseArgs, against the command table (spec.ts). Values are kept
// exactly as typed ("007" stays "007", "1.50" stays "1.50"); each command validates its own.
//
// Rules:
//  - Options go anywhere: before the command, between its words and arguments, after them; `--opt=value`
//    and `--opt value` are the same. A repeated option: the last one wins (a list option collects all).
//  - A value may start with a dash only when it is a number (`--priority -5`), or with `--opt=-x`.
//    A word like `-5` where an argument goes is an argument, not an option.
//  - `--` ends the options; the words after it are the command of `enqueue` (or more arguments elsewhere).
//  - Anything not in the table is a UsageError naming it and where to look (exit 2).

import { parseArgs } from 'node:util';
import { InputError } from '../errors.js';
import { actionsOf, type Command, COMMANDS, findCommand, findGroup, GLOBAL_OPTIONS, type Group, type Input, type OptionSpec } from './spec.js';

/** Bad usage of the command line: exit 2, like bad input. */
export class UsageError extends InputError {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

export type Parsed =
  /** A command to run. */
  | { kind: 'run'; command: Command; input: Input; global: GlobalValues }
  /** --help (or a group or nothing given): show the help of this command, group, or everything. */
  | { kind: 'help'; target: Command | Group | null; global: GlobalValues; incomplete: boolean }
  | { kind: 'version'; global: GlobalValues };

export interface GlobalValues {
  root?: string;
  /** The last of --color / --no-color, or undefined. */
  color?: boolean;
}

/** `-5`, `-1.5`, `-30s`: a negative value or argument, never an option (no option name starts with a digit). */
const NEGATIVE_NUMBER = /^-\d/;

/** The options kinds known before the command is found: the globals and those all commands agree on. */
function unionOptions(commands: readonly Command[]): Map<string, OptionSpec> {
  const byName = new Map<string, OptionSpec>();
  const conflicting = new Set<string>();
  for (const o of [...GLOBAL_OPTIONS, ...commands.flatMap((c) => c.options)]) {
    const seen = byName.get(o.name);
    if (seen && seen.kind !== o.kind) conflicting.add(o.name);
    else byName.set(o.name, o);
  }
  for (const name of conflicting) byName.delete(name);
  return byName;
}

/** Whether argv[i] is an option that takes the next word as its value. */
function takesNextWord(word: string, known: Map<string, OptionSpec>): boolean {
  if (!word.startsWith('-') || word === '-' || NEGATIVE_NUMBER.test(word) || word.includes('=')) return false;
  const o = word.startsWith('--') ? known.get(word.slice(2)) : [...known.values()].find((k) => k.short === word.slice(-1));
  return !!o && o.kind !== 'boolean';
}

/**
 * Finds the words that name the command (`worker`, `start`) and their positions in argv, skipping options
 * and their values. Only the words up to the first argument are looked at.
 */
export function locateCommand(argv: readonly string[]): { words: string[]; at: number[] } {
  const words: string[] = [];
  const at: number[] = [];
  let known = unionOptions(COMMANDS);
  for (let i = 0; i < argv.length; i++) {
    const w = argv[i];
    if (w === '--') break;
    if (w.startsWith('-') && w !== '-' && !NEGATIVE_NUMBER.test(w)) {
      if (takesNextWord(w, known)) i++;
      continue;
    }
    words.push(w);
    at.push(i);
    if (words.length === 1 && findGroup(w)) {
      known = unionOptions(actionsOf(w));
      continue;
    }
    break;
  }
  return { words, at };
}

/** Parses the whole command line. Throws UsageError for anything that does not fit the table. */
export function parseCommandLine(argv: readonly string[]): Parsed {
  const { words, at } = locateCommand(argv);
  let command: Command | undefined;
  let group: Group | undefined;
  let used = 0;
  if (words.length > 0) {
    group = findGroup(words[0]);
    if (group) {
      if (words.length > 1) command = findCommand([words[0], words[1]]);
      used = command ? 2 : 1;
      if (words.length === 1 && group.defaultAction) command = findCommand([group.name, group.defaultAction]);
    } else {
      command = findCommand([words[0]]);
      used = 1;
    }
  }
  const options = command ? [...GLOBAL_OPTIONS, ...command.options] : group ? [...GLOBAL_OPTIONS, ...unionOptions(actionsOf(group.name)).values()] : GLOBAL_OPTIONS;
  const values = readOptions(argv, options, new Set(at.slice(0, used)), command);
  const global: GlobalValues = { root: values.opts.root as string | undefined, color: values.color };

  if (values.opts.help) return { kind: 'help', target: (used === 2 ? command : group) ?? command ?? null, global, incomplete: false };
  if (values.opts.version) return { kind: 'version', global };
  if (words.length === 0) return { kind: 'help', target: null, global, incomplete: true };
  if (!group && !command) throw new UsageError(`Unknown command "${words[0]}"${suggest(words[0], topLevel())}; run queuectl --help for the list`);
  if (group && !command) {
    const actions = actionsOf(group.name).map((c) => c.path[1]);
    if (words.length < 2) return { kind: 'help', target: group, global, incomplete: true };
    throw new UsageError(`Unknown action "${group.name} ${words[1]}"${suggest(words[1], actions)}; expected one of ${actions.join(', ')}`);
  }
  const cmd = command!;
  checkArgs(cmd, values.args);
  delete values.opts.root;
  delete values.opts.color;
  delete values.opts['no-color'];
  return { kind: 'run', command: cmd, input: { args: values.args, opts: values.opts, rest: values.rest }, global };
}

function topLevel(): string[] {
  return [...new Set(COMMANDS.filter((c) => !c.hidden).map((c) => c.path[0]))];
}

/** ` (did you mean "status"?)` for a near miss, else ''. */
function suggest(word: string, choices: string[]): string {
  const near = choices.find((c) => distance(word, c) <= (c.length >= 5 ? 2 : 1));
  return near ? ` (did you mean "${near}"?)` : '';
}

function distance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0]++;
    for (let j = 1; j <= b.length; j++) {
      const cur = row[j];
      row[j] = Math.min(row[j] + 1, row[j - 1] + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = cur;
    }
  }
  return row[b.length];
}

const usageName = (command: Command | undefined) => `queuectl${command ? ` ${command.path.join(' ')}` : ''}`;

interface Values {
  args: string[];
  opts: Input['opts'];
  rest: string[] | null;
  color?: boolean;
}

/** Runs util.parseArgs with the command's options and checks every token against the table. */
function readOptions(argv: readonly string[], options: OptionSpec[], commandWords: Set<number>, command: Command | undefined): Values {
  const config: Record<string, { type: 'string' | 'boolean'; short?: string; multiple?: boolean }> = {};
  for (const o of options) config[o.name] = { type: o.kind === 'boolean' ? 'boolean' : 'string', ...(o.short ? { short: o.short } : {}), ...(o.kind === 'list' ? { multiple: true } : {}) };
  // strict: false so that we make the errors (with the command's name and help); tokens say where each came from.
  const { tokens } = parseArgs({ args: [...argv], options: config, strict: false, allowPositionals: true, tokens: true });
  const out: Values = { args: [], opts: {}, rest: null };
  const seenAt = new Set<number>();
  let afterTerminator = false;
  for (const t of tokens) {
    if (t.kind === 'option-terminator') {
      afterTerminator = true;
      if (command?.rest) out.rest = [];
      continue;
    }
    if (t.kind === 'positional') {
      if (commandWords.has(t.index)) continue;
      if (afterTerminator && out.rest) out.rest.push(t.value);
      else out.args.push(t.value);
      continue;
    }
    // A negative number where an argument goes (`config set backoff-base -1`): an argument. A short
    // group such as -15 comes as several tokens of one index.
    const word = argv[t.index];
    if (NEGATIVE_NUMBER.test(word)) {
      if (!seenAt.has(t.index)) out.args.push(word);
      seenAt.add(t.index);
      continue;
    }
    const spec = options.find((o) => o.name === t.name);
    if (!spec) {
      const where = command ? ` for ${usageName(command)}` : '';
      throw new UsageError(`Unknown option \`${t.rawName}\`${where}; run ${usageName(command)} --help for the options`);
    }
    if (spec.kind === 'boolean') {
      if (t.value !== undefined) throw new UsageError(`--${spec.name} takes no value, got ${JSON.stringify(t.rawName + '=' + t.value)}`);
      if (spec.name === 'color' || spec.name === 'no-color') out.color = spec.name === 'color';
      out.opts[spec.name] = true;
      continue;
    }
    const value = t.value;
    if (value === undefined) throw new UsageError(`--${spec.name} needs a value (${spec.value ?? 'VALUE'})`);
    if (!t.inlineValue && value.startsWith('-') && !NEGATIVE_NUMBER.test(value)) {
      // `--after -- CMD`: the value is missing, and "--" is never one (it ends the options).
      if (value === '--') throw new UsageError(`--${spec.name} needs a value (${spec.value ?? 'VALUE'}) before \`--\``);
      throw new UsageError(`--${spec.name} needs a value (${spec.value ?? 'VALUE'}), got the option ${JSON.stringify(value)}; for a value that starts with "-", write --${spec.name}=${value}`);
    }
    if (spec.kind === 'list') (out.opts[spec.name] = (out.opts[spec.name] as string[] | undefined) ?? []).push(value);
    else out.opts[spec.name] = value;
  }
  return out;
}

/** Checks the number of arguments against the command's. */
function checkArgs(command: Command, args: string[]): void {
  const required = command.args.filter((a) => !a.optional).length;
  const variadic = command.args.some((a) => a.variadic);
  const usage = `${usageName(command)} ${command.args.map(argUsage).join(' ')}`.trim();
  if (args.length < required) {
    const missing = command.args.filter((a) => !a.optional)[args.length];
    throw new UsageError(`Missing ${missing.name}: ${usage}`);
  }
  if (!variadic && args.length > command.args.length) {
    const extra = args.slice(command.args.length);
    throw new UsageError(`Unexpected argument${extra.length > 1 ? 's' : ''} ${extra.map((a) => JSON.stringify(a)).join(' ')}: ${usage}`);
  }
}

export function argUsage(a: { name: string; optional?: boolean; variadic?: boolean }): string {
  const name = `${a.name}${a.variadic ? '...' : ''}`;
  return a.optional ? `[${name}]` : name;
}
