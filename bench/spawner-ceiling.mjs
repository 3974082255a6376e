#!/usr/bin/env node
// What the throughput rows could reach if commands were forked by a small resident process instead of the
// worker (issue 14). A PROTOTYPE for that decision, not part of queuectl: nothing in src/ uses it.
//
//   node bench/spawner-ceiling.mjs [--jobs 1000] [--reps 3] [--cs 1,2,4]
//
// In one run, interleaved, N jobs of `sh -c true` at each C through:
//   bare      a Node loop spawning `sh -c true` (stdio ignored), C at a time: the baseline of the bench;
//   spawner   C resident perl processes (~5 MB each), one job at a time each: a job goes down a pipe, the
//             spawner forks, setsid()s, points stdout and stderr at a fresh pipe whose output it relays back
//             framed, execs `/bin/sh -c '<the worker's guard>; exec 2>&1; true' /bin/sh <claim>` and reports the
//             wait status. Around each run the Node side does the file work a worker does for a job: claim
//             (rename pending/ -> processing/), read and parse the record, write the final record to tmp/ and
//             rename it into completed/, remove the claim. No heartbeats, index, stats or recovery;
//   queuectl  dist/cli/index.js: `worker start --count C`, one `enqueue -`, `wait --all` (as bench/ab.sh).
// Prints jobs/s (median of the reps) and each against bare in the same run.

import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import os from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const CLI = process.env.QUEUECTL_CLI ? resolve(process.env.QUEUECTL_CLI) : join(REPO, 'dist', 'cli', 'index.js');
const argv = process.argv.slice(2);
const opt = (name, def) => (argv.includes(`--${name}`) ? argv[argv.indexOf(`--${name}`) + 1] : def);
const N = Number(opt('jobs', 1000));
const REPS = Number(opt('reps', 3));
const CS = opt('cs', '1,2,4').split(',').map(Number);
const WORK = fs.mkdtempSync(join(os.tmpdir(), 'spawner-ceiling-'));

// The spawner: a job is one line "<script>\t<claim>" (the prototype's scripts hold no tab or newline).
const SPAWNER = String.raw`
use strict; use POSIX qw(setsid _exit);
$SIG{PIPE} = 'IGNORE';
while (my $line = <STDIN>) {
  chomp $line; my ($script, $claim) = split /\t/, $line, 2;
  pipe(my $r, my $w) or die "pipe: $!";
  my $pid = fork() // die "fork: $!";
  if ($pid == 0) {
    close $r; setsid(); open(STDIN, '<', '/dev/null'); open(STDOUT, '>&', $w); open(STDERR, '>&', $w);
    exec('/bin/sh', '-c', $script, '/bin/sh', $claim); _exit(127);
  }
  close $w;
  syswrite(STDOUT, "pid $pid\n");
  my $buf; while (sysread($r, $buf, 65536)) { syswrite(STDOUT, "out " . length($buf) . "\n" . $buf); }
  close $r; waitpid($pid, 0);
  syswrite(STDOUT, "exit $pid $?\n");
}`;
const SPAWNER_PATH = join(WORK, 'spawner.pl');
fs.writeFileSync(SPAWNER_PATH, SPAWNER);
const havePerl = spawnSync('perl', ['-e', '1']).status === 0;

async function bare(C) {
  let next = 0;
  const t0 = process.hrtime.bigint();
  await Promise.all(Array.from({ length: C }, async () => {
    while (next++ < N) await new Promise((res, rej) => spawn('sh', ['-c', 'true'], { stdio: 'ignore' }).once('exit', res).once('error', rej));
  }));
  return N / (Number(process.hrtime.bigint() - t0) / 1e9);
}

function startSpawner() {
  const p = spawn('perl', [SPAWNER_PATH], { stdio: ['pipe', 'pipe', 'inherit'] });
  let buf = Buffer.alloc(0);
  let waiter = null;
  p.stdout.on('data', (d) => {
    buf = Buffer.concat([buf, d]);
    for (;;) {
      const nl = buf.indexOf(10);
      if (nl < 0) return;
      const head = buf.subarray(0, nl).toString();
      if (head.startsWith('out ')) {
        const len = Number(head.slice(4));
        if (buf.length < nl + 1 + len) return;
        buf = buf.subarray(nl + 1 + len); // the output (a worker would write it to the job's log)
      } else {
        buf = buf.subarray(nl + 1);
        if (head.startsWith('exit ')) {
          const w = waiter;
          waiter = null;
          w(Number(head.split(' ')[2]));
        }
      }
    }
  });
  return { run: (script, claim) => new Promise((res) => { waiter = res; p.stdin.write(`${script}\t${claim}\n`); }), stop: () => p.stdin.end() };
}

async function spawner(C) {
  const q = fs.mkdtempSync(join(WORK, 'q-'));
  for (const d of ['pending', 'processing', 'completed', 'tmp']) fs.mkdirSync(join(q, d));
  for (let i = 0; i < N; i++) fs.writeFileSync(join(q, 'pending', `j${i}.json`), `${JSON.stringify({ id: `j${i}`, command: 'true', attempts: 0, history: [] }, null, 2)}\n`);
  const slots = Array.from({ length: C }, startSpawner);
  await Promise.all(slots.map((s) => s.run('true', '/'))); // every spawner is up before the clock starts
  let next = 0;
  let ok = 0;
  const t0 = process.hrtime.bigint();
  await Promise.all(slots.map(async (s) => {
    while (next < N) {
      const i = next++;
      const claim = join(q, 'processing', `j${i}~w~1.json`);
      fs.renameSync(join(q, 'pending', `j${i}.json`), claim);
      const job = JSON.parse(fs.readFileSync(claim, 'utf8'));
      const status = await s.run(`[ -e "$1" ] || exit 75; shift; exec 2>&1; ${job.command}`, claim);
      const tmp = join(q, 'tmp', `r${i}`);
      fs.writeFileSync(tmp, `${JSON.stringify({ ...job, attempts: 1, history: [{ at: Date.now(), status }] }, null, 2)}\n`);
      fs.renameSync(tmp, join(q, 'completed', `j${i}.json`));
      fs.unlinkSync(claim);
      if (status === 0) ok++;
    }
  }));
  const rate = N / (Number(process.hrtime.bigint() - t0) / 1e9);
  slots.forEach((s) => s.stop());
  fs.rmSync(q, { recursive: true, force: true });
  if (ok !== N) throw new Error(`spawner: only ${ok}/${N} jobs exited 0`);
  return rate;
}

async function queuectl(C) {
  const root = join(fs.mkdtempSync(join(WORK, 'r-')), 'root');
  const qc = (...a) => spawnSync(process.execPath, [CLI, '--root', root, ...a], { encoding: 'utf8', input: a[0] === 'enqueue' ? '{"command":"true"}\n'.repeat(N) : undefined });
  qc('status');
  const w = spawn(process.execPath, [CLI, '--root', root, 'worker', 'start', '--count', String(C)], { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise((res, rej) => {
    let out = '';
    w.stdout.on('data', (d) => { out += d; if (/ ready \(pid/.test(out)) res(); });
    w.once('exit', (code) => rej(new Error(`queuectl: worker start exited (${code}) before it was ready`)));
  });
  w.stdout.resume();
  const t0 = process.hrtime.bigint();
  if (qc('enqueue', '-').status !== 0 || qc('wait', '--all').status !== 0) throw new Error('queuectl: enqueue or wait failed');
  const rate = N / (Number(process.hrtime.bigint() - t0) / 1e9);
  qc('worker', 'stop');
  await new Promise((res) => w.once('exit', res));
  fs.rmSync(dirname(root), { recursive: true, force: true });
  return rate;
}

const median = (a) => a.slice().sort((x, y) => x - y)[Math.floor(a.length / 2)];
const kinds = { bare, spawner: havePerl ? spawner : null, queuectl: fs.existsSync(CLI) ? queuectl : null };
const got = {};
try {
  for (let rep = 0; rep < REPS; rep++) {
    for (const C of CS) {
      const order = Object.keys(kinds);
      if (rep % 2) order.reverse();
      for (const k of order) if (kinds[k]) ((got[k] ??= {})[C] ??= []).push(await kinds[k](C));
    }
  }
} finally {
  fs.rmSync(WORK, { recursive: true, force: true });
}
console.log(`${N} jobs of sh -c true, median of ${REPS}; ${os.cpus().length} cores, load ${os.loadavg()[0].toFixed(2)}`);
if (!havePerl) console.log('spawner: perl not found, not measured');
if (!kinds.queuectl) console.log(`queuectl: ${CLI} not found (build with npx tsc -p .), not measured`);
for (const C of CS) {
  const b = median(got.bare[C]);
  const cell = (k) => (got[k] ? `${k} ${median(got[k][C]).toFixed(0)} jobs/s (${(median(got[k][C]) / b).toFixed(2)}x)` : `${k} -`);
  console.log(`C=${C}: bare ${b.toFixed(0)} jobs/s   ${cell('spawner')}   ${cell('queuectl')}   [bare ${got.bare[C].map((x) => x.toFixed(0)).join(', ')}]`);
}
