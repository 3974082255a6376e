// `queuectl wait ID... | --all`: exit 0 when every job waited for completed, 1 when one is dead, 124
// when --timeout ran out first (like timeout(1)), so a script can tell the three apart.

import type { WaitProgress } from '../../admin.js';
import { InputError } from '../../errors.js';
import { formatDuration } from '../../units.js';
import { type Context, durationOption, flag, str } from '../context.js';
import { count, pcErr, printJson } from '../format.js';
import { queueOf } from '../queue.js';
import type { Input } from '../spec.js';

/** Exit status of a time-out, as timeout(1) has it. */
export const EXIT_TIMEOUT = 124;

export async function waitCommand(ctx: Context, input: Input): Promise<number> {
  const all = flag(input, 'all');
  const ids = input.args;
  if (all && ids.length) throw new InputError('Give job ids or --all, not both');
  if (!all && ids.length === 0) throw new InputError('Expected job ids or --all: queuectl wait ID... | --all');
  const timeoutMs = durationOption(str(input, 'timeout'), '--timeout');
  const queue = await queueOf(ctx);
  const result = await queue.wait(all ? 'all' : ids, { timeoutMs, onProgress: ctx.tty.stderr ? progress(ctx) : undefined });
  ctx.progress('');
  if (flag(input, 'json')) printJson(ctx.out, result);
  if (result.timedOut) {
    ctx.err(`Timed out after ${formatDuration(timeoutMs)}; ${count(result.waiting.length)} job${result.waiting.length === 1 ? '' : 's'} not finished`);
    return EXIT_TIMEOUT;
  }
  if (!flag(input, 'json') && result.dead.length) {
    const shown = result.dead.slice(0, 20).join(', ') + (result.dead.length > 20 ? `, and ${count(result.dead.length - 20)} more` : '');
    ctx.err(`${pcErr.red('dead')}: ${shown}${all ? ' (see queuectl dlq list)' : ''}`);
  }
  return result.dead.length ? 1 : 0;
}

/** "wait: 12 jobs left, 2 running", redrawn at most every 100 ms. */
function progress(ctx: Context): (p: WaitProgress) => void {
  let last = 0;
  return (p) => {
    const now = Date.now();
    if (now - last < 100) return;
    last = now;
    ctx.progress(pcErr.dim(`wait: ${count(p.left)} job${p.left === 1 ? '' : 's'} left, ${count(p.running)} running`));
  };
}
