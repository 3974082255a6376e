// --help and `help CMD`: rendered from the command table (spec.ts), so the help lists exactly what the
// parser accepts. Columns are measured in terminal cells.

import type { Context } from './context.js';
import { cells, pad, pc } from './format.js';
import { argUsage, UsageError } from './parse.js';
import {
  actionsOf, type Command, COMMANDS, ENVIRONMENT, EXIT_STATUSES, findCommand, findGroup, GLOBAL_OPTIONS,
  type Group, type Input, type OptionSpec,
} from './spec.js';

/** "  name   text" rows, the names padded to one column. */
function rows(pairs: [string, string][], indent = '  '): string[] {
  const width = Math.max(...pairs.map(([k]) => cells(k)));
  return pairs.map(([k, v]) => `${indent}${pad(k, width)}  ${v}`.trimEnd());
}

/** `-f, --follow` or `    --state STATE`: long names line up whether or not there is a short one. */
function optionName(o: OptionSpec): string {
  const long = `--${o.name}${o.kind === 'boolean' ? '' : ` ${o.value ?? 'VALUE'}`}`;
  return o.short ? `-${o.short}, ${long}` : `    ${long}`;
}

function optionRows(options: OptionSpec[]): string[] {
  return rows(options.map((o) => [optionName(o), o.help]));
}

/** `queuectl worker start [options]`, `queuectl show ID [options]`. */
export function usageLine(c: Command): string {
  const args = c.args.map(argUsage).join(' ');
  const rest = c.restUsage ? ` [${c.restUsage}]` : '';
  return `queuectl ${c.path.join(' ')}${args ? ` ${args}` : ''}${c.options.length ? ' [options]' : ''}${rest}`;
}

const section = (title: string) => pc.bold(`${title}:`);

function commandHelp(c: Command): string[] {
  const out = [`${pc.bold('Usage:')} ${usageLine(c)}`, '', c.summary];
  if (c.description) out.push('', ...c.description.split('\n'));
  if (c.options.length) out.push('', section('Options'), ...optionRows(c.options));
  out.push('', section('Global options'), ...optionRows(GLOBAL_OPTIONS));
  if (c.examples.length) out.push('', section('Examples'), ...c.examples.map((e) => `  ${e}`));
  return out;
}

/** A group's help names every action with its own options: `worker --help` must show start and stop. */
function groupHelp(g: Group): string[] {
  const actions = actionsOf(g.name);
  const out = [`${pc.bold('Usage:')} queuectl ${g.name} <${actions.map((a) => a.path[1]).join('|')}> [options]`, '', g.summary];
  if (g.description) out.push('', g.description);
  out.push('', section('Actions'), ...rows(actions.map((a) => [a.path[1], a.summary])));
  for (const a of actions) {
    out.push('', `${pc.bold(usageLine(a))}`);
    if (a.options.length) out.push(...optionRows(a.options));
  }
  out.push('', section('Global options'), ...optionRows(GLOBAL_OPTIONS));
  out.push('', section('Examples'), ...actions.flatMap((a) => a.examples.slice(0, 1)).map((e) => `  ${e}`));
  out.push('', `Run \`queuectl ${g.name} <action> --help\` for an action's details.`);
  return out;
}

/** Everything on one screen: commands (a group as `worker start|stop`), global options, exit statuses, environment. */
function topHelp(version: string): string[] {
  const seen = new Set<string>();
  const commandRows: [string, string][] = [];
  for (const c of COMMANDS) {
    if (c.hidden) continue;
    const group = c.path.length > 1 ? findGroup(c.path[0]) : undefined;
    if (group) {
      if (seen.has(group.name)) continue;
      seen.add(group.name);
      commandRows.push([`${group.name} ${actionsOf(group.name).map((a) => a.path[1]).join('|')}`, group.summary]);
    } else {
      commandRows.push([[c.path[0], ...c.args.map(argUsage)].join(' '), c.summary]);
    }
  }
  return [
    `queuectl ${version}: a durable background job queue for shell commands, stored as plain files`,
    '',
    `${pc.bold('Usage:')} queuectl <command> [arguments] [options]`,
    '',
    section('Commands'),
    ...rows(commandRows),
    '',
    section('Global options'),
    ...optionRows(GLOBAL_OPTIONS),
    '',
    'Options go before, between or after the arguments; `--opt value` and `--opt=value` are the same.',
    '',
    section('Exit status'),
    ...rows(EXIT_STATUSES),
    '',
    section('Environment'),
    ...rows(ENVIRONMENT),
    '',
    'Run `queuectl help <command>` or `queuectl <command> --help` for its options and examples.',
  ];
}

/** The help of a command, a group, or everything (null). */
export function helpLines(target: Command | Group | null, ctx: Pick<Context, 'version'>): string[] {
  if (target === null) return topHelp(ctx.version);
  return 'path' in target ? commandHelp(target) : groupHelp(target);
}

/** `queuectl help [COMMAND [ACTION]]`. */
export async function helpCommand(ctx: Context, input: Input): Promise<void> {
  const [word, action] = input.args;
  let target: Command | Group | null = null;
  if (word !== undefined) {
    const group = findGroup(word);
    target = (group && action ? findCommand([word, action]) : group) ?? findCommand([word]) ?? null;
    if (!target || ('path' in target && target.hidden) || (action && !group)) {
      throw new UsageError(`No help for "${input.args.join(' ')}": no such command; run queuectl help for the list`);
    }
  }
  for (const line of helpLines(target, ctx)) ctx.out(line);
}
