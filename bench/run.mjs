#!/usr/bin/env node
// queuectl benchmark: one table of figures, each with the baseline it is judged against, measured in the
// same run so that ratios hold on a noisy machine.
//
//   npm run bench                  full run (~5-6.5 min; needs ~5 GB of free disk for the 1M completed files)
//   npm run bench -- --quick       short run (~1.5-2.5 min): fewer repetitions and samples, 100k completed, not 1M
//   node bench/run.mjs --only enqueue-cli,latency     some figures only (keys: see FIGURES below)
//   QUEUECTL_CLI=path/to/cli.js node bench/run.mjs   measure another build
//
// Peers (bare spawn, task-spooler, BullMQ + redis-server) come from /work/shared/bench/setup.sh, installed
// in $PEERS_DIR (default ~/.cache/queuectl-peers). A missing peer is reported as such in the table.
// queuectl is run from dist/ as built (`npx tsc -p .`); the bench does not build it.
//
// Everything the bench starts (redis-server, workers, the task-spooler server) is stopped at the end,
// also on error or Ctrl-C; its scratch folders are removed. The table is also written to bench/out/.
//
// Adding a figure: write `async function figX(ctx)` returning row(...) or an array of rows, and add it to
// FIGURES. row() computes the ratio and checks the goal.

import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

// ---- options and paths -----------------------------------------------------------------------------

const argv = process.argv.slice(2);
const QUICK = argv.includes('--quick');
const ONLY = (() => {
  const i = argv.findIndex((a) => a === '--only' || a.startsWith('--only='));
  if (i < 0) return null;
  const v = argv[i].includes('=') ? argv[i].split('=')[1] : argv[i + 1];
  return new Set(String(v ?? '').split(',').filter(Boolean));
})();
if (argv.includes('--help') || argv.includes('-h')) {
  process.stdout.write('usage: node bench/run.mjs [--quick] [--only key,key]\n');
  process.exit(0);
}

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..');
/** The queuectl entry run with node; QUEUECTL_CLI overrides it (another build, a stand-in). */
const CLI = process.env.QUEUECTL_CLI ? resolve(process.env.QUEUECTL_CLI) : join(REPO, 'dist', 'cli', 'index.js');
const OUT_DIR = join(REPO, 'bench', 'out');
const PEERS_DIR = process.env.PEERS_DIR || join(os.homedir(), '.cache', 'queuectl-peers');
/** Where the shared peer runners live when PEERS_DIR lacks them (spawn-runner and latency need no packages). */
const SHARED_RUNNERS = '/work/shared/bench/runners';
const SHARED_PEERS_SH = '/work/shared/bench/peers.sh';
/** The private redis-server listens on the first free port from here (another bench run may hold 6390). */
const REDIS_PORT_FIRST = 6390;
let REDIS_PORT = REDIS_PORT_FIRST;

/** Sizes: the full run repeats and takes medians; --quick does each once or with fewer samples. */
const P = QUICK
  ? { cliRuns: 7, batchRuns: 1, batchN: 10_000, tputN: 1000, tputReps: 1, bigReps: 1, latSamples: 10, waitTimeoutMs: 60_000 }
  : { cliRuns: 15, batchRuns: 3, batchN: 10_000, tputN: 1000, tputReps: 3, bigReps: 5, latSamples: 30, waitTimeoutMs: 120_000 };

const WORK = fs.mkdtempSync(join(os.tmpdir(), 'queuectl-bench-'));

// ---- small helpers ---------------------------------------------------------------------------------

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const nowNs = () => process.hrtime.bigint();
const msSince = (t0) => Number(nowNs() - t0) / 1e6;
const median = (a) => {
  const b = [...a].sort((x, y) => x - y);
  const m = b.length >> 1;
  return b.length === 0 ? NaN : b.length % 2 ? b[m] : (b[m - 1] + b[m]) / 2;
};
const log = (msg) => process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${msg}\n`);
const tail = (s, n = 200) => String(s ?? '').trim().split('\n').slice(-2).join(' | ').slice(-n);
const which = (cmd) => spawnSync('sh', ['-c', `command -v ${cmd}`], { encoding: 'utf8' }).status === 0;
let seq = 0;
const freshDir = (hint) => {
  const d = join(WORK, `${hint}.${++seq}`);
  fs.mkdirSync(d, { recursive: true });
  return d;
};

/** Runs a command to completion; returns {status, stdout, stderr, ms, timedOut}. */
function run(cmd, args, opts = {}) {
  const t0 = nowNs();
  const r = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 64 << 20, ...opts });
  const ms = msSince(t0);
  return { status: r.status, signal: r.signal, stdout: r.stdout ?? '', stderr: r.stderr ?? '', ms, timedOut: r.error?.code === 'ETIMEDOUT', error: r.error };
}
const qc = (args, opts) => run(process.execPath, [CLI, ...args], opts);

/** A peer runner: PEERS_DIR first, then the shared runners folder (only for runners without packages). */
function runnerPath(name, needsPackages = false) {
  const a = join(PEERS_DIR, name);
  if (fs.existsSync(a)) return a;
  const b = join(SHARED_RUNNERS, name);
  if (!needsPackages && fs.existsSync(b)) return b;
  return null;
}

// ---- processes the bench starts: tracked, and stopped on every way out ------------------------------

/** Background children, each leading its own process group (detached) so the whole group can be killed. */
const live = new Set();
/** Extra cleanups (sync), run last-in first-out. */
const cleanups = [];

function startBg(cmd, args, opts = {}) {
  const cp = spawn(cmd, args, { detached: true, stdio: 'ignore', ...opts });
  cp.exited = new Promise((r) => cp.once('exit', (code, signal) => r({ code, signal })));
  cp.once('error', () => {});
  live.add(cp);
  cp.exited.then(() => live.delete(cp));
  return cp;
}
function killGroup(cp, sig) {
  try {
    process.kill(-cp.pid, sig);
  } catch {
    try {
      cp.kill(sig);
    } catch {}
  }
}
/** SIGTERM the group, then SIGKILL after graceMs. */
async function stopBg(cp, graceMs = 5000) {
  if (!live.has(cp)) return;
  killGroup(cp, 'SIGTERM');
  const done = await Promise.race([cp.exited.then(() => true), sleep(graceMs).then(() => false)]);
  if (!done) {
    killGroup(cp, 'SIGKILL');
    await Promise.race([cp.exited, sleep(2000)]);
  }
  live.delete(cp);
}
let cleanedUp = false;
/** Sync last resort: kills what is left, runs cleanups, removes scratch. Safe to call twice. */
function cleanupSync() {
  if (cleanedUp) return;
  cleanedUp = true;
  for (const cp of live) killGroup(cp, 'SIGKILL');
  for (const f of cleanups.reverse()) {
    try {
      f();
    } catch {}
  }
  try {
    fs.rmSync(WORK, { recursive: true, force: true });
  } catch {}
}
process.on('exit', cleanupSync);
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(sig, () => {
    log(`${sig}: stopping everything the bench started`);
    cleanupSync();
    process.exit(128 + (os.constants.signals[sig] ?? 1));
  });
}

// task-spooler servers started by peers.sh live under WORK/peers/<tmp>/ts.sock: kill them on the way out.
cleanups.push(() => {
  const base = join(WORK, 'peers');
  if (!fs.existsSync(base)) return;
  for (const d of fs.readdirSync(base)) {
    const sock = join(base, d, 'ts.sock');
    if (fs.existsSync(sock)) spawnSync('tsp', ['-K'], { env: { ...process.env, TS_SOCKET: sock }, stdio: 'ignore', timeout: 5000 });
  }
});

// ---- redis-server for BullMQ: private, started once on first use, stopped at the end -----------------

function redisPing(port, timeoutMs = 300) {
  return new Promise((res) => {
    const s = net.connect({ host: '127.0.0.1', port });
    const t = setTimeout(() => (s.destroy(), res(false)), timeoutMs);
    s.on('connect', () => s.write('PING\r\n'));
    s.on('data', (d) => (clearTimeout(t), s.destroy(), res(d.toString().startsWith('+PONG'))));
    s.on('error', () => (clearTimeout(t), res(false)));
  });
}
function portOpen(port) {
  return new Promise((res) => {
    const s = net.connect({ host: '127.0.0.1', port });
    s.on('connect', () => (s.destroy(), res(true)));
    s.on('error', () => res(false));
  });
}

let redis = null; // {cp} | {error}
/** Starts redis-server (AOF, appendfsync everysec: the bullmq-aof peer) or says why BullMQ is not available. */
async function ensureRedis() {
  if (redis) return redis;
  const driver = runnerPath('bullmq-driver.cjs', true);
  if (!driver || !fs.existsSync(join(PEERS_DIR, 'node_modules', 'bullmq'))) return (redis = { error: 'BullMQ not installed (run /work/shared/bench/setup.sh)' });
  if (!which('redis-server')) return (redis = { error: 'redis-server not installed (run /work/shared/bench/setup.sh)' });
  // bullmq-driver FLUSHALLs: only ever a server this bench started, on a port that was free.
  while (await portOpen(REDIS_PORT)) {
    if (++REDIS_PORT >= REDIS_PORT_FIRST + 10) return (redis = { error: `ports ${REDIS_PORT_FIRST}-${REDIS_PORT - 1} all in use; not touching those servers` });
  }
  if (REDIS_PORT !== REDIS_PORT_FIRST) log(`redis: port ${REDIS_PORT_FIRST} in use (another bench?), using ${REDIS_PORT}`);
  const dir = freshDir('redis');
  const cp = startBg('redis-server', ['--port', String(REDIS_PORT), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'yes', '--appendfsync', 'everysec', '--daemonize', 'no'], {
    stdio: ['ignore', fs.openSync(join(dir, 'log'), 'w'), 'ignore'],
  });
  for (let i = 0; i < 100; i++) {
    if ((await redisPing(REDIS_PORT)) && live.has(cp)) return (redis = { cp, driver });
    if (!live.has(cp)) break;
    await sleep(50);
  }
  await stopBg(cp);
  return (redis = { error: `redis-server did not start: ${tail(fs.readFileSync(join(dir, 'log'), 'utf8'))}` });
}
async function stopRedis() {
  if (redis?.cp) await stopBg(redis.cp);
}
function bullmq(args, timeoutMs = 120_000) {
  return run(process.execPath, [redis.driver, String(REDIS_PORT), ...args], { cwd: PEERS_DIR, timeout: timeoutMs, killSignal: 'SIGKILL' });
}

// ---- queuectl worker: start, wait until registered, stop ------------------------------------------

/**
 * Starts `queuectl worker start --count C --root R` in the background. Resolves to {cp} once workers/
 * has an entry, or {error} when the command fails (e.g. no `worker` command in this build).
 */
async function startWorker(root, count, { ready = false, readyTimeoutMs = 10_000 } = {}) {
  const logFile = join(root, '..', `${root.split('/').pop()}.worker.log`);
  const fd = fs.openSync(logFile, 'w');
  const cp = startBg(process.execPath, [CLI, 'worker', 'start', '--count', String(count), '--root', root], { stdio: ['ignore', fd, fd] });
  fs.closeSync(fd);
  const readLog = () => tail(fs.readFileSync(logFile, 'utf8'));
  const workers = join(root, 'workers');
  for (let i = 0; i < readyTimeoutMs / 20; i++) {
    if (!live.has(cp)) {
      const { code, signal } = await cp.exited;
      const msg = readLog();
      const missing = /unknown command|unknown option/i.test(msg);
      return { error: missing ? 'n/a (worker not available)' : `worker exited (${code ?? signal}): ${msg}`, unavailable: missing };
    }
    let n = 0;
    try {
      n = fs.readdirSync(workers).filter((f) => !f.startsWith('.')).length;
    } catch {}
    if (n > 0 && !ready) {
      await sleep(200); // let the other workers of --count C come up as well
      return { cp, logFile };
    }
    // ready: wait for the "N workers ready" line, printed once the first scan of pending/ is indexed.
    if (n > 0 && ready && / ready \(pid \d+\)/.test(fs.readFileSync(logFile, 'utf8'))) return { cp, logFile };
    await sleep(20);
  }
  await stopBg(cp);
  return { error: `no worker ready in ${workers} after ${readyTimeoutMs / 1000} s: ${readLog()}` };
}
/** `queuectl worker stop`, then waits for the background process; kills its group if it lingers. */
async function stopWorker(w, root) {
  if (!w?.cp) return;
  qc(['worker', 'stop', '--root', root], { timeout: 20_000, killSignal: 'SIGKILL' });
  const done = await Promise.race([w.cp.exited.then(() => true), sleep(10_000).then(() => false)]);
  if (!done) log(`worker for ${root} still running 10 s after "worker stop": killing it`);
  await stopBg(w.cp, 2000);
}

/** NDJSON of n jobs, `{"id":"<prefix><i>","command":cmd}` per line. */
function ndjson(n, cmd = 'true', prefix = 'b') {
  let s = '';
  for (let i = 1; i <= n; i++) s += `{"id":"${prefix}${i}","command":${JSON.stringify(cmd)}}\n`;
  return s;
}

// ---- rows -----------------------------------------------------------------------------------------

/**
 * One line of the table. value/baseline: numbers (null when not measured, with `na` / `baselineNa` saying
 * why). goal: {of: 'ratio'|'value', op: '<='|'>=', target}. ratio = value / baseline.
 */
function row({ name, value = null, unit = '', na = null, baseline = null, baselineName = '', baselineNa = null, goal = null, note = '' }) {
  const ratio = typeof value === 'number' && typeof baseline === 'number' && baseline > 0 ? value / baseline : null;
  let ok = null;
  if (goal) {
    const x = goal.of === 'ratio' ? ratio : value;
    if (typeof x === 'number' && Number.isFinite(x)) ok = goal.op === '<=' ? x <= goal.target : x >= goal.target;
  }
  return { name, value, unit, na, baseline, baselineName, baselineNa, ratio, goal, ok, note };
}
const naRow = (name, na, extra = {}) => row({ name, na, ...extra });

// ---- figures --------------------------------------------------------------------------------------

/** (a) Wall time of one `queuectl enqueue` call vs `node -e 0`: the CLI's start-up cost. */
async function figEnqueueCli() {
  const name = 'enqueue: one CLI call, wall';
  const root = freshDir('cli');
  const job = '{"command":"true"}';
  const first = qc(['enqueue', job, '--root', root]);
  if (first.status !== 0) return naRow(name, `error: ${tail(first.stderr)}`);
  const q = [], n = [];
  for (let i = 0; i < 2; i++) run(process.execPath, ['-e', '0']), qc(['enqueue', job, '--root', root]);
  for (let i = 0; i < P.cliRuns; i++) {
    n.push(run(process.execPath, ['-e', '0']).ms);
    const r = qc(['enqueue', job, '--root', root]);
    if (r.status !== 0) return naRow(name, `error: ${tail(r.stderr)}`);
    q.push(r.ms);
  }
  return row({
    name, value: median(q), unit: 'ms', baseline: median(n), baselineName: 'node -e 0',
    goal: { of: 'ratio', op: '<=', target: 1.3 }, // issue 14
    note: `median of ${P.cliRuns} interleaved runs (after 2 warm-ups), into an existing root; queuectl min ${Math.min(...q).toFixed(1)} ms, node min ${Math.min(...n).toFixed(1)} ms`,
  });
}

/** (b) Durable NDJSON batch through `queuectl enqueue -` vs BullMQ addBulk (same count). */
async function figEnqueueBatch() {
  const name = `enqueue: NDJSON batch of ${P.batchN.toLocaleString('en')}, durable`;
  const input = ndjson(P.batchN);
  const walls = [];
  let problem = null;
  for (let i = 0; i < P.batchRuns; i++) {
    const root = freshDir('batch');
    qc(['status', '--root', root]); // creates the layout, so only the batch is timed
    const r = qc(['enqueue', '-', '--root', root], { input, timeout: 300_000, killSignal: 'SIGKILL' });
    if (r.status !== 0) return naRow(name, `error: ${tail(r.stderr) || r.signal}`);
    const pending = fs.readdirSync(join(root, 'pending')).length;
    if (pending !== P.batchN) problem = `pending/ holds ${pending} files, expected ${P.batchN}`;
    walls.push(r.ms);
    removeLater(root);
  }
  const rate = P.batchN / (median(walls) / 1000);
  const base = { baselineName: `BullMQ addBulk(${P.batchN})` };
  let extra = '';
  const rd = await ensureRedis();
  if (rd.error) base.baselineNa = rd.error;
  else {
    const b = bullmq(['enqueue']);
    const m = /addBulk\((\d+)\) ([\d.]+)s (\d+) jobs\/s.*add\(\)x(\d+) sequential ([\d.]+)s (\d+) jobs\/s/.exec(b.stdout);
    if (b.status !== 0 || !m) base.baselineNa = `bullmq-driver failed: ${tail(b.stderr || b.stdout)}`;
    else {
      base.baseline = Number(m[3]);
      extra = `; BullMQ add() one by one ${Number(m[6]).toLocaleString('en')} jobs/s; redis AOF everysec (not fsynced per job)`;
    }
  }
  return row({
    name, value: rate, unit: 'jobs/s', ...base,
    goal: { of: 'value', op: '>=', target: 5000 },
    note: `whole CLI call incl. start-up, median of ${P.batchRuns} (${walls.map((w) => (w / 1000).toFixed(2)).join(', ')} s), fresh root each${extra}${problem ? `; CHECK FAILED: ${problem}` : ''}`,
  });
}

/** One queuectl throughput pass: workers up, enqueue N, wait --all. Returns {wall_s, completed} or {error}. */
async function qcThroughputPass(N, C) {
  const root = join(WORK, `tput.${++seq}`); // queuectl creates it
  const w = await startWorker(root, C);
  if (w.error) return w;
  try {
    const t0 = nowNs();
    const e = qc(['enqueue', '-', '--root', root], { input: ndjson(N), timeout: P.waitTimeoutMs, killSignal: 'SIGKILL' });
    if (e.status !== 0) return { error: `enqueue failed: ${tail(e.stderr) || e.signal}` };
    const wt = qc(['wait', '--all', '--root', root], { timeout: P.waitTimeoutMs, killSignal: 'SIGKILL' });
    const wall = msSince(t0) / 1000;
    const cpuMs = procCpuMs(w.cp.pid);
    const st = qc(['status', '--json', '--root', root]);
    let counts = null;
    try {
      counts = JSON.parse(st.stdout).counts;
    } catch {}
    if (wt.timedOut) return { error: `wait --all did not return in ${P.waitTimeoutMs / 1000} s (completed ${counts?.completed ?? '?'}/${N})`, fatal: true };
    if (wt.status !== 0) return { error: `wait --all failed (${wt.status}): ${tail(wt.stderr)}`, fatal: /unknown command/i.test(wt.stderr) };
    return { wall, cpuMs, completed: counts?.completed ?? null, failed: (counts?.dead ?? 0) + (counts?.failed ?? 0) };
  } finally {
    await stopWorker(w, root);
    removeLater(root);
  }
}

/**
 * A `worker start` process and its helpers (`--processes`: children of it that run `worker start`):
 * what its CPU and memory figures sum over.
 */
function workerPids(pid) {
  const out = [pid];
  for (const e of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const f = fs.readFileSync(`/proc/${e}/stat`, 'utf8');
      if (Number(f.slice(f.lastIndexOf(')') + 2).split(' ')[1]) !== pid) continue;
      if (/\0worker\0start\0/.test(fs.readFileSync(`/proc/${e}/cmdline`, 'latin1'))) out.push(Number(e));
    } catch {}
  }
  return out;
}

/**
 * CPU time (user + system, own threads only, not their jobs) of a live worker process and its helpers,
 * in ms; null if unknown.
 */
function procCpuMs(pid) {
  try {
    let ms = 0;
    for (const p of workerPids(pid)) {
      const f = fs.readFileSync(`/proc/${p}/stat`, 'utf8');
      const fields = f.slice(f.lastIndexOf(')') + 2).split(' ');
      ms += ((Number(fields[11]) + Number(fields[12])) * 1000) / 100; // utime, stime in clock ticks (USER_HZ 100)
    }
    return ms;
  } catch {
    return null;
  }
}

/** peers.sh for one peer, VERIFY off; returns wall seconds or {error}. Its tsp server is killed by a cleanup. */
function peersSh(peer, N, C) {
  if (!fs.existsSync(SHARED_PEERS_SH)) return { error: `${SHARED_PEERS_SH} not found` };
  const tmp = join(WORK, 'peers');
  fs.mkdirSync(tmp, { recursive: true });
  const r = run('bash', [SHARED_PEERS_SH, String(N), String(C)], {
    env: { ...process.env, PEERS: peer, VERIFY: '0', PEERS_DIR, TMPDIR: tmp, REDIS_PORT: String(REDIS_PORT) },
    timeout: 180_000, killSignal: 'SIGKILL',
  });
  const line = r.stdout.split('\n').find((l) => l.startsWith(peer));
  if (!line) return { error: `peers.sh ${peer} failed: ${tail(r.stderr || r.stdout)}` };
  const [, , , wall, , ...check] = line.trim().split(/\s+/);
  return { wall: Number(wall), check: check.join(' ') };
}

/** (c) N jobs of `sh -c true` at C = 1, 2, 4: queuectl vs bare spawn; task-spooler and BullMQ (AOF) at 2 and 4. */
async function figThroughput() {
  const N = P.tputN, Cs = [1, 2, 4];
  const spawnRunner = runnerPath('spawn-runner.mjs');
  const walls = { bare: {}, qc: {}, tsp: {}, bull: {} };
  const errs = { bare: null, qc: null, tsp: null, bull: null };
  const notes = { qc: {}, tsp: {}, bull: {} };
  const PEER_CS = [2, 4];
  const cpu = {}; // worker process CPU ms per job, per C
  const haveTsp = which('tsp') && fs.existsSync(join(PEERS_DIR, 'spawn-runner.mjs'));
  if (!spawnRunner) errs.bare = 'spawn-runner.mjs not found (run /work/shared/bench/setup.sh)';
  if (!haveTsp) errs.tsp = 'task-spooler not installed (run /work/shared/bench/setup.sh)';
  const rd = await ensureRedis();
  if (rd.error) errs.bull = rd.error;

  for (let rep = 0; rep < P.tputReps; rep++) {
    for (const C of Cs) {
      log(`throughput rep ${rep + 1}/${P.tputReps} C=${C}`);
      if (!errs.bare) {
        const r = run(process.execPath, [spawnRunner, 'spawn', String(N), String(C)], { timeout: 120_000 });
        const [wall, ok] = r.stdout.trim().split(/\s+/).map(Number);
        if (r.status !== 0 || !(wall > 0)) errs.bare = `spawn-runner failed: ${tail(r.stderr)}`;
        else {
          (walls.bare[C] ??= []).push(wall);
          if (ok !== N) errs.bare = `bare: only ${ok}/${N} ok`;
        }
      }
      if (!errs.qc) {
        const r = await qcThroughputPass(N, C);
        if (r.error) {
          if (r.unavailable || r.fatal) errs.qc = r.error;
          else notes.qc[C] = r.error;
        } else {
          (walls.qc[C] ??= []).push(r.wall);
          if (r.cpuMs !== null) (cpu[C] ??= []).push(r.cpuMs / N);
          if (r.completed !== N) notes.qc[C] = `status says completed ${r.completed}/${N}`;
        }
      }
      if (PEER_CS.includes(C) && !errs.tsp) {
        const r = peersSh('tsp', N, C);
        if (r.error) errs.tsp = r.error;
        else {
          (walls.tsp[C] ??= []).push(r.wall);
          notes.tsp[C] = r.check;
        }
      }
      if (PEER_CS.includes(C) && !errs.bull) {
        const r = bullmq(['throughput', String(N), String(C)]);
        const [wall, completed, failed] = r.stdout.trim().split(/\s+/);
        if (r.status !== 0 || !(Number(wall) > 0)) errs.bull = `bullmq-driver failed: ${tail(r.stderr || r.stdout)}`;
        else {
          (walls.bull[C] ??= []).push(Number(wall));
          notes.bull[C] = `completed ${completed}/${N}, failed ${failed}; redis AOF everysec`;
        }
      }
    }
  }
  const rate = (ws) => (ws?.length ? N / median(ws) : null);
  const reps = (ws) => (ws?.length ? `median of ${ws.length}: ${ws.map((w) => w.toFixed(2)).join(', ')} s` : '');
  /** Ratios of runs made back to back (rep i of both): steadier than the ratio of medians on a busy machine. */
  const paired = (ws, bs) => {
    if (!ws?.length || !bs?.length || ws.length !== bs.length || ws.length < 2) return '';
    const r = ws.map((w, i) => bs[i] / w);
    return `paired ratios ${r.map((x) => x.toFixed(2)).join(', ')} (median ${median(r).toFixed(2)}x)`;
  };
  const rows = [];
  for (const C of Cs) {
    const bare = { baseline: rate(walls.bare[C]), baselineName: `bare spawn, ${C} at a time`, baselineNa: errs.bare };
    const v = rate(walls.qc[C]);
    rows.push(row({
      name: `throughput ${N} x sh -c true, C=${C}: queuectl`, unit: 'jobs/s', ...bare,
      goal: { of: 'ratio', op: '>=', target: C === 2 ? 0.8 : 0.75 }, // issue 14; at C=2 and 4 also above task-spooler and BullMQ (rows below)
      value: v, na: v === null ? errs.qc ?? notes.qc[C] ?? 'not measured' : null,
      note: [reps(walls.qc[C]), paired(walls.qc[C], walls.bare[C]), cpu[C] && `worker process CPU ${median(cpu[C]).toFixed(1)} ms/job (incl. start-up)`, errs.qc ? '' : notes.qc[C] ?? '', PEER_CS.includes(C) && v ? vsPeers(v, rate(walls.tsp[C]), rate(walls.bull[C])) : '', walls.bare[C] && `bare ${reps(walls.bare[C])}`]
        .filter(Boolean).join('; '),
    }));
  }
  // The peers at each C, against bare spawn; then queuectl against each peer (goal: above it, issue 14).
  for (const C of PEER_CS) {
    const bare = { baseline: rate(walls.bare[C]), baselineName: `bare spawn, ${C} at a time`, baselineNa: errs.bare };
    const t = rate(walls.tsp[C]), b = rate(walls.bull[C]);
    rows.push(row({ name: `throughput ${N} x sh -c true, C=${C}: task-spooler`, unit: 'jobs/s', ...bare, value: t, na: t === null ? errs.tsp ?? 'not measured' : null, note: [reps(walls.tsp[C]), paired(walls.tsp[C], walls.bare[C]), notes.tsp[C] && `via peers.sh: ${notes.tsp[C]}`].filter(Boolean).join('; ') }));
    rows.push(row({ name: `throughput ${N} x sh -c true, C=${C}: BullMQ (AOF)`, unit: 'jobs/s', ...bare, value: b, na: b === null ? errs.bull ?? 'not measured' : null, note: [reps(walls.bull[C]), paired(walls.bull[C], walls.bare[C]), notes.bull[C]].filter(Boolean).join('; ') }));
  }
  for (const C of PEER_CS) {
    const v = rate(walls.qc[C]);
    for (const [peer, ws, err] of [['task-spooler', walls.tsp[C], errs.tsp], ['BullMQ (AOF)', walls.bull[C], errs.bull]]) {
      rows.push(row({
        name: `throughput C=${C}: queuectl vs ${peer}`, unit: 'jobs/s', value: v, na: v === null ? errs.qc ?? 'not measured' : null,
        baseline: rate(ws), baselineName: peer, baselineNa: ws?.length ? null : err ?? 'not measured',
        goal: { of: 'ratio', op: '>=', target: 1 }, note: paired(walls.qc[C], ws),
      }));
    }
  }
  return rows;
}
function vsPeers(v, tsp, bull) {
  const parts = [];
  if (tsp) parts.push(`${(v / tsp).toFixed(2)}x task-spooler`);
  if (bull) parts.push(`${(v / bull).toFixed(2)}x BullMQ`);
  return parts.length ? `= ${parts.join(', ')}` : '';
}

/**
 * (d) Pick-up latency of an idle worker: a complete job file renamed into pending/ → its command has
 * started. The command is `echo i > FIFO`; the bench reads the FIFO (epoll, via net.Socket) and takes the
 * time of the data. That adds the time for sh to start and open the FIFO, which the baselines (child's
 * `spawn` event) do not include: the bench measures it on the spot and reports it in the note.
 */
async function figLatency() {
  const name = 'pick-up latency, idle worker: file in pending/ -> command started';
  const S = P.latSamples;
  const dir = freshDir('lat');
  const fifo = join(dir, 'fifo');
  const mk = run('mkfifo', [fifo]);
  if (mk.status !== 0) return naRow(name, `mkfifo failed: ${tail(mk.stderr)}`);
  const fd = fs.openSync(fifo, fs.constants.O_RDWR | fs.constants.O_NONBLOCK); // RDWR: never EOF
  const sock = new net.Socket({ fd, readable: true, writable: false });
  let waiter = null;
  let buf = '';
  sock.on('data', (d) => {
    const t = nowNs();
    buf += d.toString();
    let k;
    while ((k = buf.indexOf('\n')) >= 0) {
      const tag = buf.slice(0, k).trim();
      buf = buf.slice(k + 1);
      if (waiter && waiter.tag === tag) waiter.resolve(t);
    }
  });
  const waitTag = (tag, ms) =>
    new Promise((res) => {
      const timer = setTimeout(() => ((waiter = null), res(null)), ms);
      waiter = { tag, resolve: (t) => (clearTimeout(timer), (waiter = null), res(t)) };
    });

  try {
    // Calibration: spawn `sh -c 'echo > FIFO'` here; FIFO data minus the child's spawn event.
    const over = [];
    for (let i = 0; i < 15; i++) {
      const tag = `cal${i}`;
      const got = waitTag(tag, 2000);
      let tSpawn = null;
      const cp = spawn('sh', ['-c', `echo ${tag} > ${fifo}`], { stdio: 'ignore' });
      cp.on('spawn', () => (tSpawn = nowNs()));
      const t = await got;
      await new Promise((r) => (cp.exitCode !== null ? r() : cp.once('exit', r)));
      if (t && tSpawn) over.push(Number(t - tSpawn) / 1e6);
      await sleep(20);
    }
    const overhead = median(over);

    // Baselines. The figure's: a bare watched folder doing the same work (bench/bare-folder.mjs: read the
    // file, spawn its command), fed the same files the same way and timed to the same FIFO, in turns with
    // queuectl's samples below. The shared latency.mjs (stops at the spawn event, reads no file) is noted.
    const base = { baselineName: 'bare watched folder (bench/bare-folder.mjs), same files, same endpoint' };
    let sharedNote = '';
    const lat = runnerPath('latency.mjs');
    if (!lat) sharedNote = 'latency.mjs not found';
    else {
      const r = run(process.execPath, [lat, 'fswatch', String(S)], { timeout: 60_000 });
      const m = /median=([\d.]+)/.exec(r.stdout);
      sharedNote = m ? `latency.mjs fswatch (to the spawn event, no file read) ${Number(m[1]).toFixed(2)} ms` : `latency.mjs failed: ${tail(r.stderr)}`;
    }
    let bullNote = '';
    let bullMs = null;
    const rd = await ensureRedis();
    if (rd.error) bullNote = `BullMQ: ${rd.error}`;
    else {
      const r = bullmq(['latency', String(S)]);
      const m = /median=([\d.]+)/.exec(r.stdout);
      if (m) bullMs = Number(m[1]);
      bullNote = m ? `BullMQ ${Number(m[1]).toFixed(2)} ms` : `BullMQ failed: ${tail(r.stderr)}`;
    }
    const bullRow = (v, na) => row({
      name: 'pick-up latency, idle worker: queuectl vs BullMQ', unit: 'ms', value: v, na, baseline: bullMs, baselineName: 'BullMQ (bullmq-driver latency)',
      baselineNa: bullMs === null ? bullNote : null, goal: { of: 'ratio', op: '<=', target: 1 }, // issue 14: below BullMQ
    });

    // queuectl.
    const root = join(dir, 'root');
    const w = await startWorker(root, 1);
    if (w.error) return [naRow(name, w.error, { unit: 'ms', ...base, note: bullNote }), bullRow(null, w.error)];
    // Four kinds of file, in turns: dropped by another program (the whole record, written outside
    // pending/ under its queuectl name, no id reserved: the worker reserves its id on the file and runs it,
    // lifecycle adopt), one queuectl's own writer made (id reserved in ids/), the first kind again renamed
    // into the bare folder instead, and a plain spec {"command", "max_retries"} under <id>.json (the worker
    // takes it in: validated, renamed to a queuectl name, claimed again).
    const samples = { drop: [], own: [], bare: [], spec: [] };
    let misses = 0;
    const bareDir = join(dir, 'bare');
    fs.mkdirSync(bareDir);
    const bare = startBg(process.execPath, [join(REPO, 'bench', 'bare-folder.mjs'), bareDir], { stdio: ['ignore', 'pipe', 'ignore'] });
    const bareReady = await Promise.race([new Promise((r) => bare.stdout.once('data', () => r(true))), sleep(10_000).then(() => false)]);
    if (!bareReady) base.baselineNa = 'bench/bare-folder.mjs did not start';
    try {
      await sleep(500); // idle
      const write = await jobWriter(root);
      const drop = await jobWriter(root, { reserve: false });
      const spec = await jobWriter(root, { reserve: false, spec: true });
      const kinds = bareReady ? ['drop', 'own', 'bare', 'spec'] : ['drop', 'own', 'spec'];
      for (let i = 0; i < kinds.length * S && misses < 3; i++) {
        await sleep(100 + Math.random() * 50);
        const tag = `lat${i}`;
        const kind = kinds[i % kinds.length];
        const made = await (kind === 'own' ? write : kind === 'spec' ? spec : drop)(`lat${i}-${process.pid}`, `echo ${tag} > ${fifo}`);
        const { tmp } = made;
        const dest = kind === 'bare' ? join(bareDir, `lat${i}.json`) : made.dest;
        const got = waitTag(tag, 5000);
        const t0 = nowNs();
        fs.renameSync(tmp, dest);
        const t = await got;
        if (t === null) misses++;
        else samples[kind].push(Number(t - t0) / 1e6);
      }
    } finally {
      await stopWorker(w, root);
      await stopBg(bare);
    }
    if (samples.bare.length > 0) base.baseline = median(samples.bare);
    if (samples.drop.length === 0) return [naRow(name, `no job started within 5 s of being dropped (${misses} tries)`, { unit: 'ms', ...base, note: bullNote }), bullRow(null, 'not measured')];
    const v = median(samples.drop);
    const d = samples.drop;
    return [row({
      name, value: v, unit: 'ms', ...base,
      goal: { of: 'ratio', op: '<=', target: 2 }, // issue 14; also below BullMQ's (next row)
      note: `a file written by another program (the whole record under its queuectl name, no id reserved) renamed into pending/; median of ${d.length}${misses ? ` (${misses} not picked up within 5 s)` : ''}, min ${Math.min(...d).toFixed(2)}, max ${Math.max(...d).toFixed(2)} ms; ` +
        `the bare folder's: median of ${samples.bare.length}, taken in turns with them; both include ~${overhead.toFixed(2)} ms for sh to start and write the FIFO (measured here; BullMQ's figure and latency.mjs stop at the spawn event), ` +
        `i.e. ~${(v - overhead).toFixed(2)} ms to spawn; in the same turns, a file queuectl's writer made (id reserved): median ${median(samples.own).toFixed(2)} ms of ${samples.own.length}; ` +
        `a plain {"command"} spec under <id>.json (taken in first): ${samples.spec.length ? `median ${median(samples.spec).toFixed(2)} ms of ${samples.spec.length}` : 'none picked up'}; ${bullNote}; ${sharedNote}`,
    }), bullRow(v, null)];
  } finally {
    sock.destroy();
  }
}

/**
 * Returns write(id, command) → {tmp, dest}: a complete, fsynced job file in <root>/tmp/ with its id
 * reserved, ready to be renamed to dest in pending/. reserve: false: as another program writes it, outside
 * the root, no id reserved (spec: true: only {"command", "max_retries"}, to be renamed to pending/<id>.json).
 * Uses queuectl's own modules (dist/) so the file is exactly what `enqueue` writes; without them, a
 * hand-written file with the same name format.
 */
async function jobWriter(root, { reserve = true, spec = false } = {}) {
  if (!reserve) {
    // Another program: the same record, written and fsynced in a folder of its own on the same filesystem.
    const dist = dirname(dirname(CLI));
    const job = await import(pathToFileURL(join(dist, 'job.js')).href);
    const store = await import(pathToFileURL(join(dist, 'store.js')).href);
    const lifecycle = await import(pathToFileURL(join(dist, 'lifecycle.js')).href);
    const st = await store.openStore(root);
    const dir = join(root, '..', 'producer');
    fs.mkdirSync(dir, { recursive: true });
    return async (id, command) => {
      const j = job.createJob({ id, command, max_retries: 0 }, 'bench', Date.now(), { maxRetries: 0, cwd: null }, () => id);
      const file = join(dir, `${id}.json`);
      const fh = fs.openSync(file, 'wx', 0o600);
      fs.writeSync(fh, spec ? JSON.stringify({ command, max_retries: 0 }) : job.serializeJob(j));
      fs.fsyncSync(fh);
      fs.closeSync(fh);
      return { tmp: file, dest: join(st.pending, spec ? `${id}.json` : lifecycle.pendingName(j)) };
    };
  }
  try {
    const dist = dirname(dirname(CLI)); // the build being measured (QUEUECTL_CLI may point at another one)
    const job = await import(pathToFileURL(join(dist, 'job.js')).href);
    const store = await import(pathToFileURL(join(dist, 'store.js')).href);
    const lifecycle = await import(pathToFileURL(join(dist, 'lifecycle.js')).href);
    const st = await store.openStore(root);
    return async (id, command) => {
      const j = job.createJob({ id, command, max_retries: 0 }, 'bench', Date.now(), { maxRetries: 0, cwd: null }, () => id);
      const tmp = await store.writeTmp(st, `bench.${id}`, job.serializeJob(j));
      if (!lifecycle.reserveIdSync(st, id, tmp)) throw new Error(`id ${id} taken`);
      return { tmp, dest: join(st.pending, lifecycle.pendingName(j)) };
    };
  } catch (err) {
    log(`dist modules not usable (${err.message}); writing job files by hand`);
    return async (id, command) => {
      const now = Date.now();
      const iso = new Date(now).toISOString();
      const tmp = join(root, 'tmp', `bench.${id}`);
      const j = { id, command, state: 'pending', priority: 0, attempts: 0, max_retries: 0, run_at: iso, available_at: iso, timeout: null, cwd: null, created_at: iso, updated_at: iso };
      const fh = fs.openSync(tmp, 'wx', 0o600);
      fs.writeSync(fh, `${JSON.stringify(j, null, 2)}\n`);
      fs.fsyncSync(fh);
      fs.closeSync(fh);
      return { tmp, dest: join(root, 'pending', `${String(now).padStart(13, '0')}-1000-000-${id}.json`) };
    };
  }
}

// ---- big queues and the idle worker --------------------------------------------------------------

const FILL = join(REPO, 'bench', 'fill.mjs');

/**
 * Memory of a worker process and its helpers, in MB, from /proc/<pid>/status: VmRSS summed, VmHWM of the
 * largest process (`hwm`, what the per-process goal is about) and summed (`hwmTotal`); nulls if unknown.
 */
function procMem(pid) {
  try {
    const all = workerPids(pid).map((p) => {
      const s = fs.readFileSync(`/proc/${p}/status`, 'utf8');
      const kb = (k) => Number(new RegExp(`^${k}:\\s+(\\d+) kB`, 'm').exec(s)?.[1] ?? NaN);
      return { rss: kb('VmRSS') / 1024, hwm: kb('VmHWM') / 1024 };
    });
    const sum = (k) => all.reduce((a, m) => a + m[k], 0);
    return { rss: sum('rss'), hwm: Math.max(...all.map((m) => m.hwm)), hwmTotal: sum('hwm'), processes: all.length };
  } catch {
    return { rss: null, hwm: null, hwmTotal: null, processes: null };
  }
}

/** A fresh root with queuectl's layout (made by a `status` call), so fill.mjs can write into it. */
function newRoot(hint) {
  const root = join(freshDir(hint), 'root');
  const r = qc(['status', '--root', root]);
  if (r.status !== 0) throw new Error(`queuectl status --root ${root}: ${tail(r.stderr)}`);
  return root;
}

/** fill.mjs, then one `sync -f` so the writeback is over before anything is measured. Returns {files, ms, syncMs}. */
function fill(kind, root, n, args = []) {
  const r = run(process.execPath, [FILL, kind, root, String(n), ...args], { timeout: 900_000, killSignal: 'SIGKILL' });
  if (r.status !== 0) throw new Error(`fill.mjs ${kind} ${n}: ${tail(r.stderr) || r.signal}`);
  const out = JSON.parse(r.stdout.trim().split('\n').pop());
  const s = run('sync', ['-f', root], { timeout: 300_000 });
  return { ...out, syncMs: s.ms };
}

const shardOf = (ms) => new Date(ms).toISOString().slice(0, 13).replace(/[-T]/g, '');
/** Files in completed/<shard>/ for the hour shards from t0's to now's (the shards a pass writes into). */
function completedSince(root, t0) {
  let n = 0;
  for (let h = t0 - (t0 % 3_600_000); h <= Date.now(); h += 3_600_000) {
    try {
      n += fs.readdirSync(join(root, 'completed', shardOf(h))).length;
    } catch {}
  }
  return n;
}

/**
 * One claim-throughput pass on an existing root: C workers up (and their first scan of pending/ indexed),
 * then N `true` jobs enqueued with one `enqueue -` call, timed until N more files are in completed/. The
 * bench polls completed/ (10 ms) instead of `wait --all`, which would also wait for the scheduled jobs
 * behind. Returns {wall, cpuMs, mem} or {error}; mem = the worker's VmRSS/VmHWM at the end of the pass.
 */
async function claimPass(root, N, C, tag) {
  const tr = nowNs();
  const w = await startWorker(root, C, { ready: true, readyTimeoutMs: 120_000 });
  if (w.error) return w;
  const readyS = msSince(tr) / 1000;
  try {
    await sleep(300); // let the start-up settle (first reap, timers)
    const before = completedSince(root, Date.now());
    const cpu0 = procCpuMs(w.cp.pid);
    const t0 = Date.now();
    const tn = nowNs();
    const e = qc(['enqueue', '-', '--root', root], { input: ndjson(N, 'true', `${tag}-`), timeout: P.waitTimeoutMs, killSignal: 'SIGKILL' });
    if (e.status !== 0) return { error: `enqueue failed: ${tail(e.stderr) || e.signal}` };
    let done = 0;
    while ((done = completedSince(root, t0) - before) < N) {
      if (msSince(tn) > P.waitTimeoutMs) return { error: `only ${done}/${N} completed after ${P.waitTimeoutMs / 1000} s` };
      if (!live.has(w.cp)) return { error: `worker exited: ${tail(fs.readFileSync(w.logFile, 'utf8'))}` };
      await sleep(10);
    }
    const wall = msSince(tn) / 1000;
    const cpu1 = procCpuMs(w.cp.pid);
    const mem = procMem(w.cp.pid);
    const dead = fs.readdirSync(join(root, 'dead')).length;
    return { wall, readyS, cpuMs: cpu0 !== null && cpu1 !== null ? cpu1 - cpu0 : null, mem, dead };
  } finally {
    await stopWorker(w, root);
  }
}

/**
 * Interleaved claim passes on two roots (baseline first in even reps, second in odd ones, so drift in
 * the machine's load hits both). Returns {base: [...], big: [...]} of passes, or {error}.
 */
async function pairedPasses(baseRoot, bigRoot, label, reps = P.bigReps) {
  const res = { base: [], big: [] };
  for (let rep = 0; rep < reps; rep++) {
    const order = rep % 2 === 0 ? ['base', 'big'] : ['big', 'base'];
    for (const k of order) {
      log(`${label} rep ${rep + 1}/${reps}: ${k}`);
      const r = await claimPass(k === 'base' ? baseRoot : bigRoot, P.tputN, 2, `${k}${rep}`);
      if (r.error) return { error: `${k === 'base' ? 'baseline' : label}: ${r.error}` };
      res[k].push(r);
    }
  }
  return res;
}

/** Wall times of `queuectl status` on two roots, interleaved: one warm-up each, then `runs` each. */
function pairedStatus(rootA, rootB, runs) {
  const a = [], b = [];
  const coldA = qc(['status', '--root', rootA]).ms, coldB = qc(['status', '--root', rootB]).ms;
  for (let i = 0; i < runs; i++) {
    const ra = qc(['status', '--root', rootA]);
    const rb = qc(['status', '--root', rootB]);
    if (ra.status !== 0 || rb.status !== 0) return { error: `status failed: ${tail(ra.stderr || rb.stderr)}` };
    a.push(ra.ms), b.push(rb.ms);
  }
  return { a, b, coldA, coldB };
}

function statusCounts(root) {
  try {
    return JSON.parse(qc(['status', '--json', '--root', root]).stdout).counts;
  } catch {
    return null;
  }
}

const walls = (ps) => ps.map((p) => p.wall);
const secs = (ws) => ws.map((w) => w.toFixed(2)).join(', ');
const mss = (ws) => ws.map((w) => w.toFixed(0)).join(', ');
const cpuPerJob = (ps) => median(ps.map((p) => p.cpuMs / P.tputN)).toFixed(2);
/** " ; N in dead/" when a pass left jobs there (none should: every job is `true`). */
const deadNote = (ps) => (ps.some((p) => p.dead) ? `; CHECK: dead/ holds ${ps.map((p) => p.dead).join(', ')} after the passes` : '');
/** Ratios of passes run back to back (rep i of both). */
const pairedRatios = (big, base) => big.map((p, i) => base[i].wall / p.wall);

/**
 * (e) 100,000 jobs pending, and (e') 1,000,000. BEHIND `true` jobs scheduled a day ahead (written by
 * fill.mjs) sit behind the 1,000 that are claimed, so the worker's index sees 100,000 (1,000,000) names
 * while it runs them; the baseline is the same pass on a root where the 1,000 are all there is. Then
 * `status` with 1,000 more scheduled ones in both roots, and the worker's RSS.
 */
function pendingFigure({ label, behind, reps, goals }) {
  return async () => {
    const N = P.tputN;
    const names = {
      tput: `${label} pending: claim throughput, ${N} true at the front, C=2`,
      status: `${label} pending: queuectl status, wall`,
      rss: `${label} pending: worker RSS (VmHWM)`,
    };
    const fail = (msg) => [naRow(names.tput, msg), naRow(names.status, msg), naRow(names.rss, msg)];
    const baseRoot = newRoot(`p1k-${label}`);
    const bigRoot = newRoot(`p${label}`);
    removeLater(bigRoot);
    const later = Date.now() + 86_400_000;
    log(`${label} pending: writing ${behind.toLocaleString('en')} scheduled jobs`);
    const f = fill('pending', bigRoot, behind, ['--at', String(later), '--prefix', 'p']);
    const passes = await pairedPasses(baseRoot, bigRoot, `${label} pending`, reps);
    if (passes.error) return fail(passes.error);
    // status: 1,000 more scheduled jobs in both roots.
    fill('pending', bigRoot, 1000, ['--at', String(later + 1), '--prefix', 's']);
    fill('pending', baseRoot, 1000, ['--at', String(later + 1), '--prefix', 's']);
    const counts = statusCounts(bigRoot);
    const held = counts ? counts.pending + counts.scheduled + counts.failed : null;
    const st = pairedStatus(baseRoot, bigRoot, 5);
    const { base, big } = passes;
    const rate = (ps) => N / median(walls(ps));
    const fillNote = `${behind.toLocaleString('en')} files written by bench/fill.mjs in ${(f.ms / 1000).toFixed(1)} s + sync ${(f.syncMs / 1000).toFixed(1)} s`;
    const rows = [
      row({
        name: names.tput, unit: 'jobs/s', value: rate(big), baseline: rate(base), baselineName: `same with ${N.toLocaleString('en')} pending`,
        goal: { of: 'ratio', op: '>=', target: goals.claims },
        note: `${behind.toLocaleString('en')} scheduled a day later behind them; enqueue (one CLI call) -> ${N} more in completed/, workers already up and their first scan done (time to ready: ${secs(big.map((p) => p.readyS))} s vs ${secs(base.map((p) => p.readyS))} s); passes interleaved: ${label} ${secs(walls(big))} s, 1k ${secs(walls(base))} s; paired ratios ${pairedRatios(big, base).map((x) => x.toFixed(2)).join(', ')} (median ${median(pairedRatios(big, base)).toFixed(2)}x); worker CPU ${cpuPerJob(big)} vs ${cpuPerJob(base)} ms/job; ${fillNote}${deadNote([...big, ...base])}`,
      }),
    ];
    if (st.error) rows.push(naRow(names.status, st.error));
    else {
      rows.push(row({
        name: names.status, unit: 'ms', value: median(st.b), baseline: median(st.a), baselineName: 'same with 1,000 pending',
        goal: { of: 'value', op: '<=', target: goals.statusMs },
        note: `median of ${st.b.length} (${mss(st.b)} ms) after a warm-up call (${st.coldB.toFixed(0)} ms; it lists pending/ when its count cache is missing or stale), no worker running; status counts ${held === null ? '?' : held.toLocaleString('en')} pending (scheduled); 1k: ${mss(st.a)} ms`,
      }));
    }
    const hwm = (ps) => Math.max(...ps.map((p) => p.mem.hwm));
    rows.push(row({
      name: names.rss, unit: 'MB', value: hwm(big), baseline: hwm(base), baselineName: `same with ${N.toLocaleString('en')} pending`,
      goal: { of: 'value', op: '<=', target: goals.rssMb },
      note: `peak RSS of the largest worker process (${big[0].mem.processes} for --count 2; all of them: ${big.map((p) => p.mem.hwmTotal.toFixed(0)).join(', ')} MB) from its start over a claim pass (the index of ${behind.toLocaleString('en')} scheduled + the ${N} claimed); VmRSS of all its processes at the end of the passes ${big.map((p) => p.mem.rss.toFixed(0)).join(', ')} MB (1k: ${base.map((p) => p.mem.rss.toFixed(0)).join(', ')} MB)`,
    }));
    return rows;
  };
}
// issue 14's goals.
const figPending100k = pendingFigure({ label: '100k', behind: 99_000, reps: P.bigReps, goals: { claims: 0.9, statusMs: 300, rssMb: 110 } });
const figPending1m = pendingFigure({ label: '1M', behind: 999_000, reps: QUICK ? 1 : 3, goals: { claims: 0.8, statusMs: 400, rssMb: 200 } });

/**
 * (f) 1,000,000 completed jobs kept (100,000 in --quick): spread over the 168 closed hour shards of the
 * last 7 days, as the default retention (7 days) leaves them, plus 50 in the current hour. `status` and
 * claim throughput vs a root with no completed jobs. The files are removed at the end of the bench.
 */
async function figCompleted1m() {
  const N = P.tputN, KEPT = QUICK ? 100_000 : 1_000_000, CURRENT = 50;
  const k = QUICK ? '100k' : '1M';
  const names = {
    status: `${k} completed kept: queuectl status, wall`,
    tput: `${k} completed kept: claim throughput, ${N} true, C=2`,
  };
  const baseRoot = newRoot('c0');
  const bigRoot = newRoot('c1m');
  removeLater(bigRoot);
  log(`${k} completed: writing ${(KEPT + CURRENT).toLocaleString('en')} finished jobs over 168 hour shards + the current one`);
  const f = fill('completed', bigRoot, KEPT, ['--shards', '168', '--current', String(CURRENT), '--prefix', 'c']);
  const fillNote = `${f.files.toLocaleString('en')} files (${(f.bytes / 1e6).toFixed(0)} MB of JSON) written by bench/fill.mjs in ${(f.ms / 1000).toFixed(1)} s + sync ${(f.syncMs / 1000).toFixed(1)} s${QUICK ? '; --quick: 100,000, not 1,000,000' : ''}`;
  // The first status counts each closed shard by listing it and caches the count (completed/<shard>.count).
  const cold = qc(['status', '--root', bigRoot], { timeout: 300_000 });
  const counts = statusCounts(bigRoot);
  const st = pairedStatus(baseRoot, bigRoot, QUICK ? 5 : 7);
  const rows = [];
  if (cold.status !== 0 || st.error) rows.push(naRow(names.status, st.error ?? `status failed: ${tail(cold.stderr)}`));
  else {
    rows.push(row({
      name: names.status, unit: 'ms', value: median(st.b), baseline: median(st.a), baselineName: 'same with none',
      goal: { of: 'ratio', op: '<=', target: 1.1 },
      note: `median of ${st.b.length} interleaved (${mss(st.b)} ms; none: ${mss(st.a)} ms); the first call, which lists every closed shard and writes its .count cache, took ${cold.ms.toFixed(0)} ms; status counts ${counts?.completed?.toLocaleString('en') ?? '?'} completed; ${fillNote}`,
    }));
  }
  const passes = await pairedPasses(baseRoot, bigRoot, `${k} completed`);
  if (passes.error) rows.push(naRow(names.tput, passes.error));
  else {
    const { base, big } = passes;
    const rate = (ps) => N / median(walls(ps));
    rows.push(row({
      name: names.tput, unit: 'jobs/s', value: rate(big), baseline: rate(base), baselineName: 'same with none',
      goal: { of: 'ratio', op: '>=', target: 0.9 },
      note: `enqueue (one CLI call) -> ${N} more in completed/, workers already up; passes interleaved: ${k} ${secs(walls(big))} s, none ${secs(walls(base))} s; paired ratios ${pairedRatios(big, base).map((x) => x.toFixed(2)).join(', ')} (median ${median(pairedRatios(big, base)).toFixed(2)}x); worker CPU ${cpuPerJob(big)} vs ${cpuPerJob(base)} ms/job${deadNote([...big, ...base])}`,
    }));
  }
  return rows;
}

/**
 * (g) An idle worker (1 worker, 0 jobs): CPU over 10 s from /proc/<pid>/stat and its RSS, next to an idle
 * `node` with a 1-second timer measured over the same 10 s.
 */
async function figIdle() {
  const SECS = 10;
  const names = { cpu: `idle worker, 0 jobs: CPU over ${SECS} s`, rss: 'idle worker, 0 jobs: RSS' };
  const root = join(freshDir('idle'), 'root');
  const w = await startWorker(root, 1, { ready: true });
  if (w.error) return [naRow(names.cpu, w.error), naRow(names.rss, w.error)];
  const bare = startBg(process.execPath, ['-e', 'setInterval(() => {}, 1000)']);
  try {
    await sleep(1500); // past start-up: first heartbeat, reap and stats flush
    const c0 = procCpuMs(w.cp.pid), b0 = procCpuMs(bare.pid);
    await sleep(SECS * 1000);
    const c1 = procCpuMs(w.cp.pid), b1 = procCpuMs(bare.pid);
    const m = procMem(w.cp.pid), bm = procMem(bare.pid);
    const pct = (a, b) => (a === null || b === null ? null : ((b - a) / (SECS * 1000)) * 100);
    return [
      row({
        name: names.cpu, unit: '%', value: pct(c0, c1), baseline: pct(b0, b1), baselineName: 'idle node with a 1 s timer',
        goal: { of: 'value', op: '<=', target: 1 },
        note: `utime+stime of the worker process (${(c1 - c0).toFixed(0)} ms over ${SECS} s; clock ticks of 10 ms); it wakes for its heartbeat (1 s), recovery pass (5 s), rescan of pending/ (5 s)`,
      }),
      row({
        name: names.rss, unit: 'MB', value: m.rss, baseline: bm.rss, baselineName: 'idle node with a 1 s timer',
        note: `VmRSS after ${SECS + 1.5} s idle; VmHWM ${m.hwm?.toFixed(1)} MB (bare node ${bm.hwm?.toFixed(1)} MB)`,
      }),
    ];
  } finally {
    await stopBg(bare, 1000);
    await stopWorker(w, root);
  }
}

/**
 * Scratch roots are removed at the end, after every measurement, never between passes: on ext4 without a
 * journal (this VM's disk), every file created in the next minutes is slower for each inode just freed
 * (the kernel's find_inode_bit -> recently_deleted() scan, seen with perf), so a pass run after another
 * pass's root was deleted measured the deletion more than queuectl.
 */
const toRemove = [];
function removeLater(dir) {
  toRemove.push(dir);
}
function removeScratch() {
  const t0 = nowNs();
  for (const dir of toRemove.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
  log(`removed the scratch roots in ${(msSince(t0) / 1000).toFixed(1)} s`);
}

/** Median wall time of creating one small file (open O_CREAT|O_EXCL + write + close) in a fresh folder, in us. */
function fileCreateUs(n = 300) {
  const dir = freshDir('probe');
  const t = [];
  for (let i = 0; i < n; i++) {
    const t0 = nowNs();
    fs.writeFileSync(join(dir, `f${i}`), 'x'.repeat(300), { flag: 'wx', mode: 0o600 });
    t.push(Number(nowNs() - t0) / 1e3);
  }
  return median(t);
}

/** The figures, in table order. */
const FIGURES = [
  { key: 'enqueue-cli', run: figEnqueueCli },
  { key: 'enqueue-batch', run: figEnqueueBatch },
  { key: 'throughput', run: figThroughput },
  { key: 'latency', run: figLatency },
  { key: 'pending-100k', run: figPending100k },
  { key: 'pending-1m', run: figPending1m },
  { key: 'completed-1m', run: figCompleted1m },
  { key: 'idle', run: figIdle },
];

// ---- the table --------------------------------------------------------------------------------------

function fmt(v, unit) {
  if (typeof v !== 'number' || !Number.isFinite(v)) return '';
  if (unit === 'ms') return `${v < 10 ? v.toFixed(2) : v.toFixed(1)} ms`;
  if (unit === 'jobs/s') return `${Math.round(v).toLocaleString('en')} jobs/s`;
  if (unit === 'MB') return `${v.toFixed(1)} MB`;
  if (unit === '%') return `${v.toFixed(2)} %`;
  return `${v.toPrecision(4)} ${unit}`;
}
function goalText(g, unit = '') {
  if (!g) return '';
  return g.of === 'ratio' ? `ratio ${g.op} ${g.target}` : `${g.op} ${g.target.toLocaleString('en')}${unit ? ` ${unit}` : ''}`;
}

function machine() {
  const cpus = os.cpus();
  const fsType = run('findmnt', ['-n', '-o', 'FSTYPE', '-T', WORK]).stdout.trim() || run('stat', ['-f', '-c', '%T', WORK]).stdout.trim();
  const commit = run('git', ['-C', REPO, 'rev-parse', '--short', 'HEAD']).stdout.trim();
  const dirty = run('git', ['-C', REPO, 'status', '--porcelain', '--untracked-files=no']).stdout.trim() ? '+uncommitted' : '';
  let distNote = '';
  // Only for the repo's own dist/: a QUEUECTL_CLI build has its own sources.
  if (!process.env.QUEUECTL_CLI) {
    try {
      const distM = fs.statSync(CLI).mtimeMs;
      const newer = run('find', [join(REPO, 'src'), '-name', '*.ts', '-newermt', `@${Math.floor(distM / 1000)}`]).stdout.trim();
      if (newer) distNote = ' (some src/ files are newer than dist/: rebuild with npx tsc -p .)';
    } catch {
      distNote = ' (dist/cli/index.js missing: build with npx tsc -p .)';
    }
  }
  return {
    date: new Date().toISOString(),
    host: os.hostname(),
    cores: cpus.length,
    cpu: cpus[0]?.model ?? '?',
    node: process.version,
    os: `${os.type()} ${os.release()}`,
    fs: `${fsType} (${os.tmpdir()})`,
    commit: `${commit}${dirty}${distNote}${process.env.QUEUECTL_CLI ? `; CLI ${CLI}` : ''}`,
    mode: QUICK ? 'quick' : 'full',
    loadStart: os.loadavg()[0],
    createUs: fileCreateUs(),
  };
}

function render(m, rows) {
  const notes = [];
  const lines = rows.map((r) => {
    let noteRef = '';
    if (r.note || r.baselineNa) {
      notes.push([r.note, r.baselineNa && `baseline: ${r.baselineNa}`].filter(Boolean).join('; '));
      noteRef = `[${notes.length}]`;
    }
    return [
      r.name,
      r.na ?? fmt(r.value, r.unit),
      r.baselineName ? `${r.baselineName}: ${typeof r.baseline === 'number' ? fmt(r.baseline, r.unit) : 'n/a'}` : '',
      r.ratio === null ? '' : `${r.ratio.toFixed(2)}x`,
      goalText(r.goal, r.unit),
      r.ok === null ? (r.goal ? '?' : '') : r.ok ? 'ok' : 'MISS',
      noteRef,
    ];
  });
  const head = ['figure', 'queuectl / value', 'baseline', 'ratio', 'goal', 'ok', 'note'];
  const w = head.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i].length)));
  const fmtLine = (l) => l.map((c, i) => c.padEnd(w[i])).join('  ').trimEnd();
  const out = [
    `queuectl bench (${m.mode}) ${m.date}`,
    `machine: ${m.cores} cores, ${m.cpu}; Node ${m.node}; ${m.os}; fs ${m.fs}; host ${m.host}`,
    `queuectl: ${m.commit}`,
    `load average (1 min): ${m.loadStart.toFixed(2)} at start, ${m.loadEnd.toFixed(2)} at end${Math.max(m.loadStart, m.loadEnd) > m.cores ? ' -- busy machine: trust the ratios more than the absolute figures' : ''}`,
    `creating a small file: ${m.createUs.toFixed(0)} us at start, ${m.createUsEnd.toFixed(0)} us at end (median of 300; 15-100 us on a calm disk, up to ~1 ms for minutes after many files were deleted)`,
    '',
    fmtLine(head),
    fmtLine(w.map((n) => '-'.repeat(n))),
    ...lines.map(fmtLine),
    '',
    ...notes.map((n, i) => `[${i + 1}] ${n}`),
  ];
  return `${out.join('\n')}\n`;
}

// ---- main -------------------------------------------------------------------------------------------

async function main() {
  const t0 = nowNs();
  const m = machine();
  log(`${m.mode} run; scratch ${WORK}`);
  if (!fs.existsSync(CLI)) log(`warning: ${CLI} is missing; queuectl rows will fail (build with npx tsc -p .)`);
  const rows = [];
  try {
    for (const f of FIGURES) {
      if (ONLY && !ONLY.has(f.key)) continue;
      log(`figure ${f.key}`);
      try {
        const r = await f.run();
        rows.push(...(Array.isArray(r) ? r : [r]));
      } catch (err) {
        rows.push(naRow(f.key, `error: ${err?.message ?? err}`));
        log(`figure ${f.key} failed: ${err?.stack ?? err}`);
      }
    }
  } finally {
    await stopRedis();
    for (const cp of [...live]) await stopBg(cp, 2000);
    m.loadEnd = os.loadavg()[0];
    m.createUsEnd = fileCreateUs(); // before the scratch roots are removed
  }
  // The table first: removing 2,000,000 files takes minutes on this disk (see BENCHMARKS.md, "The disk").
  const text = render(m, rows);
  process.stdout.write(text);
  const secs = msSince(t0) / 1000;
  process.stdout.write(`(bench took ${secs.toFixed(0)} s, before removing its scratch roots)\n`);
  fs.mkdirSync(OUT_DIR, { recursive: true });
  const stem = join(OUT_DIR, `bench-${m.date.replace(/[:.]/g, '-')}-${m.mode}`);
  fs.writeFileSync(`${stem}.txt`, text);
  fs.writeFileSync(`${stem}.json`, `${JSON.stringify({ machine: m, params: P, seconds: secs, rows }, null, 2)}\n`);
  log(`written ${stem}.txt and .json`);
  removeScratch();
}

main().then(
  () => cleanupSync(),
  (err) => {
    log(`bench failed: ${err?.stack ?? err}`);
    cleanupSync();
    process.exitCode = 1;
  },
);
