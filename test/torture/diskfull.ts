// Case 6: disk full. The root lives on a 2MB tmpfs (root only: mount needs CAP_SYS_ADMIN). With the disk
// full, enqueue must fail with a clear "no space" error and leave nothing half-written; a worker that cannot
// write its log or a job's result must not lose the job; once space is freed, everything completes.

import { execFileSync } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import { join } from 'node:path';
import {
  checkLedger, type Ctx, emptyFigures, errorLines, type Figures, ledgerCommand, queueAt, FAST_CONFIG, readRecord,
  scanStore, sleep, startWorker, stopWorker, waitFor,
} from './lib.js';

/** Why this machine cannot run the case, or null. */
export function diskFullUnavailable(): string | null {
  if (process.getuid?.() !== 0) return 'needs root to mount a tmpfs (run the suite as root to include it)';
  return null;
}

/** Fills the filesystem of `dir` with one file until ENOSPC (4KB steps: tmpfs allocates whole pages). */
async function fill(path: string): Promise<number> {
  const fh = await fsp.open(path, 'a', 0o600);
  let written = 0;
  try {
    for (const size of [65_536, 4_096, 512]) {
      const chunk = Buffer.alloc(size, 120);
      for (;;) {
        try {
          await fh.write(chunk);
          written += size;
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code === 'ENOSPC') break;
          throw err;
        }
      }
    }
  } finally {
    await fh.close();
  }
  return written;
}

/**
 * The tmp/ files an enqueue could leave (its `enq~` records and `commit~` marks). The running worker's own
 * (`requeue~`, `write~`, `intake~`) come and go while it retries on the full disk: a listing taken while
 * one is written is no leftover of enqueue's (seen once under load: `requeue~...~full-fail-once`).
 */
const tmpLine = (l: string) => (l.split('\n').find((x) => x.startsWith('tmp:')) ?? '').split(' ').filter((n) => /^(enq|commit)~/.test(n)).join(' ');

async function listing(root: string): Promise<string> {
  const out: string[] = [];
  for (const d of ['pending', 'tmp', 'processing', 'dead']) out.push(`${d}: ${(await fsp.readdir(join(root, d))).sort().join(' ')}`);
  const ids: string[] = [];
  for (const shard of await fsp.readdir(join(root, 'ids'))) for (const n of await fsp.readdir(join(root, 'ids', shard))) ids.push(n);
  out.push(`ids: ${ids.sort().join(' ')}`);
  return out.join('\n');
}

export async function caseDiskFull(ctx: Ctx): Promise<Figures> {
  const f = emptyFigures('6 disk-full');
  const why = diskFullUnavailable();
  if (why) return { ...f, skipped: why };
  const t0 = Date.now();
  const dir = await ctx.tempDir('disk');
  const mnt = join(dir, 'mnt');
  await fsp.mkdir(mnt, { mode: 0o700 });
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=2m,mode=0700', 'tmpfs', mnt], { stdio: 'pipe' });
  } catch (err) {
    return { ...f, skipped: `mount -t tmpfs failed: ${(err as Error).message.split('\n')[0]}` };
  }
  ctx.onCleanup(async () => {
    execFileSync('umount', ['-l', mnt], { stdio: 'ignore' });
  });
  const root = join(mnt, 'q');
  await fsp.mkdir(root, { mode: 0o700 });
  await fsp.writeFile(join(root, 'config.json'), JSON.stringify({ ...FAST_CONFIG, 'max-retries': 5 }), { mode: 0o600 });
  // The ledger lives off the tmpfs: the jobs' own writes must not be what fails.
  const q = queueAt(mnt, root, join(dir, 'ledger'));
  const problems: string[] = [];

  // Jobs scheduled 2.5s ahead, so the worker is up (heartbeat written) before the disk fills.
  const runAt = new Date(Date.now() + 2_500).toISOString();
  const flag = join(dir, 'failed-once');
  const specs = [
    ...Array.from({ length: 6 }, (_, i) => ({ id: `full-ok${i}`, command: ledgerCommand(q, 'head -c 20000 /dev/zero | tr "\\0" x; ') })),
    { id: 'full-fail-once', command: `${ledgerCommand(q)}; [ -e ${flag} ] || { touch ${flag}; exit 3; }` },
  ].map((s) => ({ ...s, run_at: runAt }));
  await q.ok(['enqueue', '-'], { input: specs.map((s) => JSON.stringify(s)).join('\n') });
  const ids = specs.map((s) => s.id);
  const worker = await startWorker(ctx, q);

  const filler = join(mnt, 'filler');
  await fill(filler);
  const before = await listing(root);
  f.notes.push(`disk filled; ${(await fsp.readdir(join(root, 'pending'))).length} jobs waiting`);

  // 1. enqueue on a full disk: one job, then a batch.
  for (const [what, args, input] of [
    ['one job', ['enqueue', '--id', 'nospace1', '--', 'echo never'], undefined],
    ['a batch of 50', ['enqueue', '-'], Array.from({ length: 50 }, (_, i) => JSON.stringify({ id: `nospace-b${i}`, command: 'echo never' })).join('\n')],
  ] as const) {
    const r = await q.cli([...args], { input });
    if (r.code === 0) problems.push(`enqueue of ${what} on a full disk exited 0: ${r.stdout}`);
    else if (!/no space left on device/i.test(r.stderr) || !/nothing was enqueued/i.test(r.stderr)) problems.push(`enqueue of ${what}: unclear error: ${r.stderr.trim()}`);
    else f.notes.push(`enqueue of ${what}: exit ${r.code}, "${r.stderr.trim().slice(0, 110)}"`);
    const after = await listing(root);
    // What enqueue could have added: job files (in any of these folders: the worker may claim or give back
    // the jobs that were there, when a loaded machine makes this take past their run_at) and id markers.
    const visible = (l: string) => {
      const lines = l.split('\n');
      const files = lines.filter((x) => /^(pending|processing|dead):/.test(x)).flatMap((x) => x.split(' ').slice(1).filter(Boolean)).length;
      return `${files} job files\n${lines.find((x) => x.startsWith('ids:'))}`;
    };
    if (visible(after) !== visible(before)) problems.push(`enqueue of ${what} on a full disk changed the queue:\nbefore ${before}\nafter  ${after}`);
    else if (tmpLine(after) !== tmpLine(before)) ctx.bug('F11', `enqueue of ${what} on a full disk left files in tmp/: ${after.split('\n').find((x) => x.startsWith('tmp:'))?.slice(0, 200)}`, problems);
  }

  // 2. the jobs come due while the disk is full: logs and results cannot be written.
  await sleep(Math.max(0, Date.parse(runAt) - Date.now()) + 1_500);
  const during = await scanStore(root);
  f.notes.push(`while full: ${during.duePending.length} due in pending/, ${during.processing.length} in processing/, ledger runs ${(await checkLedger(root, q.ledger, ids)).details.length === 0 ? 'all ok' : 'pending'}`);
  const duringErrors = errorLines(worker);
  if (duringErrors.length) f.notes.push(`worker errors while full (it kept running): ${duringErrors.length}, e.g. ${duringErrors[0].slice(13, 180)}`);
  // Every error says what it could not do, not Node's raw "ENOSPC: no space left on device, write".
  const raw = duringErrors.filter((l) => /E[A-Z]+: [a-z ]+, [a-z]+( '|$)/.test(l));
  if (raw.length) problems.push(`worker errors without a subject: ${raw.slice(0, 3).join(' | ')}`);
  // A result retried on a full disk must not leave a file in tmp/ per try.
  const tmpWhileFull = (await fsp.readdir(join(root, 'tmp'))).filter((n) => !n.startsWith('enq~'));
  if (tmpWhileFull.length > 2) problems.push(`${tmpWhileFull.length} files left in tmp/ while the disk was full: ${tmpWhileFull.slice(0, 5).join(' ')}`);
  const cfg = await q.cli(['config', 'set', 'max-retries', '4']);
  if (cfg.code === 0 || !/Cannot write .*config\.json: no space left on device/.test(cfg.stderr)) problems.push(`config set on a full disk: exit ${cfg.code}, ${cfg.stderr.trim()}`);
  else f.notes.push(`config set on a full disk: "${cfg.stderr.trim().slice(0, 120)}"`);
  if (worker.exitInfo()) problems.push(`the worker exited on a full disk: ${JSON.stringify(worker.exitInfo())}\n${worker.output().slice(-1500)}`);

  // 3. space freed: everything completes, with the same worker still running.
  await fsp.rm(filler);
  const freedAt = Date.now();
  // Every job completes; one held by F7 (a claim its live worker could not give back) never does: wait for the
  // others, then give it 3s more.
  const done = await waitFor(async () => {
    const scan = await scanStore(root);
    return ids.every((id) => scan.byId.get(id)?.length === 1 && scan.byId.get(id)![0].state === 'completed') ? scan : null;
  }, { timeoutMs: 3_000, intervalMs: 50, what: 'every job to complete after space was freed' }).catch(() => null);
  if (done) f.notes.push(`all ${ids.length} completed ${Date.now() - freedAt}ms after space was freed`);
  else await waitFor(async () => {
    const scan = await scanStore(root);
    return ids.every((id) => ['completed', 'processing'].includes(scan.byId.get(id)?.[0]?.state ?? '')) ? scan : null;
  }, { timeoutMs: 5_000, intervalMs: 50, what: 'the jobs to complete after space was freed' }).catch(() => null);
  await sleep(300);
  const scan = await scanStore(root);
  const staleRecords: string[] = [];
  for (const id of ids) {
    const files = scan.byId.get(id) ?? [];
    if (files.length === 1 && files[0].state === 'completed') {
      const job = await readRecord(files[0].path);
      if (!job.finished_at) staleRecords.push(id);
    } else if (files.length === 1 && files[0].state === 'processing') {
      // F7: the retry could not be written, the claim stays with the (live) worker.
      ctx.bug('F7', `${id} still in processing/${files[0].name} ${Date.now() - freedAt}ms after space was freed (its worker is alive, so nobody recovers it)`, problems);
    } else problems.push(`${id}: ${files.map((x) => `${x.state}/${x.name}`).join(', ') || 'no file'} after space was freed`);
  }
  if (staleRecords.length) ctx.bug('F7', `${staleRecords.join(' ')}: completed/ holds the record from before the run (the final write failed on the full disk, nothing rewrites it)`, problems);
  if (worker.exitInfo()) problems.push(`the worker died: ${JSON.stringify(worker.exitInfo())}`);
  else await stopWorker(worker);

  const v = await checkLedger(root, q.ledger, ids, { expectRuns: (id) => (id === 'full-fail-once' ? 2 : 1) });
  f.jobs = ids.length;
  f.lost = v.lost.length;
  f.duplicated = v.duplicated.length;
  f.stuck = v.stuck.length;
  f.extra = v.extra;
  f.timeMs = Date.now() - t0;
  if (v.lost.length || v.duplicated.length) problems.push(v.details.join('\n'));
  if (problems.length) throw Object.assign(new Error(problems.join('\n')), { figures: f });
  return f;
}
