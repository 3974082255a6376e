#!/usr/bin/env node
// Where a worker's main thread spends its time, and what a spawn costs. Tools for BENCHMARKS.md:
//
//   node bench/profile.mjs worker [--jobs 1000] [--count 2] [--behind 0] [--keep DIR]
//       Runs `node --cpu-prof --cpu-prof-dir=DIR dist/cli/index.js worker start --count C --root R`,
//       enqueues JOBS `true` jobs (one `enqueue -` call) once the workers are ready, waits until they are
//       all in completed/, stops the worker (SIGTERM: graceful) and summarises the profile: self time by
//       function and by module, with the share of the profiled wall time. --behind N first writes N jobs
//       scheduled a day later (bench/fill.mjs), so the index holds N more names while the jobs run.
//       --keep DIR keeps the .cpuprofile there (open it in Chrome DevTools or speedscope).
//
//   node bench/profile.mjs summary FILE.cpuprofile [--jobs N]   the same summary for any profile
//
//   node bench/profile.mjs status [--pending N] [--completed N]
//       `queuectl status` under --cpu-prof (100 us sampling) on a root with N scheduled jobs in pending/,
//       or N finished jobs over 168 hour shards (their .count caches written by a first status call).
//
//   node bench/profile.mjs index-mem [--n 100000]
//       Heap and RSS that the worker's pending index (dist/pending-index.js) takes for N names, and the
//       time and transient memory of one rescan (readdir of N names).
//
//   node bench/profile.mjs processes [--reps 5] [--jobs 1000]
//       Throughput of one worker process with --count 2 against two worker processes with --count 1.
//
//   node bench/profile.mjs spawn-cost [--n 300]
//       The synchronous part of child_process.spawn (where libuv forks) at growing RSS of the parent,
//       execa's extra JS per call over spawn, and the CPU cost of a promise-based fs call vs a sync one.

import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import { promises as fsp } from 'node:fs';
import os from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const CLI = process.env.QUEUECTL_CLI ? resolve(process.env.QUEUECTL_CLI) : join(REPO, 'dist', 'cli', 'index.js');
const argv = process.argv.slice(2);
const cmd = argv[0];
const opt = (name, def) => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? argv[i + 1] : def;
};
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const out = (s = '') => process.stdout.write(`${s}\n`);

// ---- profile summary --------------------------------------------------------------------------------

/** Module of a call frame: a package (node_modules/<pkg>), a dist/ file, node:internal, or a V8 pseudo-frame. */
function moduleOf(url, fn) {
  if (!url) return fn.startsWith('(') ? fn : '(native)';
  const nm = url.lastIndexOf('node_modules/');
  if (nm >= 0) {
    const rest = url.slice(nm + 'node_modules/'.length).split('/');
    return rest[0].startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0];
  }
  const d = url.indexOf('/dist/');
  if (d >= 0) return `queuectl ${url.slice(d + 1)}`;
  if (url.startsWith('node:')) return url.replace(/^node:internal\/(.*)$/, 'node:$1').split('/').slice(0, 2).join('/');
  return basename(url);
}

/**
 * Self time by step of a worker's job (the profile's samples put in buckets by the frame and its callers):
 * what bench/profile.mjs worker prints per job.
 */
function bySteps(profile, jobs) {
  const { nodes, samples, timeDeltas } = profile;
  const byId = new Map(nodes.map((n) => [n.id, n]));
  const parent = new Map();
  for (const n of nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const under = (id, re) => {
    for (let x = id, k = 0; x && k < 40; x = parent.get(x), k++) {
      const f = byId.get(x).callFrame;
      if (re.test(f.url) || re.test(f.functionName)) return true;
    }
    return false;
  };
  const steps = new Map();
  const add = (k, us) => steps.set(k, (steps.get(k) ?? 0) + us);
  const SYNC_FS = new Set(['open', 'close', 'writeBuffer', 'rename', 'readFileUtf8', 'lstat', 'existsSync', 'mkdir', 'unlink']);
  samples.forEach((id, i) => {
    const us = timeDeltas[i] ?? 0;
    const { functionName: fn, url = '' } = byId.get(id).callFrame;
    if (fn === '(idle)') add('idle (waiting for children, events)', us);
    else if (fn === 'ChildProcess.spawn') add('child_process spawn() call: fork + exec in libuv', us);
    else if (fn === '(garbage collector)') add('garbage collector', us);
    else if (/readdirp|chokidar/.test(url) || under(id, /readdirp|chokidar/)) add('chokidar (its start-up walk lstats every file)', us);
    else if (/node_modules\/execa/.test(url) || under(id, /node_modules\/execa/)) add('execa JS (options, env, streams, promises)', us);
    else if (!url && SYNC_FS.has(fn)) add('synchronous fs calls (claim, read, final record)', us);
    else if (/pending-index|heap\.js/.test(url) || under(id, /doRescan/)) add('pending index and its rescans', us);
    else if (/\/dist\//.test(url)) add('other queuectl JS', us);
    else add('other Node internals (streams, timers, events, module loading)', us);
  });
  out('');
  out(`self time by step${jobs ? `, per job of ${jobs}` : ''}:`);
  for (const [k, us] of [...steps].sort((a, b) => b[1] - a[1])) out(`${(us / 1000).toFixed(0).padStart(8)} ms${jobs ? `  ${(us / 1000 / jobs).toFixed(2).padStart(5)} ms/job` : ''}  ${k}`);
}

export function summarise(profile, top = 30, jobs = 0) {
  const { nodes, samples, timeDeltas } = profile;
  const byId = new Map(nodes.map((n) => [n.id, n]));
  const self = new Map(); // node id -> us
  for (let i = 0; i < samples.length; i++) self.set(samples[i], (self.get(samples[i]) ?? 0) + (timeDeltas[i] ?? 0));
  const total = (profile.endTime - profile.startTime) || [...self.values()].reduce((a, b) => a + b, 0);
  const fns = new Map(), mods = new Map();
  let idle = 0;
  for (const [id, us] of self) {
    const f = byId.get(id).callFrame;
    const name = f.functionName || '(anonymous)';
    if (name === '(idle)') {
      idle += us;
      continue;
    }
    const mod = moduleOf(f.url, name);
    const key = `${name}  ${f.url ? `${mod}:${f.lineNumber + 1}` : mod}`;
    fns.set(key, (fns.get(key) ?? 0) + us);
    mods.set(mod, (mods.get(mod) ?? 0) + us);
  }
  const busy = total - idle;
  const pct = (us) => `${((us / total) * 100).toFixed(1).padStart(5)}%`;
  const ms = (us) => `${(us / 1000).toFixed(1).padStart(8)} ms`;
  out(`profiled ${(total / 1e6).toFixed(2)} s of wall time: main thread busy ${(busy / 1000).toFixed(0)} ms (${((busy / total) * 100).toFixed(1)}%), idle ${(idle / 1000).toFixed(0)} ms`);
  out('');
  out('self time by module (share of wall time):');
  for (const [m, us] of [...mods].sort((a, b) => b[1] - a[1]).slice(0, 20)) out(`${ms(us)} ${pct(us)}  ${m}`);
  out('');
  out(`self time by function, top ${top}:`);
  for (const [k, us] of [...fns].sort((a, b) => b[1] - a[1]).slice(0, top)) out(`${ms(us)} ${pct(us)}  ${k}`);
  if (jobs) bySteps(profile, jobs);
  return { totalUs: total, busyUs: busy, idleUs: idle };
}

// ---- worker profile ---------------------------------------------------------------------------------

async function profileWorker() {
  const N = Number(opt('jobs', 1000));
  const C = Number(opt('count', 2));
  const behind = Number(opt('behind', 0));
  const work = fs.mkdtempSync(join(os.tmpdir(), 'queuectl-prof-'));
  const root = join(work, 'root');
  const profDir = join(work, 'prof');
  const keep = opt('keep', null);
  try {
    const qc = (args, o = {}) => spawnSync(process.execPath, [CLI, ...args, '--root', root], { encoding: 'utf8', ...o });
    qc(['status']);
    if (behind > 0) {
      const r = spawnSync(process.execPath, [join(REPO, 'bench', 'fill.mjs'), 'pending', root, String(behind), '--at', String(Date.now() + 86_400_000)], { encoding: 'utf8' });
      if (r.status !== 0) throw new Error(`fill.mjs: ${r.stderr}`);
      spawnSync('sync', ['-f', root]);
      out(`wrote ${behind} jobs scheduled a day later: ${r.stdout.trim()}`);
    }
    const logFile = join(work, 'worker.log');
    const fd = fs.openSync(logFile, 'w');
    // --processes 1: one process, the one profiled.
    const w = spawn(process.execPath, ['--cpu-prof', `--cpu-prof-dir=${profDir}`, CLI, 'worker', 'start', '--count', String(C), '--processes', '1', '--root', root], { stdio: ['ignore', fd, fd] });
    fs.closeSync(fd);
    const exited = new Promise((r) => w.once('exit', r));
    for (let i = 0; !/ ready \(pid/.test(fs.readFileSync(logFile, 'utf8')); i++) {
      if (i > 1000 || w.exitCode !== null) throw new Error(`worker did not start: ${fs.readFileSync(logFile, 'utf8')}`);
      await sleep(10);
    }
    await sleep(300);
    let s = '';
    for (let i = 0; i < N; i++) s += `{"id":"j${i}","command":"true"}\n`;
    const t0 = Date.now();
    const e = qc(['enqueue', '-'], { input: s });
    if (e.status !== 0) throw new Error(`enqueue: ${e.stderr}`);
    const shard = () => new Date().toISOString().slice(0, 13).replace(/[-T]/g, '');
    const count = () => {
      try {
        return fs.readdirSync(join(root, 'completed', shard())).length;
      } catch {
        return 0;
      }
    };
    while (count() < N) {
      if (Date.now() - t0 > 300_000) throw new Error('jobs did not complete in 5 min');
      await sleep(20);
    }
    const wall = (Date.now() - t0) / 1000;
    const status = fs.readFileSync(`/proc/${w.pid}/status`, 'utf8');
    const rss = /VmRSS:\s+(\d+)/.exec(status)[1] / 1024, hwm = /VmHWM:\s+(\d+)/.exec(status)[1] / 1024;
    w.kill('SIGTERM');
    await exited;
    const file = fs.readdirSync(profDir).find((f) => f.endsWith('.cpuprofile'));
    if (!file) throw new Error('no .cpuprofile written');
    out(`${N} jobs of true, ${C} workers${behind ? `, ${behind} scheduled behind` : ''}: ${wall.toFixed(2)} s from enqueue to the last in completed/ (${(N / wall).toFixed(0)} jobs/s); worker RSS ${rss.toFixed(0)} MB, peak ${hwm.toFixed(0)} MB`);
    out('(the profile covers the whole worker process: start-up, the run, and the graceful stop)');
    out('');
    summarise(JSON.parse(fs.readFileSync(join(profDir, file), 'utf8')), Number(opt('top', 30)), N);
    if (keep) {
      fs.mkdirSync(keep, { recursive: true });
      fs.copyFileSync(join(profDir, file), join(keep, file));
      out(`\nprofile kept: ${join(keep, file)}`);
    }
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
}

// ---- status profile ---------------------------------------------------------------------------------

/** `queuectl status` under --cpu-prof on a root with --pending N scheduled jobs or --completed N over 168 hour shards. */
async function profileStatus() {
  const pending = Number(opt('pending', 0)), completed = Number(opt('completed', 0));
  const work = fs.mkdtempSync(join(os.tmpdir(), 'queuectl-prof-'));
  const root = join(work, 'root');
  try {
    spawnSync(process.execPath, [CLI, 'status', '--root', root]);
    const fill = (...a) => {
      const r = spawnSync(process.execPath, [join(REPO, 'bench', 'fill.mjs'), ...a], { encoding: 'utf8' });
      if (r.status !== 0) throw new Error(r.stderr);
    };
    if (pending) fill('pending', root, String(pending), '--at', String(Date.now() + 86_400_000));
    if (completed) fill('completed', root, String(completed), '--shards', '168', '--current', '50');
    spawnSync('sync', ['-f', root]);
    const walls = [];
    for (let i = 0; i < 6; i++) {
      const t0 = process.hrtime.bigint();
      spawnSync(process.execPath, [CLI, 'status', '--root', root]); // the first also writes the .count caches
      walls.push(Number(process.hrtime.bigint() - t0) / 1e6);
    }
    const profDir = join(work, 'prof');
    spawnSync(process.execPath, ['--cpu-prof', `--cpu-prof-dir=${profDir}`, '--cpu-prof-interval', '100', CLI, 'status', '--root', root]);
    out(`status on ${pending ? `${pending} pending` : ''}${completed ? `${completed} completed over 168 hour shards + 50 in the current hour` : ''}${!pending && !completed ? 'an empty root' : ''}: wall ${walls.map((w) => w.toFixed(0)).join(', ')} ms (the first writes the .count caches)`);
    out('');
    summarise(JSON.parse(fs.readFileSync(join(profDir, fs.readdirSync(profDir)[0]), 'utf8')), Number(opt('top', 20)));
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
}

// ---- one process with --count 2 vs two processes -------------------------------------------------------

/** 1,000 `true` jobs (enqueue -, then wait --all): one worker process with --count 2 vs two with --count 1. */
async function processes() {
  const reps = Number(opt('reps', 5)), N = Number(opt('jobs', 1000));
  const dirs = [];
  const pass = async (procs, count) => {
    const dir = fs.mkdtempSync(join(os.tmpdir(), 'queuectl-procs-'));
    dirs.push(dir);
    const root = join(dir, 'root');
    spawnSync(process.execPath, [CLI, 'status', '--root', root]);
    const ws = [];
    for (let i = 0; i < procs; i++) {
      const fd = fs.openSync(join(dir, `w${i}.log`), 'w');
      // --processes 1: each process as started here (`worker start --count 2` would otherwise be two).
      ws.push(spawn(process.execPath, [CLI, 'worker', 'start', '--count', String(count), '--processes', '1', '--root', root], { stdio: ['ignore', fd, fd] }));
      fs.closeSync(fd);
    }
    for (let i = 0; i < procs; i++) while (!/ ready \(pid/.test(fs.readFileSync(join(dir, `w${i}.log`), 'utf8'))) await sleep(20);
    await sleep(300);
    let s = '';
    for (let i = 0; i < N; i++) s += '{"command":"true"}\n';
    const t0 = process.hrtime.bigint();
    spawnSync(process.execPath, [CLI, 'enqueue', '-', '--root', root], { input: s });
    spawnSync(process.execPath, [CLI, 'wait', '--all', '--root', root]);
    const wall = Number(process.hrtime.bigint() - t0) / 1e9;
    const exited = ws.map((w) => new Promise((r) => w.once('exit', r)));
    for (const w of ws) w.kill('SIGTERM');
    await Promise.all(exited);
    return N / wall;
  };
  const res = { one: [], two: [] };
  try {
    // Interleaved, the order swapped every repetition; nothing deleted until the end (see BENCHMARKS.md).
    for (let rep = 0; rep < reps; rep++) {
      for (const k of rep % 2 ? ['two', 'one'] : ['one', 'two']) res[k].push(k === 'one' ? await pass(1, 2) : await pass(2, 1));
    }
  } finally {
    for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
  }
  out(`${N} true jobs, enqueue - then wait --all, ${reps} interleaved repetitions:`);
  out(`  one process, --count 2:    ${res.one.map((r) => r.toFixed(0)).join(', ')} jobs/s`);
  out(`  two processes, --count 1:  ${res.two.map((r) => r.toFixed(0)).join(', ')} jobs/s`);
}

// ---- spawn cost ------------------------------------------------------------------------------------

async function spawnCost() {
  const N = Number(opt('n', 300));
  const rssMb = () => Number(/VmRSS:\s+(\d+)/.exec(fs.readFileSync('/proc/self/status', 'utf8'))[1]) / 1024;
  const cpuUs = () => {
    const u = process.cpuUsage();
    return u.user + u.system;
  };
  /** Median wall time of the synchronous spawn() call (fork/exec in libuv), children run one at a time. */
  const spawnCall = async () => {
    const t = [];
    for (let i = 0; i < N; i++) {
      const t0 = process.hrtime.bigint();
      const cp = spawn('/bin/sh', ['-c', 'true'], { stdio: 'ignore', detached: true });
      t.push(Number(process.hrtime.bigint() - t0) / 1e3);
      await new Promise((r) => cp.once('exit', r));
    }
    t.sort((a, b) => a - b);
    return t[t.length >> 1];
  };
  out('synchronous part of child_process.spawn(/bin/sh -c true) vs the parent\'s RSS (median of ' + N + '):');
  const ballast = [];
  for (const target of [0, 100, 200]) {
    // Grow the RSS with touched, live memory (like a big index would).
    while (rssMb() < target) ballast.push(Buffer.alloc(8 << 20, 1));
    const us = await spawnCall();
    out(`  RSS ${rssMb().toFixed(0).padStart(4)} MB: spawn() ${(us / 1000).toFixed(2)} ms`);
  }
  ballast.length = 0;

  const { execa } = await import(join(REPO, 'node_modules', 'execa', 'index.js'));
  // Whole life of one child, start to exit handled, one at a time, the two kinds alternating: the fork is
  // the same for both, so the difference is execa's own JS (options, env, streams, promise plumbing).
  const kinds = {
    spawn: () => new Promise((r) => {
      const cp = spawn('/bin/sh', ['-c', 'true'], { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
      cp.stdout.on('data', () => {});
      cp.stderr.on('data', () => {});
      cp.once('close', r);
    }),
    execa: () => execa('/bin/sh', ['-c', 'true'], { stdin: 'ignore', buffer: false, reject: false, detached: true, extendEnv: true, env: { QUEUECTL_JOB_ID: 'x' }, stripFinalNewline: false }),
  };
  const cpu = { spawn: [], execa: [] }, wall = { spawn: [], execa: [] };
  for (let i = 0; i < 2 * N; i++) {
    const k = i % 2 ? 'execa' : 'spawn';
    const c0 = cpuUs();
    const t0 = process.hrtime.bigint();
    await kinds[k]();
    wall[k].push(Number(process.hrtime.bigint() - t0) / 1e3);
    cpu[k].push(cpuUs() - c0);
  }
  const med = (a) => [...a].sort((x, y) => x - y)[a.length >> 1] / 1000;
  out('');
  out(`one child start to exit, parent CPU (user+sys, all threads) and wall, median of ${N} each, alternating, RSS ${rssMb().toFixed(0)} MB:`);
  out(`  child_process.spawn: CPU ${med(cpu.spawn).toFixed(2)} ms, wall ${med(wall.spawn).toFixed(2)} ms`);
  out(`  execa:               CPU ${med(cpu.execa).toFixed(2)} ms, wall ${med(wall.execa).toFixed(2)} ms  (+${(med(cpu.execa) - med(cpu.spawn)).toFixed(2)} ms CPU)`);

  const dir = fs.mkdtempSync(join(os.tmpdir(), 'queuectl-fs-'));
  try {
    const f = join(dir, 'f');
    fs.writeFileSync(f, 'x');
    const M = 2000;
    let c0 = cpuUs();
    for (let i = 0; i < M; i++) fs.statSync(f);
    const syncUs = (cpuUs() - c0) / M;
    c0 = cpuUs();
    let t0 = process.hrtime.bigint();
    for (let i = 0; i < M; i++) await fsp.stat(f);
    const asyncUs = (cpuUs() - c0) / M;
    const asyncWall = Number(process.hrtime.bigint() - t0) / 1e3 / M;
    c0 = cpuUs();
    t0 = process.hrtime.bigint();
    for (let i = 0; i < M; i++) await fsp.readFile(f, 'utf8');
    const rfUs = (cpuUs() - c0) / M;
    c0 = cpuUs();
    for (let i = 0; i < M; i++) fs.readFileSync(f, 'utf8');
    const rfSyncUs = (cpuUs() - c0) / M;
    out(`fs, CPU per call (process, all threads; mean of ${M}): statSync ${syncUs.toFixed(0)} us, await fsp.stat ${asyncUs.toFixed(0)} us (wall ${asyncWall.toFixed(0)} us); readFileSync ${rfSyncUs.toFixed(0)} us, await fsp.readFile ${rfUs.toFixed(0)} us`);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

// ---- memory of the pending index -------------------------------------------------------------------

/** Heap and RSS that PendingIndex (dist/pending-index.js) takes for N names added by events, a readdir of N names, and a rescan of them. */
async function indexMem() {
  const N = Number(opt('n', 100_000));
  if (typeof globalThis.gc !== 'function') {
    const r = spawnSync(process.execPath, ['--expose-gc', fileURLToPath(import.meta.url), ...argv], { stdio: 'inherit' });
    process.exit(r.status ?? 1);
  }
  const { PendingIndex } = await import(join(dirname(dirname(CLI)), 'pending-index.js'));
  const hwmMb = () => Number(/VmHWM:\s+(\d+)/.exec(fs.readFileSync('/proc/self/status', 'utf8'))[1]) / 1024;
  const mem = () => {
    globalThis.gc();
    const m = process.memoryUsage();
    return { heap: m.heapUsed / 2 ** 20, rss: m.rss / 2 ** 20 };
  };
  const at = Date.now() + 86_400_000;
  const names = [];
  for (let i = 0; i < N; i++) names.push(`${at}-1000-000-p${i}.json`);
  const m0 = mem();
  const index = new PendingIndex({ dir: '/nonexistent', pollIntervalMs: 3_600_000, poll: true, now: Date.now });
  for (const n of names) index.add(n);
  const m1 = mem();
  out(`PendingIndex with ${N.toLocaleString('en')} names (scheduled): +${(m1.heap - m0.heap).toFixed(1)} MB of heap (${(((m1.heap - m0.heap) * 2 ** 20) / N).toFixed(0)} bytes a name), RSS +${(m1.rss - m0.rss).toFixed(1)} MB; the ${N.toLocaleString('en')} name strings themselves: in the heap before (${m0.heap.toFixed(1)} MB total)`);
  const dir = fs.mkdtempSync(join(os.tmpdir(), 'queuectl-idx-'));
  try {
    const f = spawnSync(process.execPath, [join(REPO, 'bench', 'fill.mjs'), 'pending', (spawnSync(process.execPath, [CLI, 'status', '--root', join(dir, 'r')]), join(dir, 'r')), String(N), '--at', String(at)], { encoding: 'utf8' });
    if (f.status !== 0) throw new Error(f.stderr);
    let t0 = process.hrtime.bigint();
    const listed = await fsp.readdir(join(dir, 'r', 'pending'));
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    out(`readdir of ${listed.length.toLocaleString('en')} names: ${ms.toFixed(0)} ms of wall`);
    listed.length = 0;
    // What a worker does at start and every rescan: PendingIndex.rescan() of the real folder.
    const m2 = mem();
    const hwm0 = hwmMb();
    const scanned = new PendingIndex({ dir: join(dir, 'r', 'pending'), pollIntervalMs: 3_600_000, poll: true, now: Date.now });
    t0 = process.hrtime.bigint();
    await scanned.rescan();
    const scanMs = Number(process.hrtime.bigint() - t0) / 1e6;
    const m3 = mem();
    out(`PendingIndex.rescan() of that folder: ${scanMs.toFixed(0)} ms of wall, holds ${scanned.size.toLocaleString('en')} names, heap +${(m3.heap - m2.heap).toFixed(1)} MB after it; peak RSS (VmHWM) of this process ${hwmMb().toFixed(1)} MB (${hwm0.toFixed(1)} MB before the scan)`);
    await scanned.close();
  } finally {
    await index.close(); // its wake-up timer for the scheduled jobs would keep the process alive
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

if (cmd === 'worker') await profileWorker();
else if (cmd === 'index-mem') await indexMem();
else if (cmd === 'status') await profileStatus();
else if (cmd === 'processes') await processes();
else if (cmd === 'summary') summarise(JSON.parse(fs.readFileSync(argv[1], 'utf8')), Number(opt('top', 30)), Number(opt('jobs', 0)));
else if (cmd === 'spawn-cost') await spawnCost();
else {
  process.stderr.write('usage: node bench/profile.mjs worker [--jobs N] [--count C] [--behind N] [--keep DIR] | summary FILE | status [--pending N] [--completed N] | index-mem [--n N] | processes [--reps N] | spawn-cost [--n N]\n');
  process.exit(2);
}
