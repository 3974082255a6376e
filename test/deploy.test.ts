// The recipes in deploy/, run the way their host would run them: the systemd units checked by
// systemd-analyze and their ExecStart stopped the way KillMode=mixed stops it; the container's
// command run as its user on a root made as the Containerfile makes it (no Docker engine here); the
// crontab's lines run as cron runs them (minimal environment, % unescaped by us as cron does).

import assert from 'node:assert/strict';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { promises as fsp, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, test } from 'node:test';
import { CLI, makeTempRoot, REPO, runCli, waitFor } from './helpers.js';
import { sq } from './cli-helpers.js';
import { FAST_CONFIG, waitForState } from './worker-helpers.js';

const DEPLOY = join(REPO, 'deploy');
const INSTALLED = '/usr/local/bin/queuectl';
/** Whether other users can reach the checkout (every folder above it has o+x): the container user runs its dist/. */
function othersCanEnter(path: string): boolean {
  for (let p = path; ; p = dirname(p)) {
    if ((statSync(p).mode & 0o001) === 0) return false;
    if (dirname(p) === p) return true;
  }
}
const have = (cmd: string, ...args: string[]) => spawnSync(cmd, args.length ? args : ['--version'], { stdio: 'ignore' }).status === 0;

type TestContext = { after: (fn: () => Promise<void> | void) => void };

/** A temp folder others may enter (mode 0755), with bin/queuectl running the compiled CLI. */
async function place(t: TestContext): Promise<{ dir: string; bin: string }> {
  const { dir } = await makeTempRoot(t);
  await fsp.chmod(dir, 0o755);
  await fsp.mkdir(join(dir, 'bin'), { mode: 0o755 });
  const bin = join(dir, 'bin', 'queuectl');
  await fsp.writeFile(bin, `#!/bin/sh\nexec ${sq(process.execPath)} ${sq(CLI)} "$@"\n`, { mode: 0o755 });
  return { dir, bin };
}

/** A queue root with the tests' short intervals (config.json written before first use). */
async function fastRoot(root: string, uid = 0): Promise<void> {
  await fsp.mkdir(root, { recursive: true, mode: 0o700 });
  await fsp.writeFile(join(root, 'config.json'), JSON.stringify(FAST_CONFIG), { mode: 0o600 });
  if (uid) {
    await fsp.chown(root, uid, uid);
    await fsp.chown(join(root, 'config.json'), uid, uid);
  }
}

/** Collects a child's stdout and stderr; `exited` resolves to its exit status. */
function watch(child: ChildProcess) {
  let out = '';
  child.stdout?.setEncoding('utf8').on('data', (d: string) => (out += d));
  child.stderr?.setEncoding('utf8').on('data', (d: string) => (out += d));
  const exited = new Promise<number | null>((r) => child.on('close', (code) => r(code)));
  return { output: () => out, exited };
}

/** Key=value lines of a unit's section (repeated keys: the last one). */
function unitValues(text: string): Map<string, string> {
  return new Map(text.split('\n').filter((l) => /^[A-Za-z]+=/.test(l)).map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
}

/** Splits an ExecStart command line into words (the units use no quotes). */
const words = (line: string) => line.trim().split(/\s+/);

describe('systemd units', () => {
  const analyze = have('systemd-analyze') ? false : 'systemd-analyze is not installed (apt-get install systemd)';

  test('systemd-analyze verify accepts both units, without a warning', { skip: analyze }, async (t) => {
    const { dir, bin } = await place(t);
    for (const name of ['queuectl-worker.service', 'queuectl-dashboard.service']) {
      const text = await fsp.readFile(join(DEPLOY, 'systemd', name), 'utf8');
      assert.ok(text.includes(`ExecStart=${INSTALLED} `), `${name} runs ${INSTALLED}`);
      // The same unit with the queuectl of this checkout (verify checks the command is executable).
      const unit = join(dir, name);
      await fsp.writeFile(unit, text.replaceAll(INSTALLED, bin));
      const r = spawnSync('systemd-analyze', ['verify', '--man=no', unit], { encoding: 'utf8' });
      assert.equal(r.status, 0, `${name}: ${r.stderr}`);
      assert.equal(r.stderr.trim(), '', `${name}: no warning`);
    }
  });

  test('the worker unit stops gracefully: KillMode=mixed, a long TimeoutStopSec, and SIGTERM to the main process lets the job finish', async (t) => {
    const text = await fsp.readFile(join(DEPLOY, 'systemd', 'queuectl-worker.service'), 'utf8');
    const v = unitValues(text);
    assert.equal(v.get('KillMode'), 'mixed');
    assert.match(text, /^# KillMode=mixed sends SIGTERM to the main process .* alone\. The default, control-group,$/m, 'the unit says why');
    const stop = /^(\d+)(min|h)$/.exec(v.get('TimeoutStopSec') ?? '');
    assert.ok(stop && Number(stop[1]) * (stop[2] === 'h' ? 60 : 1) >= 60, `TimeoutStopSec=${v.get('TimeoutStopSec')} is an hour or more`);
    assert.equal(v.get('StateDirectoryMode'), '0700');
    // Run ExecStart as systemd would (Environment=, WorkingDirectory=), then stop it as KillMode=mixed
    // does: SIGTERM to the main process only.
    const { dir, bin } = await place(t);
    const root = join(dir, 'state');
    await fastRoot(root);
    const env = Object.fromEntries([...text.matchAll(/^Environment=([A-Z_]+)=(.*)$/gm)].map((m) => [m[1], m[2]]));
    assert.equal(env.QUEUECTL_ROOT, '/var/lib/queuectl');
    assert.equal(v.get('WorkingDirectory'), env.QUEUECTL_ROOT);
    const [cmd, ...args] = words(v.get('ExecStart')!.replace(INSTALLED, bin));
    const enq = spawnSync(bin, ['enqueue', '--id', 'long', '--', 'sleep 1; echo finished'], { env: { PATH: '/usr/bin:/bin', QUEUECTL_ROOT: root }, encoding: 'utf8' });
    assert.equal(enq.status, 0, enq.stderr);
    const main = spawn(cmd, args, { cwd: root, env: { PATH: '/usr/bin:/bin', ...env, QUEUECTL_ROOT: root }, stdio: ['ignore', 'pipe', 'pipe'] });
    t.after(() => main.kill('SIGKILL'));
    const w = watch(main);
    await waitFor(() => /processing long /.test(w.output()), { timeoutMs: 10_000, what: `the job to start: ${w.output()}` });
    main.kill('SIGTERM');
    assert.equal(await w.exited, 0, w.output());
    const job = await waitForState(root, 'long', 'completed');
    assert.equal(job.output_tail, 'finished\n', 'the running job finished');
    assert.match(w.output(), /4 workers ready/);
  });
});

describe('the container recipe', () => {
  test('every way it is run has an init (--init, init: true), and runs commands the CLI has', async () => {
    const containerfile = await fsp.readFile(join(DEPLOY, 'container', 'Containerfile'), 'utf8');
    const compose = await fsp.readFile(join(DEPLOY, 'container', 'compose.yaml'), 'utf8');
    const readme = await fsp.readFile(join(REPO, 'README.md'), 'utf8');
    const runs = [...`${containerfile}\n${readme}`.matchAll(/docker run [^\n]*/g)].map((m) => m[0]);
    assert.ok(runs.length >= 3, runs.join('\n'));
    for (const run of runs) assert.match(run, /--init/, run);
    const services = compose.slice(compose.indexOf('services:\n'), compose.indexOf('\nvolumes:')).split(/\n {2}(?=[a-z]+:\n)/).slice(1);
    assert.equal(services.length, 2);
    for (const s of services) assert.match(s, /\n {4}init: true\n/, s);
    // Each command it runs is one the CLI knows (its --help exits 0).
    const commands = [/^CMD (\[.*\])$/m.exec(containerfile)![1], ...[...compose.matchAll(/command: (\[.*\])/g)].map((m) => m[1])].map((c) => JSON.parse(c) as string[]);
    assert.equal(commands.length, 3);
    for (const [program, ...args] of commands) {
      assert.equal(program, 'queuectl');
      const r = await runCli([...args, '--help']);
      assert.equal(r.code, 0, `${args.join(' ')}: ${r.stderr}`);
    }
  });

  test("its user and root: as uid 10001, on a root made as the Containerfile makes it, the recipe's commands work", { skip: process.getuid?.() !== 0 || !have('setpriv', '--version') ? 'needs root and setpriv to run as the container user' : !othersCanEnter(REPO) ? `the container user cannot enter ${REPO} (a folder above it has no o+x, e.g. one made by mktemp -d): clone it elsewhere` : false }, async (t) => {
    const containerfile = await fsp.readFile(join(DEPLOY, 'container', 'Containerfile'), 'utf8');
    const uid = Number(/useradd [^\n]*--uid (\d+)/.exec(containerfile)![1]);
    const mode = /install -d -o queuectl -g queuectl -m (0\d{3}) \/var\/lib\/queuectl/.exec(containerfile)![1];
    const envRoot = /^ENV QUEUECTL_ROOT=(\S+)$/m.exec(containerfile)![1];
    assert.equal(envRoot, '/var/lib/queuectl');
    const { dir, bin } = await place(t);
    const root = join(dir, 'var-lib-queuectl');
    // What `install -d -o queuectl -g queuectl -m MODE` makes; the fast config is ours.
    await fastRoot(root, uid);
    await fsp.chmod(root, Number.parseInt(mode, 8));
    const asUser = (args: string[], extra: Record<string, string> = {}) =>
      spawn('setpriv', [`--reuid=${uid}`, `--regid=${uid}`, '--clear-groups', bin, ...args], { cwd: root, env: { PATH: '/usr/bin:/bin', HOME: root, QUEUECTL_ROOT: root, ...extra }, stdio: ['ignore', 'pipe', 'pipe'] });
    const enq = watch(asUser(['enqueue', '--id', 'c1', '--', 'echo from the container']));
    assert.equal(await enq.exited, 0, enq.output());

    const cmd = JSON.parse(/^CMD (\[.*\])$/m.exec(containerfile)![1]) as string[];
    assert.equal(cmd[0], 'queuectl');
    const worker = asUser(cmd.slice(1));
    t.after(() => worker.kill('SIGKILL'));
    const ww = watch(worker);
    await waitForState(root, 'c1', 'completed');
    worker.kill('SIGTERM'); // docker stop
    assert.equal(await ww.exited, 0, ww.output());

    // The page: refused without a token on 0.0.0.0; with QUEUECTL_DASHBOARD_TOKEN, only with it.
    const compose = await fsp.readFile(join(DEPLOY, 'container', 'compose.yaml'), 'utf8');
    const dash = (JSON.parse(/command: (\["queuectl", "dashboard".*\])/.exec(compose)![1]) as string[]).slice(1).map((w) => (w === '5000' ? '0' : w));
    assert.match(compose, /QUEUECTL_DASHBOARD_TOKEN: \$\{QUEUECTL_DASHBOARD_TOKEN:\?/);
    const refused = watch(asUser(dash));
    assert.equal(await refused.exited, 2, refused.output());
    assert.match(refused.output(), /Refusing to serve the dashboard on 0\.0\.0\.0 without a token/);
    const token = 'a-token-of-some-length';
    const page = asUser(dash, { QUEUECTL_DASHBOARD_TOKEN: token });
    t.after(() => page.kill('SIGKILL'));
    const pw = watch(page);
    const port = Number((await waitFor(() => /:(\d+)\/\n/.exec(pw.output()), { timeoutMs: 10_000, what: `the page to listen: ${pw.output()}` }))[1]);
    assert.equal((await fetch(`http://127.0.0.1:${port}/api/status`)).status, 401);
    assert.equal((await fetch(`http://127.0.0.1:${port}/api/status`, { headers: { authorization: `Bearer ${token}` } })).status, 200);
    page.kill('SIGTERM');
    assert.equal(await pw.exited, 0, pw.output());

    // A bind mount left writable by others is refused, with the fix in the message.
    await fsp.chmod(root, 0o777);
    const open = watch(asUser(['status']));
    assert.equal(await open.exited, 1, open.output());
    assert.match(open.output(), /chmod/);
  });
});

describe('the cron recipe', () => {
  /** A crontab line's command as cron runs it: `\%` is a %, the first bare % ends the command (the rest is stdin). */
  function cronCommand(line: string): { command: string; stdin: string } {
    const command = line.split(/\s+/).slice(5).join(' ');
    let out = '';
    for (let i = 0; i < command.length; i++) {
      if (command[i] === '\\' && command[i + 1] === '%') {
        out += '%';
        i++;
      } else if (command[i] === '%') {
        return { command: out, stdin: command.slice(i + 1).replace(/%/g, '\n') };
      } else out += command[i];
    }
    return { command: out, stdin: '' };
  }

  test('each line, run as cron runs it, enqueues one job per slot; a second run of the slot is refused and enqueues nothing', async (t) => {
    const text = await fsp.readFile(join(DEPLOY, 'cron', 'queuectl.crontab'), 'utf8');
    const vars = Object.fromEntries([...text.matchAll(/^([A-Z_]+)=(.*)$/gm)].map((m) => [m[1], m[2]]));
    assert.equal(vars.SHELL, '/bin/sh');
    assert.ok(vars.QUEUECTL_ROOT?.startsWith('/'), 'QUEUECTL_ROOT is absolute');
    const jobs = text.split('\n').filter((l) => /^[0-9*]/.test(l));
    assert.ok(jobs.length >= 2);
    const { dir, bin } = await place(t);
    const root = join(dir, 'root');
    await fastRoot(root);
    const home = join(dir, 'home');
    await fsp.mkdir(home);
    for (const line of jobs) {
      assert.match(line, new RegExp(` ${INSTALLED} enqueue --id [a-z]+-\\$\\(date [^)]+\\) `), `absolute path and --id NAME-SLOT: ${line}`);
      assert.doesNotMatch(line.replace(/\\%/g, ''), /%/, `every % is escaped: ${line}`);
      const { command, stdin } = cronCommand(line.replace(INSTALLED, bin));
      assert.equal(stdin, '');
      // cron's environment: its own few variables plus the crontab's.
      const env = { HOME: home, LOGNAME: 'root', PATH: '/usr/bin:/bin', ...vars, QUEUECTL_ROOT: root };
      const run = () => spawnSync(vars.SHELL, ['-c', command], { cwd: home, env, encoding: 'utf8' });
      const first = run();
      assert.equal(first.status, 0, `${command}: ${first.stderr}`);
      const id = /^Enqueued ([a-z]+-\d[\dT-]+)$/.exec(first.stdout.trim())?.[1];
      assert.ok(id, first.stdout);
      const again = run();
      assert.equal(again.status, 2, `the same slot again: ${again.stdout}${again.stderr}`);
      assert.match(again.stderr, new RegExp(`id "${id}" is already used by a job \\(pending\\)`));
      const list = spawnSync(bin, ['list', '--json'], { env, encoding: 'utf8' });
      assert.equal((JSON.parse(list.stdout) as { id: string }[]).filter((j) => j.id === id).length, 1, 'enqueued once');
    }
    const names = await fsp.readdir(home);
    assert.deepEqual(names, [], 'nothing made in $HOME (no ./.queuectl)');
  });

  test("the recipe's % escaping matters: the same line unescaped is cut at the %", () => {
    const line = '0 3 * * * /usr/local/bin/queuectl enqueue --id backup-$(date +%Y) -- true';
    assert.deepEqual(cronCommand(line), { command: '/usr/local/bin/queuectl enqueue --id backup-$(date +', stdin: 'Y) -- true' });
  });
});
