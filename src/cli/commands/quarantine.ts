// `queuectl quarantine list|release`: what could not be read as a job, and putting it back once fixed.

import { InputError } from '../../errors.js';
import { listQuarantine, releaseQuarantined } from '../../lifecycle.js';
import { type Context, flag } from '../context.js';
import { loadCellWidths, pc, printJson, relative, table } from '../format.js';
import type { Input } from '../spec.js';

export async function quarantineList(ctx: Context, input: Input): Promise<void> {
  const items = await listQuarantine(await ctx.store());
  if (flag(input, 'json')) {
    return printJson(ctx.out, items.map((q) => ({ name: q.name, original_name: q.originalName, at: new Date(q.at).toISOString(), reason: q.reason })));
  }
  if (items.length === 0) {
    ctx.out(pc.dim('Nothing in quarantine/.'));
    return;
  }
  const now = Date.now();
  // File names and reasons come from whoever dropped the file: any text.
  await loadCellWidths(items.flatMap((q) => [q.name, q.reason]));
  for (const line of table(['NAME', 'SINCE', 'REASON'], items.map((q) => [q.name, relative(q.at, now), q.reason]), ctx.columns)) ctx.out(line);
}

/** Every name is checked before any file moves: a typo releases nothing. */
export async function quarantineRelease(ctx: Context, input: Input): Promise<void> {
  const all = flag(input, 'all');
  const names = input.args;
  if (all && names.length) throw new InputError('Give quarantined file names or --all, not both');
  const store = await ctx.store();
  const targets = all ? (await listQuarantine(store)).map((q) => q.name) : names;
  if (targets.length === 0) throw new InputError('Expected the name of a file in quarantine/ (see queuectl quarantine list), or --all');
  const known = new Set((await listQuarantine(store)).map((q) => q.name));
  for (const name of targets) {
    if (!known.has(name)) throw new InputError(`No file "${name}" in quarantine/; queuectl quarantine list shows what is there`);
  }
  for (const name of targets) {
    const back = releaseQuarantined(store, name, Date.now());
    ctx.out(`Released ${name} as pending/${back} (a worker checks it again)`);
  }
}
