// The Node API's Queue (src/api.ts) for a command: the commands call the same functions a program calls,
// with the working directory and the environment queuectl was started with.

import { Queue } from '../api.js';
import type { Context } from './context.js';

export async function queueOf(ctx: Context): Promise<Queue> {
  return new Queue(await ctx.store(), { cwd: ctx.cwd, env: ctx.env });
}
