// Security checks of the issue: files 0600 and folders 0700 even under umask 000; a root owned by another
// user or writable by others is refused; no id or path makes queuectl read or write outside the root, and
// symlinks in the root are not followed out of it; job env values never appear in output unless asked for.
// (The dashboard's protections are tested with the dashboard.)

import { execFileSync, spawnSync } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import { join, relative } from 'node:path';
import { listTree } from '../helpers.js';
import {
  CLI, type Ctx, emptyFigures, type Figures, ledgerCommand, makeQueue, type Queue, scanStore, sleep, startWorker, stopWorker,
  waitFor, waitForState,
} from './lib.js';

/** The CLI under a umask, through sh. */
function cliUmask(q: Queue, umask: string, args: string[], input = ''): { code: number | null; stdout: string; stderr: string } {
  const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: '1' };
  for (const k of Object.keys(env)) if (k.startsWith('QUEUECTL_')) delete env[k];
  const r = spawnSync('/bin/sh', ['-c', `umask ${umask}; exec "$@"`, 'sh', process.execPath, CLI, '--root', q.root, ...args], { cwd: q.dir, env, input, encoding: 'utf8' });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** FNV-1a shard of an id, as store.ts computes it (logs/<shard>/, ids/<shard>/). */
function idShard(id: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < id.length; i++) {
    h ^= id.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return ((h >>> 0) & 0xff).toString(16).padStart(2, '0');
}

async function walkModes(root: string): Promise<{ path: string; mode: number; dir: boolean }[]> {
  const out: { path: string; mode: number; dir: boolean }[] = [];
  const walk = async (d: string) => {
    for (const e of await fsp.readdir(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      const st = await fsp.lstat(p);
      if (st.isSymbolicLink()) continue;
      out.push({ path: relative(root, p), mode: st.mode & 0o777, dir: st.isDirectory() });
      if (st.isDirectory()) await walk(p);
    }
  };
  await walk(root);
  return out;
}

export async function caseSecurity(ctx: Ctx): Promise<Figures> {
  const f = emptyFigures('sec security');
  const t0 = Date.now();
  const problems: string[] = [];
  const isRoot = process.getuid?.() === 0;

  // ---- 1. modes under umask 000 ----------------------------------------------------------------------------
  const q = await makeQueue(ctx);
  // makeQueue made the root (0700) and config.json; start from nothing instead, under umask 000.
  await fsp.rm(q.root, { recursive: true, force: true });
  const secret = `sekret-${Math.floor(ctx.rng() * 1e9).toString(36)}-value`;
  const enq = (args: string[], input = '') => {
    const r = cliUmask(q, '000', args, input);
    if (r.code !== 0) problems.push(`umask 000: queuectl ${args.join(' ')}: exit ${r.code} ${r.stderr.trim()}`);
    return r;
  };
  enq(['config', 'set', 'heartbeat-interval', '50ms']);
  enq(['config', 'set', 'stale-after', '500ms']);
  enq(['config', 'set', 'backoff-max', '0']);
  enq(['enqueue', '--id', 'sec-ok', '--env', `SECRET_TOKEN=${secret}`, '--', `echo working; ${ledgerCommand(q)}`]);
  enq(['enqueue', '--id', 'sec-dead', '--max-retries', '0', '--env', `SECRET_TOKEN=${secret}`, '--', 'echo failing; exit 3']);
  enq(['enqueue', '--id', 'sec-later', '--delay', '1h', '--env', `SECRET_TOKEN=${secret}`, '--', 'echo later']);
  const worker = await startWorker(ctx, q, { umask: '000' });
  // A dropped file and a bad one, so quarantine/ and its reasons exist too.
  await fsp.writeFile(join(q.root, 'pending', 'dropped.json'), JSON.stringify({ command: 'echo dropped' }), { mode: 0o600 });
  await fsp.writeFile(join(q.root, 'pending', 'broken.json'), '{', { mode: 0o600 });
  await waitForState(q.root, 'sec-ok', 'completed');
  await waitForState(q.root, 'sec-dead', 'dead');
  await waitFor(async () => (await scanStore(q.root)).quarantine.length >= 2, { timeoutMs: 5_000, what: 'the broken file in quarantine/' });
  await sleep(ctx.pick(2_100, 300)); // full run: let the stats file be flushed too (every 2s)
  const modes = await walkModes(q.root);
  const rootMode = (await fsp.stat(q.root)).mode & 0o777;
  const bad = modes.filter((m) => !['dropped.json', 'broken.json'].some((n) => m.path.includes(n)) && m.mode !== (m.dir ? 0o700 : 0o600));
  if (rootMode !== 0o700) problems.push(`root created with mode ${rootMode.toString(8)} under umask 000`);
  if (bad.length) problems.push(`under umask 000: ${bad.length} entries not 0600/0700: ${bad.slice(0, 8).map((m) => `${m.path} ${m.mode.toString(8)}`).join(', ')}`);
  f.notes.push(`umask 000: ${modes.filter((m) => m.dir).length} folders 0700, ${modes.filter((m) => !m.dir).length} files 0600 checked (root ${rootMode.toString(8)}); ${bad.length} wrong`);

  // ---- 2. env values are not printed unless asked -------------------------------------------------------------
  const outputs: [string, string][] = [['worker output', worker.output()]];
  const readers = [
    ['status'], ['status', '--json'], ['list'], ['list', '--json'], ['list', '--state', 'all', '--json'], ['list', '--state', 'dead', '--json'],
    ['list', '--state', 'scheduled', '--json'], ['show', 'sec-ok'], ['show', 'sec-ok', '--json'], ['show', 'sec-dead'], ['show', 'sec-dead', '--json'],
    ['show', 'sec-later', '--json'], ['dlq', 'list'], ['dlq', 'list', '--json'], ['logs', 'sec-ok'], ['logs', 'sec-dead'],
  ];
  for (let i = 0; i < readers.length; i += 4) {
    for (const [args, r] of await Promise.all(readers.slice(i, i + 4).map(async (args) => [args, await q.cli(args)] as const))) {
      outputs.push([`queuectl ${args.join(' ')}`, r.stdout + r.stderr]);
    }
  }
  for (const dir of ['logs']) {
    for (const p of await listTree(join(q.root, dir))) {
      if (p.endsWith('/')) continue;
      outputs.push([`${dir}/${p}`, await fsp.readFile(join(q.root, dir, p), 'utf8')]);
    }
  }
  const leaks = outputs.filter(([, text]) => text.includes(secret)).map(([what]) => what);
  if (leaks.length) problems.push(`env value printed without --env by: ${leaks.join(', ')}`);
  const asked = await q.cli(['show', 'sec-ok', '--env']);
  const askedJson = await q.cli(['show', 'sec-ok', '--json', '--env']);
  if (!asked.stdout.includes(secret) || !askedJson.stdout.includes(secret)) problems.push('show --env does not print the env value');
  f.notes.push(`env value absent from ${outputs.length} outputs (status, list, show, dlq list, logs, worker output, log files); shown by show --env`);
  await stopWorker(worker);

  // ---- 3. ids and paths cannot leave the root -------------------------------------------------------------------
  const outside = join(q.dir, 'outside.json');
  const outsideText = JSON.stringify({ id: 'x', command: 'echo pwned-from-outside', state: 'dead', finished_at: '2020-01-01T00:00:00Z' });
  let escapes = 0;
  const badIds = ctx.pick(['../../outside', '../outside', '..', '/etc/passwd', 'a/b', '../q/config', 'sec-ok/../../../outside'], ['../../outside', '..', 'a/b']);
  for (const id of badIds) {
    for (const args of [['show', id], ['show', id, '--json'], ['logs', id], ['dlq', 'retry', id], ['cancel', id], ['wait', id, '--timeout', '1s']]) {
      await fsp.writeFile(outside, outsideText, { mode: 0o600 });
      const pendingBefore = (await scanStore(q.root)).byId.size;
      const r = await q.cli(args);
      const stillThere = (await fsp.readFile(outside, 'utf8').catch(() => null)) === outsideText;
      const readIt = r.stdout.includes('pwned-from-outside');
      const what = `queuectl ${args.join(' ')}`;
      if (!stillThere || readIt || r.code === 0 || (await scanStore(q.root)).byId.size !== pendingBefore) {
        escapes++;
        problems.push(`[F1 regression] ${what}: exit ${r.code}${readIt ? ', printed the outside file' : ''}${!stillThere ? ', MOVED the outside file into the queue' : ''}`);
        // Undo what an escape moved in, so the next check starts clean.
        for (const [jid, files] of (await scanStore(q.root)).byId) if (jid === 'x') for (const file of files) await fsp.rm(file.path);
      } else if (r.code !== 2) problems.push(`${what}: exit ${r.code}, expected 2: ${r.stderr.trim().slice(0, 200)}`);
    }
  }
  f.notes.push(`${badIds.length * 6} commands with ids that try to leave the root: ${escapes} escaped`);

  // A symlink in the root pointing out of it: logs/<shard> of a job replaced by a link to an outside folder.
  const outDir = join(q.dir, 'outside-logs');
  await fsp.mkdir(outDir);
  const symId = 'sec-symlog';
  const shardDir = join(q.root, 'logs', idShard(symId));
  await fsp.rm(shardDir, { recursive: true, force: true });
  await fsp.symlink(outDir, shardDir);
  const w2 = await startWorker(ctx, q);
  await q.ok(['enqueue', '--id', symId, '--', 'echo through-the-link']);
  await waitForState(q.root, symId, 'completed');
  await stopWorker(w2);
  const written = await fsp.readdir(outDir);
  if (written.length) ctx.bug('F13', `a symlink in the root (logs/${idShard(symId)} -> ${outDir}) was followed out of it: the worker wrote ${written.join(', ')} there`, problems);
  else f.notes.push('a symlinked logs/<shard> was not followed');

  // ---- 4. a root owned by another user, or writable by others, is refused ---------------------------------------
  let refusals = 0;
  const modeCases = [['root mode 0777', 0o777, /writable by others/], ['root mode 0770', 0o770, /writable by its group/], ['root mode 0702', 0o702, /writable by others/]] as const;
  await Promise.all(modeCases.map(async ([label, mode, expect]) => {
    const q2 = await makeQueue(ctx);
    await q2.ok(['status']); // lays the root out
    await fsp.chmod(q2.root, mode);
    const before = await listTree(q2.root);
    for (const args of [['status'], ['enqueue', '--', 'echo x'], ['worker', 'start']]) {
      const r = await q2.cli(args, { timeoutMs: 10_000 });
      if (r.code === 0 || !expect.test(r.stderr)) problems.push(`${label}: queuectl ${args.join(' ')} exit ${r.code}: ${r.stderr.trim().slice(0, 200)}`);
      else refusals++;
    }
    if (JSON.stringify(await listTree(q2.root)) !== JSON.stringify(before)) problems.push(`${label}: a refused command changed the root`);
    await fsp.chmod(q2.root, 0o700);
  }));
  if (isRoot) {
    const q4 = await makeQueue(ctx);
    await q4.ok(['status']);
    execFileSync('chown', ['65534', q4.root]);
    const before = await listTree(q4.root);
    for (const args of [['status'], ['enqueue', '--', 'echo x'], ['worker', 'start']]) {
      const r = await q4.cli(args, { timeoutMs: 10_000 });
      if (r.code === 0 || !/owned by uid 65534, not by you/.test(r.stderr)) problems.push(`root owned by another user: queuectl ${args.join(' ')} exit ${r.code}: ${r.stderr.trim()}`);
      else refusals++;
    }
    if (JSON.stringify(await listTree(q4.root)) !== JSON.stringify(before)) problems.push('root owned by another user: a refused command changed it');
    execFileSync('chown', ['0', q4.root]);
  } else f.notes.push('root owned by another user: not tested (needs root to chown)');
  const notDir = join(q.dir, 'a-file');
  await fsp.writeFile(notDir, 'x');
  const nd = await q.cli(['--root', notDir, 'status']);
  if (nd.code === 0 || !/not a directory/.test(nd.stderr)) problems.push(`root that is a file: exit ${nd.code}: ${nd.stderr.trim()}`);
  else refusals++;
  f.notes.push(`${refusals} refusals of an unsafe root, each with a clear message`);

  f.jobs = 4;
  f.timeMs = Date.now() - t0;
  if (problems.length) throw Object.assign(new Error(problems.join('\n')), { figures: f });
  return f;
}
