#!/usr/bin/env node
// The queuectl command line: cac parses, one module per command does the work through the core.
// The only file that reads process.argv/env and calls process.exit. Exit status: 0 done, 2 bad usage
// or input, 1 anything else. Heavy modules (execa, chokidar, express) load only in the commands that use them.

import { cac } from 'cac';
import pc from 'picocolors';
import { exitCodeFor } from '../errors.js';
import { makeContext } from './context.js';

const VERSION = '0.1.0';

// A batch enqueue keeps 64 file operations in flight; libuv's default of 4 threads serialises them.
// Must be set before the first asynchronous fs call starts the thread pool.
process.env.UV_THREADPOOL_SIZE ??= '16';

/**
 * Flags that take a number a person may type negative: mri would read `--priority -5` as two flags
 * (and `--max-retries -1` as the unknown option `-1`), so the value never reaches its validation.
 */
const SIGNED_VALUE_FLAGS = new Set(['--priority', '--max-retries', '--delay', '--timeout', '--limit']);

/** Joins `--priority -5` into `--priority=-5` before cac sees it. */
function joinNegativeValues(argv: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--') return out.concat(argv.slice(i));
    if (SIGNED_VALUE_FLAGS.has(argv[i]) && /^-\d/.test(argv[i + 1] ?? '')) out.push(`${argv[i]}=${argv[++i]}`);
    else out.push(argv[i]);
  }
  return out;
}

async function main(rawArgv: string[]): Promise<number> {
  const argv = joinNegativeValues(rawArgv);
  const ctx = makeContext(argv, process.env, process.cwd(), process.stdin);
  const cli = cac('queuectl');
  cli.option('--root <dir>', 'Queue root folder (default: $QUEUECTL_ROOT, else ./.queuectl)');

  cli
    .command('enqueue [json]', 'Add jobs: a JSON object, `-` for stdin (object, array or NDJSON), --file, or -- COMMAND')
    .option('--file <path>', 'Read jobs from a file (object, array or NDJSON)')
    .option('--id <id>', 'Job id (flag form; default: generated, time-sortable)')
    .option('--priority <n>', 'Lower runs first, -999..999 (default 0)')
    .option('--delay <duration>', 'Run no earlier than this from now: 30s, 5m, 1h')
    .option('--run-at <iso>', 'Run no earlier than this time (ISO-8601)')
    .option('--timeout <duration>', 'Kill the command after this long')
    .option('--max-retries <n>', 'Retries after the first run (default: config max-retries)')
    .option('--cwd <dir>', 'Working directory (default: the current one)')
    .option('--env <NAME=VALUE>', 'Environment variable for the command (repeatable)')
    .option('--json', 'Print the ids as a JSON array')
    .example(`queuectl enqueue '{"id":"job1","command":"sleep 2"}'`)
    .example('queuectl enqueue --priority -5 --delay 30s --timeout 10m -- ./backup.sh /srv')
    .example('seq 3 | sed \'s/.*/{"command":"echo &"}/\' | queuectl enqueue -')
    .action(async (json: string | undefined, flags) => {
      const { enqueueCommand } = await import('./commands/enqueue.js');
      // mri drops a lone "-" (stdin); look for it in argv before any "--".
      const end = argv.indexOf('--');
      const dash = argv.slice(0, end === -1 ? argv.length : end).includes('-');
      return enqueueCommand(ctx, json !== undefined ? [String(json)] : dash ? ['-'] : [], flags);
    });

  cli
    .command('status', 'Counts by state and the workers')
    .option('--json', 'Machine-readable: {"counts": {...}, "workers": [...]}')
    .example('queuectl status --json')
    .action(async (flags) => (await import('./commands/status.js')).statusCommand(ctx, flags));

  cli
    .command('list', 'List jobs')
    .option('--state <state>', 'pending, scheduled, failed, processing, completed, dead or all (default)')
    .option('--limit <n>', 'At most this many jobs (default 50)')
    .option('--json', 'Print an array of job objects')
    .example('queuectl list --state failed')
    .action(async (flags) => (await import('./commands/list.js')).listCommand(ctx, flags));

  cli
    .command('show <id>', 'Show one job in full: fields, attempts, output tail')
    .option('--json', 'Print the job object')
    .option('--env', 'Show env values (hidden by default)')
    .example('queuectl show job1')
    .action(async (id: string, flags) => (await import('./commands/list.js')).showCommand(ctx, String(id), flags));

  cli
    .command('config [action] [...args]', 'Configuration: config list | get KEY | set KEY VALUE | unset KEY')
    .option('--json', 'Machine-readable output')
    .example('queuectl config set max-retries 5')
    .example('queuectl config get backoff_base')
    .action(async (action: string | undefined, args: string[], flags) =>
      (await import('./commands/config.js')).configCommand(ctx, action, args, flags));

  cli
    .command('worker <action>', 'Run workers: worker start [--count N] [--detach] [--poll] | worker stop [--force]')
    .option('--count <n>', 'start: number of workers in this process (default 1)')
    .option('--detach', 'start: run in the background, output appended to <root>/logs/workers.log')
    .option('--poll', 'start: find new jobs by rescanning every poll-interval (shared filesystems)')
    .option('--quiet', 'start: print only errors')
    .option('--force', 'stop: kill running jobs now (they go back to pending without using an attempt)')
    .option('--timeout <duration>', 'stop: give up waiting after this long (exit 1)')
    .example('queuectl worker start --count 4')
    .example('queuectl worker stop')
    .action(async (action: string, flags) =>
      (await import('./commands/worker.js')).workerCommand(ctx, String(action), flags, { on: (sig, fn) => process.on(sig, fn) }));

  cli
    .command('dlq <action> [...ids]', 'Dead letter queue: dlq list | dlq retry ID... | --all | dlq purge [--older-than 7d]')
    .option('--all', 'retry: every dead job')
    .option('--older-than <duration>', 'purge: only jobs dead for longer than this')
    .option('--limit <n>', 'list: at most this many (default 100)')
    .option('--json', 'Machine-readable output')
    .example('queuectl dlq retry job1')
    .example('queuectl dlq purge --older-than 7d')
    .action(async (action: string, ids: string[], flags) => (await import('./commands/jobs.js')).dlqCommand(ctx, String(action), ids.map(String), flags));

  cli
    .command('cancel <...ids>', 'Cancel jobs: a pending one goes to dead/ as cancelled; a running one is killed first')
    .example('queuectl cancel job1')
    .action(async (ids: string[]) => (await import('./commands/jobs.js')).cancelCommand(ctx, ids.map(String)));

  cli
    .command('wait [...ids]', 'Wait until jobs are completed or dead; exit 0 if all completed, 1 if any is dead')
    .option('--all', 'Every job in the queue (until pending/ and processing/ are empty)')
    .option('--timeout <duration>', 'Give up after this long (exit 1)')
    .option('--json', 'Print {"completed": [...], "dead": [...], "timedOut": false}')
    .example('queuectl wait job1 job2 --timeout 5m')
    .example('queuectl wait --all')
    .action(async (ids: string[], flags) => (await import('./commands/jobs.js')).waitCommand(ctx, ids.map(String), flags));

  cli
    .command('logs <id>', "Print a job's output log (latest run by default)")
    .option('--attempt <n>', 'Which run, from 1')
    .option('--follow, -f', 'Keep printing while the run goes on')
    .example('queuectl logs job1 --follow')
    .action(async (id: string, flags) => (await import('./commands/jobs.js')).logsCommand(ctx, String(id), flags));

  cli
    .command('quarantine [action] [...names]', 'Files that were not valid jobs: quarantine list | quarantine release NAME... | --all')
    .option('--all', 'release: every quarantined file')
    .option('--json', 'list: machine-readable output')
    .example('queuectl quarantine list')
    .example('queuectl quarantine release job.json.1764614400000')
    .action(async (action: string | undefined, names: string[], flags) =>
      (await import('./commands/quarantine.js')).quarantineCommand(ctx, action === undefined ? undefined : String(action), names.map(String), flags));

  cli
    .command('purge', 'Remove finished jobs: purge --state completed|dead [--older-than DUR]')
    .option('--state <state>', 'completed (default) or dead')
    .option('--older-than <duration>', 'Only jobs finished longer ago than this (default: all)')
    .example('queuectl purge --state completed --older-than 1d')
    .action(async (flags) => (await import('./commands/jobs.js')).purgeCommand(ctx, flags));

  cli
    .command('dashboard', 'Serve the status page: counts, charts, workers, jobs, dead letter queue, JSON API, /metrics')
    .option('--port <port>', 'Port to listen on (default 5000; 0 picks a free one)')
    .option('--host <host>', 'Address to listen on (default 127.0.0.1; any other needs --token)')
    .option('--token <token>', 'Require this secret on every request (default: $QUEUECTL_DASHBOARD_TOKEN, else a random one, printed in the URL)')
    .example('queuectl dashboard')
    .example('queuectl dashboard --host 0.0.0.0 --token "$(openssl rand -hex 16)"')
    .action(async (flags) =>
      (await import('./commands/dashboard.js')).dashboardCommand(ctx, flags, { on: (sig, fn) => process.on(sig, fn) }));

  cli
    .command('metrics', 'Print the Prometheus metrics (as GET /metrics), without a web server: for node_exporter\'s textfile collector')
    .example('queuectl metrics > /var/lib/prometheus/node-exporter/queuectl.prom.$$ && mv /var/lib/prometheus/node-exporter/queuectl.prom.$$ /var/lib/prometheus/node-exporter/queuectl.prom')
    .action(async () => (await import('./commands/metrics.js')).metricsCommand(ctx));

  cli.help();
  cli.version(VERSION);
  cli.parse(['node', 'queuectl', ...argv], { run: false });
  if (!cli.matchedCommand) {
    if (cli.options.help || cli.options.version) return 0;
    if (cli.args[0] !== undefined) throw new UsageError(`Unknown command "${cli.args[0]}"; run queuectl --help for the list`);
    cli.outputHelp();
    return 2;
  }
  const code: unknown = await cli.runMatchedCommand();
  return typeof code === 'number' ? code : 0;
}

class UsageError extends Error {
  override name = 'CACError';
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    const message = error instanceof Error ? error.message : String(error);
    process.stderr.write(`${pc.red('error:')} ${message}\n`);
    if (process.env.QUEUECTL_DEBUG && error instanceof Error) process.stderr.write(`${error.stack}\n`);
    process.exitCode = exitCodeFor(error);
  },
);
