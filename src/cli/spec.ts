// Every command, its arguments and options, as data: the parser (parse.ts), the help (help.ts) and the
// shell completion (completion.ts) all read this one table, so they cannot disagree.
//
// Invariants:
//  - An option name has the same kind (boolean, string, list) in every command, except `--env`
//    (enqueue: NAME=VALUE; show: a switch). parse.ts finds the command before it reads the other options.
//  - Command modules load only when their command runs (execa, chokidar, express stay out of `status`).

import type { Context } from './context.js';

export type OptionKind = 'boolean' | 'string' | 'list';

export interface OptionSpec {
  /** Long name without the dashes: `root`. */
  name: string;
  short?: string;
  kind: OptionKind;
  /** Placeholder of the value in help: DIR, N, DURATION. */
  value?: string;
  help: string;
  /** The values it takes, for completion. */
  choices?: readonly string[];
  /** Its value is a path: completion offers files. */
  path?: boolean;
}

/** What completion offers for an argument. */
export type ArgCompletion = 'ids' | 'active-ids' | 'dead-ids' | 'quarantined' | 'queues' | 'schedules' | 'config-keys' | 'shells' | 'commands';

export interface ArgSpec {
  name: string;
  optional?: boolean;
  variadic?: boolean;
  complete?: ArgCompletion;
}

/** What a command receives: values exactly as typed (strings), never re-read from argv. */
export interface Input {
  args: string[];
  opts: Record<string, string | boolean | string[] | undefined>;
  /** The words after `--` for a command that takes them (enqueue); null when `--` was not given. */
  rest: string[] | null;
}

export interface Command {
  /** ['worker', 'start']: the words that name it. */
  path: string[];
  summary: string;
  /** Paragraphs for `--help`, after the summary. */
  description?: string;
  args: ArgSpec[];
  options: OptionSpec[];
  examples: string[];
  /** Prints and changes nothing: when stdout closes (`| head`) it stops at once, exit 0. */
  readOnly?: boolean;
  /** Takes the words after `--` as `rest` (instead of as more arguments). */
  rest?: boolean;
  /** How `rest` shows in the usage line: `-- COMMAND ARGS...`. */
  restUsage?: string;
  /** Left out of help and completion. */
  hidden?: boolean;
  run(ctx: Context, input: Input): Promise<number | void>;
}

/** A word that groups actions: `worker start`, `worker stop`. */
export interface Group {
  name: string;
  summary: string;
  description?: string;
  /** The action run when none is given (`queuectl config` is `config list`). */
  defaultAction?: string;
}

export const opt = {
  json: (help = 'Print JSON instead of text'): OptionSpec => ({ name: 'json', kind: 'boolean', help }),
  timeout: (help: string): OptionSpec => ({ name: 'timeout', kind: 'string', value: 'DURATION', help }),
};

/** Options every command takes, before or after its arguments. */
export const GLOBAL_OPTIONS: OptionSpec[] = [
  { name: 'root', kind: 'string', value: 'DIR', path: true, help: 'Queue root folder (default: $QUEUECTL_ROOT, else ./.queuectl); created on first use' },
  { name: 'color', kind: 'boolean', help: 'Colour the output even when it is not a terminal' },
  { name: 'no-color', kind: 'boolean', help: 'Never colour the output (also: NO_COLOR=1, FORCE_COLOR=0)' },
  { name: 'help', short: 'h', kind: 'boolean', help: 'Show help for the command' },
  { name: 'version', short: 'v', kind: 'boolean', help: 'Print the version' },
];

export const LIST_STATE_NAMES = ['pending', 'scheduled', 'failed', 'waiting', 'processing', 'completed', 'dead', 'all'] as const;
export const SHELLS = ['bash', 'zsh', 'fish'] as const;

export const GROUPS: Group[] = [
  { name: 'worker', summary: 'Run workers, or stop the running ones', description: 'A worker claims jobs from the queue and runs them, one at a time each; `worker start` runs N of them, in one process per core at most (--processes).' },
  { name: 'dlq', defaultAction: 'list', summary: 'The dead letter queue: list, retry, purge', description: 'Jobs that used all their retries (or were cancelled) wait in dead/ until you retry or purge them.' },
  { name: 'quarantine', defaultAction: 'list', summary: 'Files that were not valid jobs: list, release', description: 'A file in pending/ that is not a valid job is moved to quarantine/ with the reason beside it. Fix it there, then release it: it goes back to pending/ and a worker checks it again.' },
  { name: 'queue', defaultAction: 'list', summary: 'Named queues: list, limit, pause, resume', description: 'A job belongs to one queue (enqueue --queue NAME; "default" without it). A queue can be paused (it starts nothing new; what runs finishes) and limited (at most N of its jobs run at once in the whole root, across every worker process and host). Between queues a worker takes turns, so a backlog in one never starves another.' },
  { name: 'schedule', defaultAction: 'list', summary: 'Recurring schedules: add, list, remove, pause, resume', description: 'A schedule enqueues a job at every slot of its cron expression (5 fields, or 6 with seconds first), in its time zone. Each slot is enqueued once, however many workers run (its job id is <name>-<slot time>); slots missed while no worker ran get at most one catch-up run.' },
  { name: 'config', defaultAction: 'list', summary: 'Settings stored in the root: list, get, set, unset', description: 'Settings live in <root>/config.json. Keys may be written with - or _. Durations take ms, s, m, h, d (a bare number is seconds); sizes take KB, MB, GB.' },
];

const load = {
  enqueue: () => import('./commands/enqueue.js'),
  list: () => import('./commands/list.js'),
  status: () => import('./commands/status.js'),
  jobs: () => import('./commands/jobs.js'),
  wait: () => import('./commands/wait.js'),
  worker: () => import('./commands/worker.js'),
  config: () => import('./commands/config.js'),
  dashboard: () => import('./commands/dashboard.js'),
  metrics: () => import('./commands/metrics.js'),
  quarantine: () => import('./commands/quarantine.js'),
  queue: () => import('./commands/queue.js'),
  schedule: () => import('./commands/schedule.js'),
  validate: () => import('./commands/validate.js'),
  doctor: () => import('./commands/doctor.js'),
  completion: () => import('./completion.js'),
  help: () => import('./help.js'),
};

export const COMMANDS: Command[] = [
  {
    path: ['enqueue'],
    summary: 'Add jobs: a JSON job, `-` (stdin), --file PATH, or -- COMMAND ARGS...',
    description: [
      'JSON is one object, an array, or NDJSON (one job a line); a batch is all or nothing. In the flag form',
      'the words after `--` are the command: one word is used as is (a shell command), several are shell-quoted',
      'and joined. "Enqueued <id>" is printed once the job is on disk (fsynced).',
      '',
      '--run-at takes an ISO-8601 time. Without an offset (Z, +02:00) it is local time, and a date alone',
      '(2026-03-01) is local midnight.',
    ].join('\n'),
    args: [{ name: 'JSON|-', optional: true }],
    rest: true,
    restUsage: '-- COMMAND ARGS...',
    options: [
      { name: 'file', kind: 'string', value: 'PATH', path: true, help: 'Read jobs from a file (object, array or NDJSON)' },
      { name: 'id', kind: 'string', value: 'ID', help: 'Job id (default: generated, time-sortable); unique across all states' },
      { name: 'priority', kind: 'string', value: 'N', help: '-999..999, lower runs first (default 0)' },
      { name: 'delay', kind: 'string', value: 'DURATION', help: 'Run no earlier than this from now: 30s, 5m, 1h' },
      { name: 'run-at', kind: 'string', value: 'TIME', help: 'Run no earlier than this ISO-8601 time; local time without an offset' },
      opt.timeout('Kill the command after this long (default: config timeout)'),
      { name: 'max-retries', kind: 'string', value: 'N', help: 'Retries after the first run, 0..100 (default: config max-retries)' },
      { name: 'cwd', kind: 'string', value: 'DIR', path: true, help: 'Working directory; a relative one is resolved here (default: here)' },
      { name: 'env', kind: 'list', value: 'NAME=VALUE', help: 'Environment variable for the command (repeatable)' },
      { name: 'queue', kind: 'string', value: 'NAME', help: 'The named queue of the job: 1-64 of a-z 0-9 _ - (default: default)' },
      { name: 'after', kind: 'list', value: 'ID', help: 'Run only once job ID has completed (repeatable); the job waits meanwhile' },
      { name: 'if-absent', kind: 'boolean', help: 'A job whose id is already used is not an error: say "Exists ID", exit 0' },
      opt.json('Print the ids as a JSON array'),
    ],
    examples: [
      `queuectl enqueue '{"id":"job1","command":"sleep 2"}'`,
      'queuectl enqueue --queue backups --after dump-db -- ./backup.sh',
      'queuectl enqueue --id "nightly-$(date +%F)" --if-absent -- ./nightly.sh',
      'queuectl enqueue --priority -5 --delay 30s --timeout 10m -- ./backup.sh /srv',
      `seq 3 | sed 's/.*/{"command":"echo &"}/' | queuectl enqueue -`,
    ],
    run: async (ctx, input) => (await load.enqueue()).enqueueCommand(ctx, input),
  },
  {
    path: ['status'],
    summary: 'Counts by state and the workers',
    args: [],
    options: [opt.json('Print {"root", "counts": {...}, "workers": [...]}; times are ISO-8601')],
    examples: ['queuectl status', 'queuectl status --json'],
    readOnly: true,
    run: async (ctx, input) => (await load.status()).statusCommand(ctx, input),
  },
  {
    path: ['list'],
    summary: 'Jobs in a table: id, state, runs, priority, when, command',
    description: 'Waiting jobs come in the order they will run, finished ones newest first. When the list stops at its limit it says so on stderr.',
    args: [],
    options: [
      { name: 'state', kind: 'string', value: 'STATE', choices: LIST_STATE_NAMES, help: `${LIST_STATE_NAMES.join(', ')} (default all)` },
      { name: 'limit', kind: 'string', value: 'N', help: 'At most this many jobs; 0 for all (default 50)' },
      opt.json('Print an array of jobs; `state` is the state shown above'),
    ],
    examples: ['queuectl list --state failed', 'queuectl list --limit 0 --json'],
    readOnly: true,
    run: async (ctx, input) => (await load.list()).listCommand(ctx, input),
  },
  {
    path: ['show'],
    summary: 'One job in full: fields, every attempt, output tail',
    args: [{ name: 'ID', complete: 'ids' }],
    options: [opt.json('Print the job as JSON'), { name: 'env', kind: 'boolean', help: 'Show env values (hidden by default)' }],
    examples: ['queuectl show job1', 'queuectl show job1 --json --env'],
    readOnly: true,
    run: async (ctx, input) => (await load.list()).showCommand(ctx, input),
  },
  {
    path: ['logs'],
    summary: "A run's output log (the latest run by default)",
    description: 'stdout and stderr are one stream, in the order the command wrote them. The log ends with the outcome, e.g. [exited with status 2].',
    args: [{ name: 'ID', complete: 'ids' }],
    options: [
      { name: 'attempt', kind: 'string', value: 'N', help: 'Which run, from 1' },
      { name: 'follow', short: 'f', kind: 'boolean', help: 'Keep printing while the run goes on' },
    ],
    examples: ['queuectl logs job1 --follow', 'queuectl logs job1 --attempt 1'],
    readOnly: true,
    run: async (ctx, input) => (await load.jobs()).logsCommand(ctx, input),
  },
  {
    path: ['cancel'],
    summary: 'Cancel jobs: a waiting one goes to dead/ as cancelled; a running one is killed first',
    args: [{ name: 'ID', variadic: true, complete: 'active-ids' }],
    options: [],
    examples: ['queuectl cancel job1 job2'],
    run: async (ctx, input) => (await load.jobs()).cancelCommand(ctx, input),
  },
  {
    path: ['wait'],
    summary: 'Wait until jobs are completed or dead (exit 1 if one is dead, 124 on --timeout)',
    description: [
      'wait ID... waits for those jobs (each must exist), however long they are scheduled or retried for.',
      'wait --all waits until nothing is pending, scheduled, failed (waiting for a retry) or processing: jobs',
      'enqueued meanwhile count too. Its exit status is 1 if the dead letter queue holds any job when it',
      'returns, including jobs that were dead before it started (retry or purge those first).',
      'On a terminal it shows on stderr how many jobs are left and how many run.',
    ].join('\n'),
    args: [{ name: 'ID', variadic: true, optional: true, complete: 'active-ids' }],
    options: [
      { name: 'all', kind: 'boolean', help: 'Every job in the queue (see above)' },
      opt.timeout('Give up after this long: exit 124 (default: wait forever)'),
      opt.json('Print {"completed": [...], "dead": [...], "timedOut": false, "waiting": [...]}'),
    ],
    examples: ['queuectl wait job1 job2 --timeout 5m', 'queuectl wait --all'],
    run: async (ctx, input) => (await load.wait()).waitCommand(ctx, input),
  },
  {
    path: ['purge'],
    summary: 'Delete finished jobs now: purge --state completed|dead [--older-than DURATION]',
    args: [],
    options: [
      { name: 'state', kind: 'string', value: 'STATE', choices: ['completed', 'dead'], help: 'completed or dead (required)' },
      { name: 'older-than', kind: 'string', value: 'DURATION', help: 'Only jobs finished longer ago than this (default: all of them)' },
    ],
    examples: ['queuectl purge --state completed --older-than 1d', 'queuectl purge --state dead'],
    run: async (ctx, input) => (await load.jobs()).purgeCommand(ctx, input),
  },
  {
    path: ['worker', 'start'],
    summary: 'Run N workers, printing one line per event',
    description: [
      'Ctrl+C (or SIGTERM, SIGHUP): claim nothing new, finish the running jobs, exit 0. A second Ctrl+C (or',
      'SIGUSR2): kill the running jobs; they go back to pending without using an attempt.',
      'Each job sees the environment this command was started with, its own env, and QUEUECTL_JOB_ID,',
      'QUEUECTL_ATTEMPT, QUEUECTL_ROOT.',
      'The N workers run as P processes (--processes; one per core by default): this one and P-1 helpers',
      'it starts and stops with it; a helper that dies stops the rest and the exit status is 1.',
      '--detach runs the workers in the background, writing to <root>/logs/workers.log (rotated at',
      '--log-max, keeping 3 old files; SIGUSR1 reopens it, for logrotate).',
    ].join('\n'),
    args: [],
    options: [
      { name: 'count', kind: 'string', value: 'N', help: 'Number of workers, 1..256 (default 1)' },
      { name: 'processes', kind: 'string', value: 'P', help: 'Run them as P processes, 1..N (default: N or the number of cores, the smaller)' },
      { name: 'detach', kind: 'boolean', help: 'Run in the background; output appended to <root>/logs/workers.log' },
      { name: 'poll', kind: 'boolean', help: 'Find new jobs by rescanning every poll-interval (shared filesystems)' },
      { name: 'quiet', kind: 'boolean', help: 'Print only errors and the ready line' },
      opt.json('Print each event as one JSON object a line (NDJSON), for log shippers'),
      { name: 'log', kind: 'string', value: 'FILE', path: true, help: 'Append the event lines to FILE instead of stdout (--detach sets it)' },
      { name: 'log-max', kind: 'string', value: 'SIZE', help: 'Rotate --log at this size: FILE.1 .. FILE.3 are kept; 0: never (default 10MB)' },
      { name: 'queue', kind: 'list', value: 'NAME', help: 'Take jobs of this queue only (repeatable; default: every queue)' },
    ],
    examples: ['queuectl worker start --count 4', 'queuectl worker start --queue backups --queue reports', 'queuectl worker start --detach --count 2', 'queuectl worker start --json | your-log-shipper'],
    run: async (ctx, input) => (await load.worker()).startCommand(ctx, input),
  },
  {
    path: ['worker', 'stop'],
    summary: 'Stop every live worker of the root, whoever started it; return when they have exited',
    description: 'They finish their current job first. --force kills running jobs, which go back to pending without using an attempt.',
    args: [],
    options: [
      { name: 'force', kind: 'boolean', help: 'Kill running jobs now (back to pending, no attempt used)' },
      opt.timeout('Give up waiting after this long: exit 124 (default: wait until they have exited)'),
    ],
    examples: ['queuectl worker stop', 'queuectl worker stop --force --timeout 30s'],
    run: async (ctx, input) => (await load.worker()).stopCommand(ctx, input),
  },
  {
    path: ['dlq', 'list'],
    summary: 'The dead letter queue, newest first',
    args: [],
    options: [{ name: 'limit', kind: 'string', value: 'N', help: 'At most this many; 0 for all (default 100)' }, opt.json('Print an array of jobs')],
    examples: ['queuectl dlq list'],
    readOnly: true,
    run: async (ctx, input) => (await load.jobs()).dlqListCommand(ctx, input),
  },
  {
    path: ['dlq', 'retry'],
    summary: 'Move dead jobs back to pending, attempts reset (the history is kept)',
    args: [{ name: 'ID', variadic: true, optional: true, complete: 'dead-ids' }],
    options: [{ name: 'all', kind: 'boolean', help: 'Every dead job' }, opt.json('Print the ids retried as a JSON array')],
    examples: ['queuectl dlq retry job1', 'queuectl dlq retry --all'],
    run: async (ctx, input) => (await load.jobs()).dlqRetryCommand(ctx, input),
  },
  {
    path: ['dlq', 'purge'],
    summary: 'Delete dead jobs',
    args: [],
    options: [{ name: 'older-than', kind: 'string', value: 'DURATION', help: 'Only jobs dead for longer than this (default: all)' }],
    examples: ['queuectl dlq purge --older-than 7d'],
    run: async (ctx, input) => (await load.jobs()).dlqPurgeCommand(ctx, input),
  },
  {
    path: ['validate'],
    summary: 'Say whether a worker would take each job file, and if not, the reason it would be quarantined with',
    description: [
      'Each FILE (or - for one job on stdin) is judged as if it were dropped into pending/ under its own name',
      '(--name: under that one; stdin: stdin.json), by the same code a worker runs: a regular file of at most',
      '4MB holding one JSON job spec (schema/job-spec.schema.json). When the root exists, an id the JSON names is',
      'also checked to be unused. The queue is not changed. Exit 0 when every file is valid, 2 when any is not.',
    ].join('\n'),
    args: [{ name: 'FILE', variadic: true }],
    options: [
      { name: 'name', kind: 'string', value: 'NAME', help: 'Judge the file as pending/NAME (its id and its reason come from that name)' },
      opt.json('Print [{file, name, valid, reason, id, id_from, note}]'),
    ],
    examples: ['queuectl validate job.json', 'queuectl validate jobs/*.json --json', `printf '{"command":"true"}' | queuectl validate - --name report.json`],
    run: async (ctx, input) => (await load.validate()).validateCommand(ctx, input),
  },
  {
    path: ['doctor'],
    summary: 'Check the root: what is wrong or left half-done, what it means, and the command that repairs it',
    description: [
      'It checks the format version, owners and modes, that every folder is a real folder on the root\'s',
      'filesystem, what dead processes left (claims, final records, stages, enqueue batches, id reservations,',
      'heartbeats), quarantined files, names no worker takes, and the clocks of this host and the filesystem',
      'and its workers. The root is not created. --fix repairs what is safe: missing folders, group and other',
      'bits on what you own, one recovery pass (what every worker runs at its start), orphaned ids, files in',
      'tmp/ of processes that are gone. Exit 0 when nothing but notes is left, 1 when a problem is.',
    ].join('\n'),
    args: [],
    options: [
      { name: 'fix', kind: 'boolean', help: 'Repair what is safe to repair, then check again' },
      opt.json('Print {root, healthy, fixed: [...], findings: [{code, severity, path, message, repair, fixable}]}'),
    ],
    examples: ['queuectl doctor', 'queuectl doctor --fix', 'queuectl --root /srv/queue doctor --json'],
    run: async (ctx, input) => (await load.doctor()).doctorCommand(ctx, input),
  },
  {
    path: ['quarantine', 'list'],
    summary: 'The files in quarantine/, with why each was not a job',
    args: [],
    options: [opt.json('Print [{name, original_name, at, reason}]')],
    examples: ['queuectl quarantine list'],
    readOnly: true,
    run: async (ctx, input) => (await load.quarantine()).quarantineList(ctx, input),
  },
  {
    path: ['quarantine', 'release'],
    summary: 'Put quarantined files back in pending/ (after fixing them); a worker checks them again',
    args: [{ name: 'NAME', variadic: true, optional: true, complete: 'quarantined' }],
    options: [{ name: 'all', kind: 'boolean', help: 'Every quarantined file' }],
    examples: ['queuectl quarantine release job.json.1764614400000', 'queuectl quarantine release --all'],
    run: async (ctx, input) => (await load.quarantine()).quarantineRelease(ctx, input),
  },
  {
    path: ['queue', 'list'],
    summary: 'Every queue: its pending, scheduled, failed, waiting and running jobs, its limit, whether it is paused',
    args: [],
    options: [opt.json('Print [{name, pending, scheduled, failed, waiting, processing, limit, paused}]')],
    examples: ['queuectl queue list'],
    readOnly: true,
    run: async (ctx, input) => (await load.queue()).queueList(ctx, input),
  },
  {
    path: ['queue', 'limit'],
    summary: 'At most N jobs of the queue run at once in the whole root (0: no limit)',
    args: [{ name: 'NAME', complete: 'queues' }, { name: 'N' }],
    options: [],
    examples: ['queuectl queue limit backups 1', 'queuectl queue limit backups 0'],
    run: async (ctx, input) => (await load.queue()).queueLimit(ctx, input),
  },
  {
    path: ['queue', 'pause'],
    summary: 'The queue starts nothing new; what runs finishes',
    args: [{ name: 'NAME', variadic: true, optional: true, complete: 'queues' }],
    options: [{ name: 'all', kind: 'boolean', help: 'Every queue there is now (queues named later are not paused)' }],
    examples: ['queuectl queue pause backups', 'queuectl queue pause --all'],
    run: async (ctx, input) => (await load.queue()).queuePause(ctx, input, true),
  },
  {
    path: ['queue', 'resume'],
    summary: 'The queue starts jobs again',
    args: [{ name: 'NAME', variadic: true, optional: true, complete: 'queues' }],
    options: [{ name: 'all', kind: 'boolean', help: 'Every paused queue' }],
    examples: ['queuectl queue resume backups', 'queuectl queue resume --all'],
    run: async (ctx, input) => (await load.queue()).queuePause(ctx, input, false),
  },
  {
    path: ['schedule', 'add'],
    summary: 'Enqueue a job at every slot of a cron expression: schedule add NAME --cron EXPR [--tz ZONE] [job flags] -- CMD',
    description: [
      'The job flags are those of enqueue (--priority, --queue, --timeout, --max-retries, --cwd, --env). Its',
      'jobs are named <name>-<slot time in UTC>, so each slot runs once however many workers and hosts run.',
      'Without --tz the expression is read in the time zone this command runs in. Slots missed while no worker',
      'ran: at most one catch-up run (the latest). Slots before the schedule was added never run.',
    ].join('\n'),
    args: [{ name: 'NAME' }],
    rest: true,
    restUsage: '-- COMMAND ARGS...',
    options: [
      { name: 'cron', kind: 'string', value: 'EXPR', help: 'When: minute hour day month weekday, or seconds first (6 fields)' },
      { name: 'tz', kind: 'string', value: 'ZONE', help: 'IANA time zone of the expression (default: this one)' },
      { name: 'priority', kind: 'string', value: 'N', help: '-999..999, lower runs first (default 0)' },
      opt.timeout('Kill the command after this long (default: config timeout)'),
      { name: 'max-retries', kind: 'string', value: 'N', help: 'Retries after the first run, 0..100 (default: config max-retries)' },
      { name: 'cwd', kind: 'string', value: 'DIR', path: true, help: 'Working directory; a relative one is resolved here (default: here)' },
      { name: 'env', kind: 'list', value: 'NAME=VALUE', help: 'Environment variable for the command (repeatable)' },
      { name: 'queue', kind: 'string', value: 'NAME', help: 'The named queue of the job: 1-64 of a-z 0-9 _ - (default: default)' },
      opt.json('Print the schedule as JSON'),
    ],
    examples: ["queuectl schedule add nightly-backup --cron '0 2 * * *' --queue backups -- ./backup.sh", "queuectl schedule add every-10s --cron '*/10 * * * * *' -- date"],
    run: async (ctx, input) => (await load.schedule()).scheduleAdd(ctx, input),
  },
  {
    path: ['schedule', 'list'],
    summary: 'Every schedule with its next run and the last slot enqueued',
    args: [],
    options: [opt.json('Print [{name, cron, tz, job, paused, next: [...], last}]')],
    examples: ['queuectl schedule list'],
    readOnly: true,
    run: async (ctx, input) => (await load.schedule()).scheduleList(ctx, input),
  },
  {
    path: ['schedule', 'remove'],
    summary: 'Remove schedules (the jobs they enqueued stay)',
    args: [{ name: 'NAME', variadic: true, complete: 'schedules' }],
    options: [],
    examples: ['queuectl schedule remove nightly-backup'],
    run: async (ctx, input) => (await load.schedule()).scheduleRemove(ctx, input),
  },
  {
    path: ['schedule', 'pause'],
    summary: 'A paused schedule enqueues nothing (its slots are skipped, not made up later)',
    args: [{ name: 'NAME', variadic: true, complete: 'schedules' }],
    options: [],
    examples: ['queuectl schedule pause nightly-backup'],
    run: async (ctx, input) => (await load.schedule()).schedulePause(ctx, input, true),
  },
  {
    path: ['schedule', 'resume'],
    summary: 'The schedule enqueues again from its next slot',
    args: [{ name: 'NAME', variadic: true, complete: 'schedules' }],
    options: [],
    examples: ['queuectl schedule resume nightly-backup'],
    run: async (ctx, input) => (await load.schedule()).schedulePause(ctx, input, false),
  },
  {
    path: ['config', 'list'],
    summary: 'Every setting with its value, default and meaning',
    args: [],
    options: [opt.json('Print {key: {value, default, set, help}}')],
    examples: ['queuectl config list'],
    readOnly: true,
    run: async (ctx, input) => (await load.config()).configList(ctx, input),
  },
  {
    path: ['config', 'get'],
    summary: 'One setting',
    args: [{ name: 'KEY', complete: 'config-keys' }],
    options: [opt.json('Print {key, value, default, set}')],
    examples: ['queuectl config get backoff_base'],
    readOnly: true,
    run: async (ctx, input) => (await load.config()).configGet(ctx, input),
  },
  {
    path: ['config', 'set'],
    summary: 'Change a setting (atomically, under a lock)',
    args: [{ name: 'KEY', complete: 'config-keys' }, { name: 'VALUE' }],
    options: [opt.json('Print {key, value, default, set}')],
    examples: ['queuectl config set max-retries 5', 'queuectl config set stale-after 2m'],
    run: async (ctx, input) => (await load.config()).configSet(ctx, input),
  },
  {
    path: ['config', 'unset'],
    summary: 'Return a setting to its default',
    args: [{ name: 'KEY', complete: 'config-keys' }],
    options: [opt.json('Print {key, value, default, set}')],
    examples: ['queuectl config unset max-retries'],
    run: async (ctx, input) => (await load.config()).configUnset(ctx, input),
  },
  {
    path: ['dashboard'],
    summary: 'Serve the status page: counts, charts, workers, jobs, dead letters, JSON API, /metrics',
    description: 'It listens on 127.0.0.1 by default; any other --host needs a token. Without --token it makes a random one at each start and prints the URL with it. Ctrl+C stops it.',
    args: [],
    options: [
      { name: 'port', kind: 'string', value: 'PORT', help: 'Port to listen on (default 5000; 0 picks a free one)' },
      { name: 'host', kind: 'string', value: 'HOST', help: 'Address to listen on (default 127.0.0.1; any other needs --token)' },
      { name: 'token', kind: 'string', value: 'TOKEN', help: 'Require this secret (12+ characters) on every request (default: $QUEUECTL_DASHBOARD_TOKEN, else a random one, printed in the URL)' },
    ],
    examples: ['queuectl dashboard', 'queuectl dashboard --host 0.0.0.0 --token "$(openssl rand -hex 16)"'],
    run: async (ctx, input) => (await load.dashboard()).dashboardCommand(ctx, input),
  },
  {
    path: ['metrics'],
    summary: "Print the Prometheus metrics (as GET /metrics), without a web server: for node_exporter's textfile collector",
    args: [],
    options: [],
    examples: ['queuectl metrics > /var/lib/prometheus/node-exporter/queuectl.prom.$$ && mv /var/lib/prometheus/node-exporter/queuectl.prom.$$ /var/lib/prometheus/node-exporter/queuectl.prom'],
    readOnly: true,
    run: async (ctx) => (await load.metrics()).metricsCommand(ctx),
  },
  {
    path: ['completion'],
    summary: 'Print a shell completion script: completion bash|zsh|fish',
    description: 'It completes commands, options, option values and job ids from the queue (of --root or $QUEUECTL_ROOT).',
    args: [{ name: 'SHELL', complete: 'shells' }],
    options: [],
    examples: [
      'queuectl completion bash > ~/.local/share/bash-completion/completions/queuectl',
      'queuectl completion zsh > "${fpath[1]}/_queuectl"',
      'queuectl completion fish > ~/.config/fish/completions/queuectl.fish',
    ],
    readOnly: true,
    run: async (ctx, input) => (await load.completion()).completionCommand(ctx, input),
  },
  {
    path: ['help'],
    summary: "Show the help of a command: help [COMMAND [ACTION]]",
    args: [{ name: 'COMMAND', optional: true, variadic: true, complete: 'commands' }],
    options: [],
    examples: ['queuectl help worker', 'queuectl help worker start'],
    readOnly: true,
    run: async (ctx, input) => (await load.help()).helpCommand(ctx, input),
  },
  {
    path: ['__complete'],
    summary: 'Completion candidates for the words after `--` (used by the completion scripts)',
    hidden: true,
    args: [],
    rest: true,
    options: [],
    examples: [],
    readOnly: true,
    run: async (ctx, input) => (await load.completion()).completeCommand(ctx, input),
  },
];

/** Exit statuses, for the top-level help and the README. */
export const EXIT_STATUSES: [string, string][] = [
  ['0', 'done'],
  ['1', 'failed: an error, or a job waited for ended dead'],
  ['2', 'bad usage or input; nothing was changed'],
  ['124', '`wait --timeout` or `worker stop --timeout` ran out (like timeout(1))'],
];

/** Environment variables queuectl reads or sets, for the top-level help and the README. */
export const ENVIRONMENT: [string, string][] = [
  ['QUEUECTL_ROOT', 'the queue root when --root is not given (default ./.queuectl)'],
  ['QUEUECTL_DASHBOARD_TOKEN', 'the dashboard token when --token is not given'],
  ['NO_COLOR', 'any value but empty: no colour'],
  ['FORCE_COLOR', '0 or false: no colour; anything else: colour even in a pipe'],
  ['QUEUECTL_DEBUG', 'print the stack trace of an error'],
  ['QUEUECTL_JOB_ID, QUEUECTL_ATTEMPT', 'set for each job: its id and run number (QUEUECTL_ROOT too)'],
];

/** Top-level words: groups and ungrouped commands, in help order. */
export function topWords(includeHidden = false): string[] {
  const words: string[] = [];
  for (const c of COMMANDS) {
    if (c.hidden && !includeHidden) continue;
    if (!words.includes(c.path[0])) words.push(c.path[0]);
  }
  return words;
}

export function findGroup(name: string): Group | undefined {
  return GROUPS.find((g) => g.name === name);
}

export function actionsOf(group: string): Command[] {
  return COMMANDS.filter((c) => c.path.length === 2 && c.path[0] === group);
}

export function findCommand(path: readonly string[]): Command | undefined {
  return COMMANDS.find((c) => c.path.length === path.length && c.path.every((w, i) => w === path[i]));
}
