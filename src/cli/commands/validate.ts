// `queuectl validate FILE... | -`: whether a worker would take each file if it were dropped into pending/,
// and if not, the very reason it would be quarantined with. Nothing here judges a job: the verdict is the
// intake's own (lifecycle.judgeDroppedFile / judgeDroppedBytes, then createJob), so the two cannot drift.
//
// Invariants:
//  - The queue is never changed, nor created: a root that exists is only read (to say whether an id the
//    JSON names is already used, which would get the file quarantined, and for its max-retries).
//  - Exit 0 when every file is valid, 2 when any is not (bad input), whatever stdout does: the status is
//    the answer, so a closed stdout does not end it early.

import * as fs from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { CONFIG_KEYS, loadConfig } from '../../config.js';
import { InputError } from '../../errors.js';
import type { JobDefaults } from '../../job.js';
import { type DroppedVerdict, droppedNameProblem, idTakenReason, judgeDroppedBytes, judgeDroppedFile, markerPath } from '../../lifecycle.js';
import type { Store } from '../../store.js';
import { type Context, flag, str } from '../context.js';
import { pc, printJson } from '../format.js';
import type { Input } from '../spec.js';

/** One file's verdict, as --json prints it. */
interface Report {
  file: string;
  /** The name it is judged under in pending/ (its own, or --name). */
  name: string;
  valid: boolean;
  /** Why a worker would quarantine it; null when valid. */
  reason: string | null;
  /** The id it would get: null when a worker generates one as it takes it in. */
  id: string | null;
  /** Where the id comes from. */
  id_from: 'json' | 'file name' | 'generated' | null;
  /** A name a worker never takes (hidden, or not ending in .json): the file would wait forever. */
  note: string | null;
}

export async function validateCommand(ctx: Context, input: Input): Promise<number> {
  const files = input.args;
  if (files.length === 0) throw new InputError('Expected one or more job files, or - to read one job from stdin: queuectl validate FILE... | -');
  if (files.filter((f) => f === '-').length > 1) throw new InputError('Give - (stdin) at most once');
  const nameFlag = str(input, 'name');
  if (nameFlag !== undefined && files.length > 1) throw new InputError('--name applies to one file; give one FILE (or -) with it');
  if (nameFlag !== undefined && (nameFlag === '' || nameFlag.includes('/'))) throw new InputError(`Expected --name to be a file name in pending/ (no /), got ${JSON.stringify(nameFlag)}`);
  const store = await existingStore(ctx);
  const defaults: JobDefaults = { maxRetries: store ? (await loadConfig(store)).maxRetries : CONFIG_KEYS['max-retries'].default, cwd: null };

  const reports: Report[] = [];
  for (const file of files) {
    const name = nameFlag ?? (file === '-' ? 'stdin.json' : basename(file));
    reports.push(await judge(ctx, file, name, defaults, store));
  }
  if (flag(input, 'json')) printJson(ctx.out, reports);
  else {
    for (const r of reports) {
      const label = r.file === '-' ? 'stdin' : r.file;
      if (r.valid) ctx.out(`${label}: ${pc.green('valid')} (${describeId(r)})`);
      else ctx.out(`${label}: ${pc.red('invalid')}: ${r.reason}`);
      if (r.note) ctx.err(`${label}: note: ${r.note}`);
    }
  }
  return reports.every((r) => r.valid) ? 0 : 2;
}

function describeId(r: Report): string {
  if (r.id_from === 'json') return `id "${r.id}"`;
  if (r.id_from === 'file name') return `id "${r.id}", from its file name; a generated one if that is taken by then`;
  return 'a worker gives it a generated id';
}

/** The root when it already exists (never created here); null otherwise, or when it cannot be opened. */
async function existingStore(ctx: Context): Promise<Store | null> {
  if (!fs.existsSync(join(ctx.root, 'format'))) return null;
  try {
    return await ctx.store();
  } catch (err) {
    ctx.err(`note: ids are not checked against ${ctx.root}: ${(err as Error).message}`);
    return null;
  }
}

async function judge(ctx: Context, file: string, name: string, defaults: JobDefaults, store: Store | null): Promise<Report> {
  const report: Report = { file, name, valid: false, reason: null, id: null, id_from: null, note: nameNote(name) };
  const nameProblem = droppedNameProblem(name);
  if (nameProblem) return { ...report, reason: nameProblem };
  let verdict: DroppedVerdict;
  if (file === '-') verdict = judgeDroppedBytes(await readStdin(ctx.stdin), name, Date.now(), defaults);
  // As a worker: a file that does not parse and changed within the last second is waited for first.
  else verdict = await judgeDroppedFile(resolve(ctx.cwd, file), name, { now: Date.now, defaults });
  if (verdict.kind === 'gone') return { ...report, reason: 'no such file' };
  if (verdict.kind === 'bad') return { ...report, reason: verdict.reason };
  const { job, explicitId, fromName } = verdict;
  const taken = store !== null && fs.existsSync(markerPath(store, job.id));
  if (explicitId && taken) return { ...report, reason: idTakenReason(job.id) };
  if (explicitId) return { ...report, valid: true, id: job.id, id_from: 'json' };
  if (fromName && !taken) return { ...report, valid: true, id: fromName, id_from: 'file name' };
  return { ...report, valid: true, id_from: 'generated' };
}

/** A worker looks only at names ending in .json that do not start with a dot. */
function nameNote(name: string): string | null {
  if (name.endsWith('.json') && !name.startsWith('.')) return null;
  return `a worker never takes pending/${name}: move it into pending/ under a name that ends in .json and does not start with "." (or check it as such with --name)`;
}

async function readStdin(stream: NodeJS.ReadableStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer));
  return Buffer.concat(chunks);
}
