#!/usr/bin/env node
// Fills a queue root with many valid job files, fast, for the big-queue figures of bench/run.mjs.
//
//   node bench/fill.mjs pending   ROOT COUNT [--at MS] [--priority P] [--prefix p]
//   node bench/fill.mjs completed ROOT COUNT [--shards 168] [--current K] [--prefix c]
//
// pending:   COUNT files in pending/ named as queuectl names them (<available_at ms:13>-<priority+1000:4>-
//            <attempts:3>-<id>.json), each holding the same record `enqueue` writes for `{"command":"true"}`
//            with that id and available_at. --at: available_at in ms (default now).
// completed: COUNT finished-job records spread evenly over the SHARDS closed hour shards before the current
//            hour (completed/<YYYYMMDDHH>/<id>.json, as retention would leave a week of them), plus K more in
//            the current hour's shard. Each record is what a worker writes for a `true` that exited 0, with
//            finished_at inside its shard's hour.
//
// What it does not do: no id markers in ids/ (workers never look at them to run or count jobs), no fsync
// (the bench flushes once with `sync -f` afterwards). One synchronous writeFileSync per file in a tight loop,
// the content built from a template by string concatenation: ~10-20 us a file on a local ext4.
// The root must exist with its layout (any queuectl command on it makes one). Prints one JSON line:
// {"kind","files","ms","bytes"}.

import * as fs from 'node:fs';
import { join } from 'node:path';

const [kind, root, countArg, ...rest] = process.argv.slice(2);
const opt = (name, def) => {
  const i = rest.indexOf(`--${name}`);
  return i >= 0 ? rest[i + 1] : def;
};
if (!['pending', 'completed'].includes(kind) || !root || !(Number(countArg) >= 0)) {
  process.stderr.write('usage: node bench/fill.mjs pending|completed ROOT COUNT [options] (see the top of this file)\n');
  process.exit(2);
}
if (!fs.existsSync(join(root, 'format'))) {
  process.stderr.write(`${root} is not a queue root (no format marker); run any queuectl command on it first\n`);
  process.exit(2);
}
const COUNT = Number(countArg);
const MODE = 0o600;
const ID_MARK = '\u0001ID\u0001';
const now = Date.now();

/** Template text split around the id: the record is JSON.stringify(job, null, 2) + "\n", like serializeJob. */
function template(job) {
  const text = `${JSON.stringify(job, null, 2)}\n`;
  const parts = text.split(JSON.stringify(ID_MARK));
  if (parts.length !== 2) throw new Error('template: id must occur once');
  return parts;
}
const quoteId = (id) => `"${id}"`; // ids are [A-Za-z0-9._-]: nothing to escape

const t0 = process.hrtime.bigint();
let files = 0, bytes = 0;

if (kind === 'pending') {
  const at = Number(opt('at', now));
  const priority = Number(opt('priority', 0));
  const prefix = opt('prefix', 'p');
  const iso = new Date(now).toISOString();
  const atIso = new Date(at).toISOString();
  const [a, b] = template({
    id: ID_MARK, command: 'true', state: 'pending', priority, attempts: 0, max_retries: 0,
    run_at: atIso, available_at: atIso, timeout: null, cwd: null, created_at: iso, updated_at: iso,
  });
  const dir = join(root, 'pending');
  const head = `${String(at).padStart(13, '0')}-${String(priority + 1000).padStart(4, '0')}-000-`;
  for (let i = 0; i < COUNT; i++) {
    const id = `${prefix}${i}`;
    const data = a + quoteId(id) + b;
    fs.writeFileSync(join(dir, `${head}${id}.json`), data, { mode: MODE, flag: 'wx' });
    files++;
    bytes += data.length;
  }
} else {
  const shards = Number(opt('shards', 168));
  const current = Number(opt('current', 0));
  const prefix = opt('prefix', 'c');
  const hourStart = now - (now % 3_600_000);
  const shardOf = (ms) => new Date(ms).toISOString().slice(0, 13).replace(/[-T]/g, '');
  const write = (hourMs, n, finishMs) => {
    const dir = join(root, 'completed', shardOf(hourMs));
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    const fin = new Date(finishMs).toISOString();
    const start = new Date(finishMs - 8).toISOString();
    const created = new Date(finishMs - 60).toISOString();
    const [a, b] = template({
      id: ID_MARK, command: 'true', state: 'completed', priority: 0, attempts: 1, max_retries: 0,
      run_at: created, available_at: created, timeout: null, cwd: null, created_at: created, updated_at: fin,
      history: [{ attempt: 1, worker: 'wbench', host: 'bench', pid: 1, started_at: start, ended_at: fin, duration_ms: 8, exit_code: 0, signal: null, reason: 'completed' }],
      exit_code: 0, signal: null, output_tail: '', last_error: null, finished_at: fin,
    });
    const base = files;
    for (let i = 0; i < n; i++) {
      const id = `${prefix}${base + i}`;
      const data = a + quoteId(id) + b;
      fs.writeFileSync(join(dir, `${id}.json`), data, { mode: MODE, flag: 'wx' });
      bytes += data.length;
    }
    files += n;
  };
  // Oldest first (shard s = 168 is 7 days ago): COUNT spread evenly, the remainder over the oldest shards.
  for (let s = shards; s >= 1; s--) {
    const n = Math.floor(COUNT / shards) + (shards - s < COUNT % shards ? 1 : 0);
    const hour = hourStart - s * 3_600_000;
    write(hour, n, hour + 1_800_000);
  }
  if (current > 0) write(hourStart, current, Math.max(hourStart, now - 1000));
}

const ms = Number(process.hrtime.bigint() - t0) / 1e6;
process.stdout.write(`${JSON.stringify({ kind, files, ms: Math.round(ms), bytes })}\n`);
