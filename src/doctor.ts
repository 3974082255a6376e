// `queuectl doctor`: everything about a root that is wrong or left half-done, what it means, and the command
// that repairs it; repair() does the repairs that are safe. Core: no printing (src/cli/commands/doctor.ts
// prints), and the root is never created or opened through openStore (which stops at the first problem).
//
// What it looks at, and who decides:
//  - the root: exists, a folder, owned by this user, its `format` marker; folders: real folders, on the
//    root's filesystem, owners and modes (0700 folders, 0600 files; completed/, ids/ and logs/ by shard);
//  - what dead processes left (lifecycle.ts names every file): claims and final records (intents) in
//    processing/, stages in pending/, enqueue batches in tmp/, heartbeats; whether their owner is dead is
//    recovery's own judgement (recovery.makeJudge), and holderOf says what holds an id marker;
//  - what is stuck for good: quarantined files, names no worker takes;
//  - clocks: a file written now in tmp/ shows the filesystem's clock against this host's, and a live
//    worker's heartbeat mtime ahead of this host's clock shows a skew between them.
//
// Safe repairs (repair()), and only these: missing folders made (mode 0700); group and other bits taken off
// what this user owns; one recovery pass, exactly what every worker runs at its start (fenced moves,
// safe beside live workers); id markers that no job and no writer holds released (checked twice); files in
// tmp/ of processes on this host that are gone removed. Owners, symlinks, other filesystems, quarantined
// files and clocks are left to a person: the finding says what to run.

import * as fs from 'node:fs';
import { promises as fsp } from 'node:fs';
import { basename, join } from 'node:path';
import { type Config, loadConfig, resolveConfig } from './config.js';
import { isErrno } from './errors.js';
import { parseProcessTag, processTag, tagLiveness } from './identity.js';
import {
  claimOfIntent, holderOf, listQuarantine, ownerLiveness, parseClaimName, parsePendingName, parseStageName, releaseIdSync,
} from './lifecycle.js';
import { type Judge, makeJudge, recover } from './recovery.js';
import { DIR_MODE, FILE_MODE, FOLDERS, FORMAT_MARKER, listCompletedShards, parseTmpName, type Store, storePaths, writeTmp } from './store.js';

export type Severity = 'error' | 'warning' | 'info';

/** What fixes a finding: doctor --fix (safe), or a person. */
type FixKind = 'mkdir' | 'chmod' | 'recover' | 'release-id' | 'remove-tmp';

export interface Finding {
  /** For programs: format, root, owner, mode, folder, filesystem, config, write, clock, heartbeat, claim, intent, stage, enqueue, tmp, id, quarantine, name. */
  code: string;
  /** error: queuectl refuses the root or jobs are lost from view; warning: a job waits on someone; info: nothing to do. */
  severity: Severity;
  /** The file or folder it is about. */
  path: string;
  /** What is wrong, and what it means. */
  message: string;
  /** The command that repairs it; null when there is nothing to do. */
  repair: string | null;
  /** doctor --fix repairs it. */
  fixable: boolean;
}

interface Internal extends Finding {
  fix?: FixKind;
}

export interface DoctorOptions {
  /** This process's uid (the user queuectl runs as). */
  uid: number;
  now?: () => number;
}

/** A skew between clocks this large is reported. */
const CLOCK_SKEW_MS = 2000;

/** Examines the root at `root` (absolute) and says what is wrong; changes nothing but a probe file in tmp/. */
export async function examine(root: string, opts: DoctorOptions): Promise<Finding[]> {
  return (await examineInternal(root, opts)).map(publicFinding);
}

/**
 * Repairs what is safe to repair (see the header), then examines again. Returns what was repaired (the
 * findings gone since) and what is left.
 */
export async function repair(root: string, opts: DoctorOptions): Promise<{ fixed: Finding[]; left: Finding[] }> {
  const now = opts.now ?? Date.now;
  const before = await examineInternal(root, opts);
  const fixes = new Set(before.filter((f) => f.fix).map((f) => f.fix!));
  const ctx = await context(root);
  if (ctx) {
    const { store, config } = ctx;
    if (fixes.has('mkdir')) for (const f of before) if (f.fix === 'mkdir') await fsp.mkdir(f.path, { mode: DIR_MODE }).catch(() => {});
    if (fixes.has('chmod')) for (const f of before) if (f.fix === 'chmod') await chmodPrivate(f.path, opts.uid);
    if (fixes.has('recover')) {
      const probe = await probeClock(store);
      await recover({
        store, staleAfterMs: config.staleAfterMs, policy: { base: config.backoffBase, maxMs: config.backoffMaxMs, jitter: config.backoffJitter },
        defaults: { maxRetries: config.maxRetries, cwd: null }, reference: probe.ok ? probe.mtime : now(), self: new Set(), owner: processTag().text, now: now(),
      });
    }
    if (fixes.has('release-id')) for (const f of before) if (f.fix === 'release-id') await releaseIfOrphan(store, basename(f.path), now);
    if (fixes.has('remove-tmp')) for (const f of before) if (f.fix === 'remove-tmp') await fsp.unlink(f.path).catch(() => {});
  }
  const after = await examineInternal(root, opts);
  const key = (f: Finding) => `${f.code}\0${f.path}`;
  const left = new Set(after.map(key));
  return { fixed: before.filter((f) => f.fixable && !left.has(key(f))).map(publicFinding), left: after.map(publicFinding) };
}

function publicFinding(f: Internal): Finding {
  const { fix: _fix, ...rest } = f;
  return rest;
}

// ---- the checks -----------------------------------------------------------------------------------------

interface Ctx {
  store: Store;
  config: Config;
}

/** The store and its config, when the root is a queue root at all; null otherwise. */
async function context(root: string): Promise<Ctx | null> {
  const marker = await fsp.readFile(join(root, 'format'), 'utf8').catch(() => null);
  if (marker !== FORMAT_MARKER) return null;
  const store = storePaths(root, fs.existsSync(join(root, 'case-insensitive')));
  // A bad config.json is a finding of its own; the checks go on with the defaults.
  const config = await loadConfig(store).catch(() => resolveConfig({}));
  return { store, config };
}

async function examineInternal(root: string, opts: DoctorOptions): Promise<Internal[]> {
  const out: Internal[] = [];
  const now = opts.now ?? Date.now;
  const rel = (p: string) => (p === root ? root : p.slice(root.length + 1));
  const add = (f: Internal) => out.push(f);
  const owners = new Owners(rel);

  // The root itself and its format: without them nothing else means anything.
  const st = await checkRoot(root, add);
  if (!st) return out;
  const ctx = (await context(root))!;
  const { store } = ctx;
  const rootOwner = st.uid;
  if (rootOwner !== opts.uid) {
    add({ code: 'owner', severity: 'error', path: root, message: `the root is owned by uid ${rootOwner}, not by you (uid ${opts.uid}): queuectl refuses to use it`, repair: `run queuectl as its owner (sudo -u '#${rootOwner}' queuectl ...), or: chown -R ${opts.uid} ${sh(root)}`, fixable: false });
  }
  checkMode(root, st, opts.uid, rel, add, true);

  // config.json: what the workers run with.
  try {
    await loadConfig(store);
  } catch (err) {
    add({ code: 'config', severity: 'error', path: store.config, message: `config.json cannot be used: ${(err as Error).message}; every command of this root fails`, repair: `fix ${sh(store.config)} (queuectl config list shows the keys), or remove it for the defaults`, fixable: false });
  }

  const sound = checkFolders(root, st, opts.uid, owners, rel, add);
  const reference = sound.has('tmp') ? await checkClock(store, root, now(), add) : now();

  // Owners and modes of what the folders hold (completed/, ids/ and logs/ by shard: they hold every job).
  // pending/, processing/, tmp/ and quarantine/ also hold files producers wrote, with their umask's modes
  // (inside 0700 folders): owners only there. dead/ and workers/ hold only what queuectl wrote.
  for (const name of ['pending', 'processing', 'dead', 'workers', 'tmp', 'quarantine'] as const) {
    if (sound.has(name)) await checkEntries(join(root, name), rootOwner, name === 'dead' || name === 'workers' ? opts.uid : null, owners, rel, add);
  }
  for (const name of ['completed', 'ids', 'logs'] as const) {
    if (sound.has(name)) await checkShards(join(root, name), rootOwner, opts.uid, owners, rel, add);
  }
  for (const file of [store.config, join(root, 'format')]) {
    const fst = fs.lstatSync(file, { throwIfNoEntry: false });
    if (!fst) continue;
    owners.check(file, fst.uid, rootOwner);
    checkMode(file, fst, opts.uid, rel, add);
  }
  out.push(...owners.findings());
  if (!['pending', 'processing', 'workers', 'tmp'].every((n) => sound.has(n))) return out;

  await checkLeftovers(ctx, sound, reference, now, rel, add);
  return out;
}

/** The root and its format marker; null when nothing else can be checked. */
async function checkRoot(root: string, add: (f: Internal) => void): Promise<fs.Stats | null> {
  const st = fs.statSync(root, { throwIfNoEntry: false });
  if (!st) {
    add({ code: 'root', severity: 'error', path: root, message: `there is no queue at ${root}: the folder does not exist`, repair: `queuectl --root ${sh(root)} status   (creates an empty queue root)`, fixable: false });
    return null;
  }
  if (!st.isDirectory()) {
    add({ code: 'root', severity: 'error', path: root, message: `${root} is not a folder`, repair: null, fixable: false });
    return null;
  }
  const marker = await fsp.readFile(join(root, 'format'), 'utf8').catch((err) => (isErrno(err, 'ENOENT') ? null : `unreadable: ${(err as Error).message}`));
  if (marker === null) {
    add({ code: 'format', severity: 'error', path: join(root, 'format'), message: `${root} is not a queue root: it has no format file (a root that queuectl made has one, written last)`, repair: `queuectl --root DIR with an empty or new DIR makes a root; an interrupted first use of ${sh(root)}: remove it and run any command again`, fixable: false });
    return null;
  }
  if (marker === 'queuectl-queue 1\n') {
    add({
      code: 'format', severity: 'warning', path: join(root, 'format'),
      message: 'the root is of format 1 (an older queuectl): any queuectl of this version upgrades it to format 2 when it opens it (new folders, then the new marker); queuectl processes of the old version keep misreading it until they are stopped',
      repair: `stop every worker of the old version, then any command here, e.g. queuectl --root ${sh(root)} status`, fixable: false,
    });
    return null;
  }
  if (marker !== FORMAT_MARKER) {
    add({ code: 'format', severity: 'error', path: join(root, 'format'), message: `the root holds a queue of another format (${JSON.stringify(marker.trim())}); this queuectl reads ${JSON.stringify(FORMAT_MARKER.trim())} and refuses any other`, repair: 'use the queuectl version that made this root (see README: Queue directory format)', fixable: false });
    return null;
  }
  return st;
}

/** The folders of the root: present, real, on its filesystem, owned and moded right. Returns the sound ones. */
function checkFolders(root: string, st: fs.Stats, uid: number, owners: Owners, rel: (p: string) => string, add: (f: Internal) => void): Set<string> {
  const sound = new Set<string>();
  const rootOwner = st.uid;
  for (const name of FOLDERS) {
    const dir = join(root, name);
    const fst = fs.lstatSync(dir, { throwIfNoEntry: false });
    if (!fst) {
      add({ code: 'folder', severity: 'error', path: dir, message: `${name}/ is missing: queuectl refuses the root`, repair: `queuectl doctor --fix   (or: mkdir -m 700 ${sh(dir)})`, fixable: rootOwner === uid, fix: rootOwner === uid ? 'mkdir' : undefined });
      continue;
    }
    if (fst.isSymbolicLink()) {
      add({ code: 'folder', severity: 'error', path: dir, message: `${name}/ is a symlink (to ${fs.readlinkSync(dir)}): every folder of a root must be a real folder inside it, so queuectl refuses the root`, repair: `move what it holds into a real folder: mv ${sh(dir)} ${sh(dir)}.link && mkdir -m 700 ${sh(dir)} && cp -a ${sh(dir)}.link/. ${sh(dir)}/ && rm ${sh(dir)}.link`, fixable: false });
      continue;
    }
    if (!fst.isDirectory()) {
      add({ code: 'folder', severity: 'error', path: dir, message: `${name} is not a folder: queuectl refuses the root`, repair: `move it away and make the folder: mv ${sh(dir)} ${sh(dir)}.bad && mkdir -m 700 ${sh(dir)}`, fixable: false });
      continue;
    }
    if (fst.dev !== st.dev) {
      add({ code: 'filesystem', severity: 'error', path: dir, message: `${name}/ is on another filesystem than the root (a mount point): rename(2) cannot move jobs across, so queuectl refuses the root`, repair: `unmount it (umount ${sh(dir)}) and keep the whole root on one filesystem`, fixable: false });
      continue;
    }
    owners.check(dir, fst.uid, rootOwner);
    checkMode(dir, fst, uid, rel, add);
    sound.add(name);
  }

  return sound;
}

/** Can this process write here at all, and does the filesystem's clock agree with this host's? Returns the filesystem's time. */
async function checkClock(store: Store, root: string, now: number, add: (f: Internal) => void): Promise<number> {
  const probe = await probeClock(store);
  if (!probe.ok) {
    add({ code: 'write', severity: 'error', path: store.tmp, message: `cannot write a file in tmp/: ${probe.error}; workers and enqueue cannot either`, repair: 'make room on the filesystem, or make the root writable by its owner', fixable: false });
    return now;
  }
  if (Math.abs(probe.skew) > CLOCK_SKEW_MS) {
    add({ code: 'clock', severity: 'warning', path: root, message: `the filesystem's clock is ${seconds(probe.skew)} ${probe.skew > 0 ? 'ahead of' : 'behind'} this host's: staleness of workers is judged on the filesystem's clock, but run_at and retry times on each worker's own clock`, repair: 'synchronise the clocks of this host and the file server with NTP (timedatectl set-ntp true, or chrony)', fixable: false });
  }
  return probe.mtime;
}

/** What processes left (workers, claims, stages, tmp/, ids/), judged as recovery judges it; quarantine/. */
async function checkLeftovers(ctx: Ctx, sound: Set<string>, reference: number, now: () => number, rel: (p: string) => string, add: (f: Internal) => void): Promise<void> {
  const { store } = ctx;
  const judge = await makeJudge({ store, reference, staleAfterMs: ctx.config.staleAfterMs, self: new Set(), now: now() });
  const recoverRepair = 'queuectl doctor --fix   (or start any worker: recovery runs at its start and every stale-after/2)';
  await checkWorkers(store, judge, now(), add);
  await checkProcessing(store, judge, rel, recoverRepair, add);
  await checkPending(store, judge, rel, recoverRepair, add);
  await checkTmp(store, reference, now(), ctx.config.staleAfterMs, rel, recoverRepair, add);
  if (sound.has('ids')) await checkIds(store, now(), rel, add);
  if (sound.has('quarantine')) {
    for (const q of await listQuarantine(store)) {
      add({ code: 'quarantine', severity: 'warning', path: join(store.quarantine, q.name), message: `pending/${q.originalName} was not a job and waits in quarantine/ (since ${new Date(q.at).toISOString()}): ${q.reason}`, repair: `fix ${sh(join(store.quarantine, q.name))}, then: queuectl quarantine release ${sh(q.name)}   (or delete it and its .reason)`, fixable: false });
    }
  }
}

/**
 * Group and other bits. A folder open to others is a warning (an error when they can write it: anyone could
 * put jobs in, and queuectl refuses such a root); a file inside 0700 folders is out of their reach, so a
 * loose file mode is only noted.
 */
function checkMode(path: string, st: fs.Stats, uid: number, rel: (p: string) => string, add: (f: Internal) => void, isRoot = false): void {
  if (!(st.mode & 0o077)) return;
  const isDir = st.isDirectory();
  const want = isDir ? '700' : '600';
  const writable = (st.mode & 0o022) !== 0;
  const ours = st.uid === uid;
  add({
    code: 'mode', severity: !isDir ? 'info' : writable ? 'error' : 'warning', path,
    message: `${rel(path)}${isDir && !isRoot ? '/' : ''} has mode ${(st.mode & 0o777).toString(8)}: ${writable ? 'others can change it' : 'others can read it'} (commands, output and env values can hold secrets)${writable && isRoot ? '; queuectl refuses a root writable by group or others' : ''}`,
    repair: ours ? `queuectl doctor --fix   (or: chmod ${want} ${sh(path)})` : `chmod ${want} ${sh(path)}   (as its owner)`,
    fixable: ours, fix: ours ? 'chmod' : undefined,
  });
}

async function chmodPrivate(path: string, uid: number): Promise<void> {
  const st = fs.lstatSync(path, { throwIfNoEntry: false });
  if (!st || st.uid !== uid || st.isSymbolicLink()) return;
  await fsp.chmod(path, st.isDirectory() ? DIR_MODE : FILE_MODE).catch(() => {});
}

/**
 * Entries owned by another uid than the root's, one finding per folder and uid: a root someone ran `sudo
 * queuectl` on has many such files, and one `chown -R` repairs them all.
 */
class Owners {
  private readonly seen = new Map<string, { dir: string; uid: number; rootOwner: number; count: number; example: string }>();
  constructor(private readonly rel: (p: string) => string) {}

  check(path: string, uid: number, rootOwner: number): void {
    if (uid === rootOwner) return;
    const dir = path.slice(0, path.lastIndexOf('/'));
    const key = `${dir}\0${uid}`;
    const e = this.seen.get(key) ?? { dir, uid, rootOwner, count: 0, example: basename(path) };
    e.count++;
    this.seen.set(key, e);
  }

  findings(): Internal[] {
    return [...this.seen.values()].map((e) => ({
      code: 'owner', severity: 'error' as const, path: e.dir,
      message: `${e.count === 1 ? '1 entry' : `${e.count} entries`} in ${this.rel(e.dir)}/ ${e.count === 1 ? 'is' : 'are'} owned by uid ${e.uid}, not by the root's owner (uid ${e.rootOwner}), e.g. ${e.example}: workers running as the owner cannot move or rewrite ${e.count === 1 ? 'it' : 'them'} (was a command run with sudo?)`,
      repair: `chown -R ${e.rootOwner} ${sh(e.dir)}`,
      fixable: false,
    }));
  }
}

/** The entries of a folder: owners, and modes unless `uid` is null. */
async function checkEntries(dir: string, rootOwner: number, uid: number | null, owners: Owners, rel: (p: string) => string, add: (f: Internal) => void): Promise<void> {
  for (const name of await fsp.readdir(dir).catch(() => [] as string[])) {
    const path = join(dir, name);
    const st = fs.lstatSync(path, { throwIfNoEntry: false });
    if (!st || st.isSymbolicLink()) continue; // a symlink dropped into pending/ is quarantined as one
    owners.check(path, st.uid, rootOwner);
    if (uid !== null) checkMode(path, st, uid, rel, add);
  }
}

async function checkShards(dir: string, rootOwner: number, uid: number, owners: Owners, rel: (p: string) => string, add: (f: Internal) => void): Promise<void> {
  for (const name of await fsp.readdir(dir).catch(() => [] as string[])) {
    const path = join(dir, name);
    const st = fs.lstatSync(path, { throwIfNoEntry: false });
    if (!st) continue;
    if (st.isSymbolicLink()) {
      add({ code: 'folder', severity: 'error', path, message: `${rel(path)} is a symlink: queuectl never writes through a link inside the root, so moves into it fail`, repair: `replace it with a real folder: mv ${sh(path)} ${sh(path)}.link && mkdir -m 700 ${sh(path)} && cp -a ${sh(path)}.link/. ${sh(path)}/ && rm ${sh(path)}.link`, fixable: false });
      continue;
    }
    owners.check(path, st.uid, rootOwner);
    checkMode(path, st, uid, rel, add);
  }
}

/** Writes a file in tmp/ and reads its mtime: "now" on the filesystem's clock, against this host's. */
async function probeClock(store: Store): Promise<{ ok: true; mtime: number; skew: number } | { ok: false; error: string }> {
  const before = Date.now();
  let path: string;
  try {
    path = await writeTmp(store, 'probe', '', false);
  } catch (err) {
    return { ok: false, error: (err as Error).message };
  }
  try {
    const after = Date.now();
    const mtime = (await fsp.stat(path)).mtimeMs;
    // Within [before, after] on one clock; outside it by the skew (less the time the write took).
    const skew = mtime > after ? mtime - after : mtime < before - 1 ? mtime - before : 0;
    return { ok: true, mtime, skew };
  } finally {
    await fsp.unlink(path).catch(() => {});
  }
}

async function checkWorkers(store: Store, judge: Judge, now: number, add: (f: Internal) => void): Promise<void> {
  for (const name of await fsp.readdir(store.workers).catch(() => [] as string[])) {
    if (!name.endsWith('.json')) continue;
    const path = join(store.workers, name);
    const text = await fsp.readFile(path, 'utf8').catch(() => null);
    let ok = false;
    try {
      const info = JSON.parse(text ?? '') as { id?: unknown };
      ok = typeof info.id === 'string' && judge.workers.has(info.id);
    } catch {
      ok = false;
    }
    if (!ok && text !== null) {
      add({ code: 'heartbeat', severity: 'warning', path, message: `workers/${name} is not a heartbeat queuectl wrote: status and recovery ignore it`, repair: `rm ${sh(path)}`, fixable: false });
    }
  }
  for (const w of judge.workers.values()) {
    const path = join(store.workers, `${w.id}.json`);
    const where = `pid ${w.pid} on ${w.host}`;
    if (w.alive) {
      const ahead = w.heartbeat_at - now;
      if (ahead > CLOCK_SKEW_MS) {
        add({ code: 'clock', severity: 'warning', path, message: `the heartbeat of worker ${w.id} (${where}) was touched ${seconds(ahead)} in this host's future: the clock its mtimes come from and this host's disagree, so this host misjudges run_at and retry times against the other workers`, repair: 'synchronise the clocks with NTP (timedatectl set-ntp true, or chrony) on every host of the root and its file server', fixable: false });
      }
      continue;
    }
    add({ code: 'heartbeat', severity: 'info', path, message: `worker ${w.id} (${where}) is dead: ${w.dead_because}; its file stays for status until an hour after its last beat (what it held is reported on its own)`, repair: null, fixable: false });
  }
}

async function checkProcessing(store: Store, judge: Judge, rel: (p: string) => string, recoverRepair: string, add: (f: Internal) => void): Promise<void> {
  for (const name of await fsp.readdir(store.processing).catch(() => [] as string[])) {
    const path = join(store.processing, name);
    const intentOf = claimOfIntent(name);
    if (intentOf) {
      const claim = parseClaimName(intentOf);
      const why = claim ? judge.deadWorker(claim.worker) : 'its name is not a claim';
      if (why === null) add({ code: 'intent', severity: 'info', path, message: `job ${claim!.id ?? claim!.pendingName} is being finished by worker ${claim!.worker} (its final record is written, the move follows)`, repair: null, fixable: false });
      else add({ code: 'intent', severity: 'warning', path, message: `the final record of ${claim?.id ? `job ${claim.id}` : rel(path)} was written but its worker${claim ? ` ${claim.worker}` : ''} died before the move (${why}): recovery finishes the move with it (the job does not run again)`, repair: recoverRepair, fixable: true, fix: 'recover' });
      continue;
    }
    const claim = name.endsWith('.json') && !name.startsWith('.') ? parseClaimName(name) : null;
    if (!claim) {
      add({ code: 'name', severity: 'warning', path, message: `${rel(path)} is not a claim queuectl made: no worker owns it and nothing will move it`, repair: `look at it, then move it out of processing/ (into pending/ under a name ending in .json if it is a job)`, fixable: false });
      continue;
    }
    const why = judge.deadWorker(claim.worker);
    if (why === null) continue; // running
    const what = claim.id ? `job ${claim.id}` : `the dropped file pending/${claim.pendingName}`;
    add({
      code: 'claim', severity: 'warning', path,
      message: `${what} is held by worker ${claim.worker}, which is dead (${why}): ${claim.id ? 'recovery counts the lost run (worker-lost) and puts it back in pending/, or in dead/ when it has no retries left' : 'recovery takes it in'}`,
      repair: recoverRepair, fixable: true, fix: 'recover',
    });
  }
}

async function checkPending(store: Store, judge: Judge, rel: (p: string) => string, recoverRepair: string, add: (f: Internal) => void): Promise<void> {
  for (const name of await fsp.readdir(store.pending).catch(() => [] as string[])) {
    const path = join(store.pending, name);
    const stage = name.startsWith('.') ? parseStageName(name) : null;
    if (stage) {
      const st = fs.statSync(path, { throwIfNoEntry: false });
      if (!st) continue;
      const id = parsePendingName(stage.name)?.id ?? stage.name;
      const what = stage.kind === 'intake' ? `a dropped file being taken in as ${id}` : `job ${id} on its way back to pending/`;
      if (!judge.deadOwner(stage.owner, st.mtimeMs)) add({ code: 'stage', severity: 'info', path, message: `${what} (by ${stage.owner}, at work)`, repair: null, fixable: false });
      else add({ code: 'stage', severity: 'warning', path, message: `${what}, left by ${stage.owner}, which is dead: hidden from workers until recovery publishes it`, repair: recoverRepair, fixable: true, fix: 'recover' });
      continue;
    }
    if (name.startsWith('.') || !name.endsWith('.json')) {
      add({ code: 'name', severity: 'warning', path, message: `${rel(path)} is never taken: a worker takes only names that end in .json and do not start with "."`, repair: `mv ${sh(path)} ${sh(join(store.pending, `${name.replace(/^\.+/, '').replace(/\.json$/, '') || 'job'}.json`))}   (after checking it with queuectl validate)`, fixable: false });
    }
  }
}

async function checkTmp(store: Store, reference: number, now: number, staleAfterMs: number, rel: (p: string) => string, recoverRepair: string, add: (f: Internal) => void): Promise<void> {
  const names = await fsp.readdir(store.tmp).catch(() => [] as string[]);
  const batches = new Map<string, { owner: string; files: string[]; ids: string[]; commit: string | null; leftAt: number }>();
  for (const name of names) {
    const t = parseTmpName(name);
    const path = join(store.tmp, name);
    const st = fs.statSync(path, { throwIfNoEntry: false });
    if (!st) continue;
    if (t && (t.kind === 'enq' || t.kind === 'commit') && t.detail) {
      const batch = t.kind === 'commit' ? t.detail : t.detail.slice(0, t.detail.indexOf('~'));
      const b = batches.get(`${t.owner}~${batch}`) ?? { owner: t.owner, files: [], ids: [], commit: null, leftAt: 0 };
      b.leftAt = Math.max(b.leftAt, st.mtimeMs);
      if (t.kind === 'commit') b.commit = path;
      else {
        b.files.push(path);
        b.ids.push(t.detail.slice(t.detail.indexOf('~') + 1));
      }
      batches.set(`${t.owner}~${batch}`, b);
      continue;
    }
    // Another file of a writer: harmless once its writer is gone (the hourly sweep removes it).
    const tag = t ? parseProcessTag(t.owner) : null;
    if (tag && tagLiveness(tag) === 'dead') {
      add({ code: 'tmp', severity: 'info', path, message: `${rel(path)} was left by a process of this host that is gone (pid ${tag.pid}); no job is in it (tmp/ is swept of files older than an hour)`, repair: 'queuectl doctor --fix', fixable: true, fix: 'remove-tmp' });
    }
  }
  for (const b of batches.values()) {
    const live = ownerLiveness(b.owner, b.leftAt, now);
    const dead = live === 'dead' || (live === 'unknown' && reference - b.leftAt > staleAfterMs);
    const path = b.commit ?? b.files[0];
    const jobs = `${b.files.length} job${b.files.length === 1 ? '' : 's'}${b.ids.length ? ` (${b.ids.slice(0, 3).join(', ')}${b.ids.length > 3 ? ', ...' : ''})` : ''}`;
    if (!dead) {
      add({ code: 'enqueue', severity: 'info', path, message: `an enqueue of ${jobs} is at work (${b.owner})`, repair: null, fixable: false });
    } else if (b.commit) {
      add({ code: 'enqueue', severity: 'warning', path, message: `a committed batch of ${jobs} waits in tmp/: it was acknowledged, but its enqueue died before every job was in pending/; recovery publishes the rest (when the filesystem has room)`, repair: recoverRepair, fixable: true, fix: 'recover' });
    } else {
      add({ code: 'enqueue', severity: 'warning', path, message: `an enqueue of ${jobs} died before its commit: nothing of it was acknowledged, and its ids stay reserved until recovery releases them`, repair: recoverRepair, fixable: true, fix: 'recover' });
    }
  }
}

/** Ids whose marker no visible job holds: holderOf says who does (an enqueue, an intake, or no one). */
async function checkIds(store: Store, now: number, rel: (p: string) => string, add: (f: Internal) => void): Promise<void> {
  const visible = await visibleIds(store);
  for (const shard of await fsp.readdir(store.ids).catch(() => [] as string[])) {
    for (const id of await fsp.readdir(join(store.ids, shard)).catch(() => [] as string[])) {
      if (visible.has(id)) continue;
      let h;
      try {
        h = await holderOf(store, id, now);
      } catch {
        continue;
      }
      if (h.kind !== 'orphan') continue; // a job after all, an enqueue (reported with tmp/), an intake at work
      const path = join(store.ids, shard, id);
      add({ code: 'id', severity: 'warning', path, message: `the id "${id}" is reserved (${rel(path)}) but no job and no writer holds it (left ${seconds(h.ageMs)} ago by a process that died): a new job cannot use it; released after an hour`, repair: 'queuectl doctor --fix', fixable: true, fix: 'release-id' });
    }
  }
}

/** Every id a file of a job shows: pending/ (and its stages), processing/, completed/, dead/. */
async function visibleIds(store: Store): Promise<Set<string>> {
  const ids = new Set<string>();
  for (const n of await fsp.readdir(store.pending).catch(() => [] as string[])) {
    const s = n.startsWith('.') ? parseStageName(n) : null;
    const id = parsePendingName(s ? s.name : n)?.id;
    if (id) ids.add(id);
  }
  for (const n of await fsp.readdir(store.processing).catch(() => [] as string[])) {
    const id = parseClaimName(n)?.id;
    if (id) ids.add(id);
  }
  for (const shard of await listCompletedShards(store)) {
    for (const n of await fsp.readdir(join(store.completed, shard)).catch(() => [] as string[])) if (n.endsWith('.json')) ids.add(n.slice(0, -5));
  }
  for (const n of await fsp.readdir(store.dead).catch(() => [] as string[])) if (n.endsWith('.json')) ids.add(n.slice(0, -5));
  return ids;
}

/** Releases an id whose marker is an orphan, judged twice (a writer between two steps would show). */
async function releaseIfOrphan(store: Store, id: string, now: () => number): Promise<void> {
  if ((await holderOf(store, id, now())).kind !== 'orphan') return;
  await new Promise((r) => setTimeout(r, 50));
  if ((await holderOf(store, id, now())).kind !== 'orphan') return;
  releaseIdSync(store, id);
}

function seconds(ms: number): string {
  const s = Math.abs(ms) / 1000;
  return s >= 120 ? `${Math.round(s / 60)}min` : `${s.toFixed(s < 10 ? 1 : 0)}s`;
}

/** Quotes a path for a command a person copies. */
function sh(word: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}
