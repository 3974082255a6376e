// The program, in cac: every command of the table (spec.ts) is a cac command with its options, and cac
// matches the command line to one and runs it. cac's own option reader (mri) would turn "007" into 7 and
// "1.50" into 1.5 and cannot take `--priority -5` as a value, so this program's reader is the table's
// (parse.ts, on util.parseArgs): argv is read once, and values reach the commands exactly as typed.

import { type CAC, cac } from 'cac';
import { parseCommandLine, type Parsed } from './parse.js';
import { COMMANDS, findGroup, GLOBAL_OPTIONS, type OptionSpec } from './spec.js';

/** How an option is declared to cac: `--root <dir>`, `--json`, `-f, --follow`. */
function flagsOf(o: OptionSpec): string {
  const long = `--${o.name}${o.kind === 'boolean' ? '' : ` <${(o.value ?? 'value').toLowerCase()}>`}`;
  return o.short ? `-${o.short}, ${long}` : long;
}

export interface Program {
  cli: CAC;
  /** What the command line asks for: a command to run (then cli.runMatchedCommand() runs it), help or the version. */
  parsed: Parsed;
}

/**
 * Builds the program for one command line. `run` is what a matched command does with the parsed line
 * (cac hands it over through its action). Throws UsageError (exit 2) for a line that fits no command.
 */
export function makeProgram(argv: readonly string[], run: (parsed: Extract<Parsed, { kind: 'run' }>) => Promise<number | void>): Program {
  const parsed = parseCommandLine(argv);
  const cli = cac('queuectl');
  for (const o of GLOBAL_OPTIONS) if (o.name !== 'no-color') cli.option(flagsOf(o), o.help);
  const tops = [...new Set(COMMANDS.map((c) => c.path[0]))];
  for (const top of tops) {
    const members = COMMANDS.filter((c) => c.path[0] === top);
    const summary = findGroup(top)?.summary ?? members[0].summary;
    // One cac command per first word; a group's action (`worker start`) is its first argument.
    const command = cli.command(`${top} [...words]`, summary).allowUnknownOptions();
    const seen = new Set<string>();
    for (const o of members.flatMap((c) => c.options)) {
      if (seen.has(o.name)) continue;
      seen.add(o.name);
      command.option(flagsOf(o), o.help);
    }
    command.action(() => (parsed.kind === 'run' ? run(parsed) : undefined));
  }
  // The table's reader in place of mri: cac asks once per command it tries; the line was read above.
  const words = parsed.kind === 'run' ? [...parsed.command.path, ...parsed.input.args] : [];
  const options = parsed.kind === 'run' ? { ...parsed.input.opts, '--': parsed.input.rest ?? [] } : { '--': [] };
  (cli as unknown as { mri: () => { args: string[]; options: Record<string, unknown> } }).mri = () => ({ args: [...words], options: { ...options } });
  return { cli, parsed };
}
