// Shell completion. The scripts for bash, zsh and fish are thin: each asks `queuectl __complete -- WORDS`
// for the candidates, and this module computes them from the command table (spec.ts), so completion
// knows exactly the commands and options the parser accepts. Job ids come from the queue's file names.
//
// Invariants:
//  - Completing never creates or changes anything: the root is read with readdir only (a tab press in a
//    folder without a queue must not make ./.queuectl).
//  - No candidates means "complete file names" in all three scripts.

import { promises as fsp } from 'node:fs';
import { join } from 'node:path';
import { KEY_NAMES } from '../config.js';
import { InputError } from '../errors.js';
import { parseClaimName, parsePendingName } from '../lifecycle.js';
import { type Context, resolveRoot } from './context.js';
import { locateCommand } from './parse.js';
import {
  actionsOf, type ArgCompletion, type Command, COMMANDS, findCommand, findGroup, GLOBAL_OPTIONS, type Input,
  type OptionSpec, SHELLS, topWords,
} from './spec.js';

/** Most job ids offered at once. */
const MAX_IDS = 500;

const BASH = `# queuectl completion for bash. Load it with: source <(queuectl completion bash)
# or save it as ~/.local/share/bash-completion/completions/queuectl
_queuectl() {
  local IFS=$'\\n'
  COMPREPLY=($("\${COMP_WORDS[0]}" __complete -- "\${COMP_WORDS[@]:1:COMP_CWORD}" 2>/dev/null))
}
complete -o default -F _queuectl queuectl
`;

const ZSH = `#compdef queuectl
# queuectl completion for zsh. Save it as _queuectl in a folder of $fpath, or: source <(queuectl completion zsh)
_queuectl() {
  local -a candidates
  candidates=("\${(@f)$("\${words[1]}" __complete -- "\${(@)words[2,CURRENT]}" 2>/dev/null)}")
  if (( \${#candidates} )) && [[ -n \${candidates[1]} ]]; then
    compadd -Q -- "\${candidates[@]}"
  else
    _files
  fi
}
if [[ \${zsh_eval_context[-1]} == loadautofunc ]]; then
  _queuectl "$@"
else
  compdef _queuectl queuectl
fi
`;

const FISH = `# queuectl completion for fish. Save it as ~/.config/fish/completions/queuectl.fish
function __queuectl_complete
    set -l words (commandline -opc) (commandline -ct)
    set -l found ($words[1] __complete -- $words[2..-1] 2>/dev/null)
    if test (count $found) -gt 0
        printf '%s\\n' $found
    else
        __fish_complete_path (commandline -ct)
    end
end
complete -c queuectl -f -a '(__queuectl_complete)'
`;

export const SCRIPTS: Record<(typeof SHELLS)[number], string> = { bash: BASH, zsh: ZSH, fish: FISH };

/** `queuectl completion bash|zsh|fish`. */
export async function completionCommand(ctx: Context, input: Input): Promise<void> {
  const shell = input.args[0] as keyof typeof SCRIPTS;
  if (!(shell in SCRIPTS)) throw new InputError(`Expected a shell: ${SHELLS.join(', ')}; got ${JSON.stringify(input.args[0])}`);
  ctx.write(SCRIPTS[shell]);
}

/** `queuectl __complete -- WORDS...`: one candidate a line. */
export async function completeCommand(ctx: Context, input: Input): Promise<void> {
  for (const c of await candidates(input.rest ?? input.args, ctx)) ctx.out(c);
}

/**
 * Candidates for the last word, given the words before it (bash may split `--state=fa` into
 * `--state`, `=`, `fa`: the value is then completed alone).
 */
export async function candidates(words: string[], ctx: Pick<Context, 'env' | 'cwd'>): Promise<string[]> {
  const cur = words.at(-1) ?? '';
  let before = words.slice(0, -1);
  if (before.includes('--')) return []; // the command of `enqueue -- ...`: file names
  let valueOf: string | null = null;
  let prefix = '';
  if (before.at(-1) === '=' && before.at(-2)?.startsWith('--')) {
    valueOf = before.at(-2)!.slice(2);
    before = before.slice(0, -2);
  } else if (cur === '=') {
    return [];
  } else if (/^--[^=]+=/.test(cur)) {
    valueOf = cur.slice(2, cur.indexOf('='));
    prefix = cur.slice(0, cur.indexOf('=') + 1);
  }
  // The command is found the way the parser finds it; its options decide what the last word can be.
  const { words: named } = locateCommand(before);
  const group = named.length ? findGroup(named[0]) : undefined;
  const command = group ? (named[1] ? findCommand([named[0], named[1]]) : undefined) : named.length ? findCommand([named[0]]) : undefined;
  const options = command ? [...command.options, ...GLOBAL_OPTIONS] : group ? [...actionsOf(group.name).flatMap((a) => a.options), ...GLOBAL_OPTIONS] : GLOBAL_OPTIONS;
  const byName = (name: string) => options.find((o) => o.name === name);

  // After an option that takes a value, only its values (its choices; none: file names).
  const prev = before.at(-1);
  if (valueOf === null && prev?.startsWith('--') && !prev.includes('=')) {
    const o = byName(prev.slice(2));
    if (o && o.kind !== 'boolean') valueOf = o.name;
  }
  if (valueOf !== null) {
    const o = byName(valueOf);
    const typed = prefix ? cur.slice(prefix.length) : cur;
    return (o?.choices ?? []).filter((c) => c.startsWith(typed)).map((c) => prefix + c);
  }
  if (cur.startsWith('-')) return optionWords(options).filter((w) => w.startsWith(cur));

  // Otherwise the next word: a command, an action, or the argument at this position.
  if (named.length === 0) return [...topWords()].filter((w) => w.startsWith(cur));
  if (group && !command) return actionsOf(group.name).map((a) => a.path[1]).filter((w) => w.startsWith(cur));
  if (!command) return [];
  const arg = argAt(command, positionalsAfter(before, named.length));
  if (!arg?.complete) return [];
  return argValues(arg.complete, before, ctx, cur);
}

function optionWords(options: OptionSpec[]): string[] {
  return [...new Set(options.map((o) => `--${o.name}`))];
}

/** How many arguments (not options, not option values, not the command's words) `before` holds. */
function positionalsAfter(before: string[], commandWords: number): number {
  const known = new Map([...GLOBAL_OPTIONS, ...COMMANDS.flatMap((c) => c.options)].map((o) => [o.name, o]));
  let n = 0;
  for (let i = 0; i < before.length; i++) {
    const w = before[i];
    if (w.startsWith('--')) {
      const o = known.get(w.slice(2));
      if (o && o.kind !== 'boolean' && !w.includes('=')) i++;
      continue;
    }
    if (w.startsWith('-') && w !== '-' && !/^-\d/.test(w)) continue;
    n++;
  }
  return n - commandWords;
}

function argAt(command: Command, index: number) {
  if (index < command.args.length) return command.args[index];
  const last = command.args.at(-1);
  return last?.variadic ? last : undefined;
}

async function argValues(kind: ArgCompletion, before: string[], ctx: Pick<Context, 'env' | 'cwd'>, cur: string): Promise<string[]> {
  switch (kind) {
    case 'shells': return SHELLS.filter((s) => s.startsWith(cur));
    case 'config-keys': return KEY_NAMES.filter((k) => k.startsWith(cur));
    case 'commands': return topWords().filter((w) => w.startsWith(cur));
    case 'quarantined': return quarantinedNames(rootOf(before, ctx), cur);
    case 'queues': return queueNames(rootOf(before, ctx), cur);
    case 'schedules': return (await fsp.readdir(join(rootOf(before, ctx), 'schedules')).catch(() => [] as string[]))
      .filter((n) => n.endsWith('.json')).map((n) => n.slice(0, -5)).filter((n) => n.startsWith(cur)).sort();
    default: return jobIds(rootOf(before, ctx), kind, cur);
  }
}

/** The root the command line names (--root DIR, --root=DIR), else $QUEUECTL_ROOT, else ./.queuectl. */
function rootOf(before: string[], ctx: Pick<Context, 'env' | 'cwd'>): string {
  let flag: string | undefined;
  for (let i = 0; i < before.length; i++) {
    if (before[i] === '--root' && i + 1 < before.length) flag = before[++i];
    else if (before[i].startsWith('--root=')) flag = before[i].slice('--root='.length);
  }
  try {
    return resolveRoot(flag, ctx.env, ctx.cwd);
  } catch {
    return resolveRoot(undefined, {}, ctx.cwd);
  }
}

/** Ids from file names only: pending/ and processing/ (active), dead/, and the newest completed/ hours. */
export async function jobIds(root: string, kind: 'ids' | 'active-ids' | 'dead-ids', prefix = ''): Promise<string[]> {
  const names = (dir: string) => fsp.readdir(join(root, dir)).catch(() => [] as string[]);
  const ids = new Set<string>();
  const add = (id: string | null | undefined) => {
    if (id && id.startsWith(prefix) && ids.size < MAX_IDS) ids.add(id);
  };
  const jsonIds = (list: string[]) => list.filter((n) => n.endsWith('.json') && !n.startsWith('.')).map((n) => n.slice(0, -5));
  if (kind !== 'dead-ids') {
    for (const n of await names('pending')) add(parsePendingName(n)?.id);
    for (const n of await names('processing')) add(parseClaimName(n)?.id);
  }
  if (kind !== 'active-ids') for (const id of jsonIds(await names('dead'))) add(id);
  if (kind === 'ids') {
    const shards = (await names('completed')).filter((n) => /^\d{10}$/.test(n)).sort().reverse();
    for (const shard of shards) {
      if (ids.size >= MAX_IDS) break;
      for (const id of jsonIds(await names(join('completed', shard))).sort().reverse()) add(id);
    }
  }
  return [...ids];
}

/** Names in quarantine/ (not the .reason files beside them). */
/** Queues named by pending/ jobs or by settings in queues/ (file names only; never creates the root). */
async function queueNames(root: string, prefix: string): Promise<string[]> {
  const found = new Set<string>(['default']);
  for (const n of await fsp.readdir(join(root, 'pending')).catch(() => [] as string[])) {
    const q = parsePendingName(n)?.queue;
    if (q) found.add(q);
  }
  for (const n of await fsp.readdir(join(root, 'queues')).catch(() => [] as string[])) {
    const m = /^([a-z0-9_-]+)\.(paused|limit|running)$/.exec(n);
    if (m) found.add(m[1]);
  }
  return [...found].filter((q) => q.startsWith(prefix)).sort().slice(0, MAX_IDS);
}

async function quarantinedNames(root: string, prefix: string): Promise<string[]> {
  const names = await fsp.readdir(join(root, 'quarantine')).catch(() => [] as string[]);
  return names.filter((n) => !n.startsWith('.') && !n.endsWith('.reason') && n.startsWith(prefix)).slice(0, MAX_IDS);
}
