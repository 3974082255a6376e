// `queuectl quarantine list|release`: what could not be read as a job, and putting it back once fixed.

import pc from 'picocolors';
import { InputError } from '../../errors.js';
import { listQuarantine, releaseQuarantined } from '../../lifecycle.js';
import type { Context } from '../context.js';
import { printJson, relative, table } from '../format.js';

export const QUARANTINE_ACTIONS = ['list', 'release'] as const;

export async function quarantineCommand(ctx: Context, action: string | undefined, names: string[], flags: { json?: boolean; all?: boolean }): Promise<number> {
  const store = await ctx.store();
  switch (action ?? 'list') {
    case 'list': {
      const items = await listQuarantine(store);
      if (flags.json) {
        printJson(ctx.out, items.map((q) => ({ name: q.name, original_name: q.originalName, at: new Date(q.at).toISOString(), reason: q.reason })));
        return 0;
      }
      if (items.length === 0) {
        ctx.out(pc.dim('Nothing in quarantine/.'));
        return 0;
      }
      const now = Date.now();
      for (const line of table(['NAME', 'SINCE', 'REASON'], items.map((q) => [q.name, relative(q.at, now), q.reason]))) ctx.out(line);
      return 0;
    }
    case 'release': {
      if (flags.all && names.length) throw new InputError('Give quarantined file names or --all, not both');
      const targets = flags.all ? (await listQuarantine(store)).map((q) => q.name) : names;
      if (targets.length === 0) throw new InputError('Expected the name of a file in quarantine/ (see queuectl quarantine list), or --all');
      const known = new Set((await listQuarantine(store)).map((q) => q.name));
      for (const name of targets) {
        if (!known.has(name)) throw new InputError(`No file "${name}" in quarantine/; queuectl quarantine list shows what is there`);
      }
      for (const name of targets) {
        const back = releaseQuarantined(store, name, Date.now());
        ctx.out(`Released ${name} as pending/${back} (a worker checks it again)`);
      }
      return 0;
    }
    default:
      throw new InputError(`Unknown quarantine action "${action}"; expected one of ${QUARANTINE_ACTIONS.join(', ')}`);
  }
}
