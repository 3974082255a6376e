// `queuectl metrics`: the Prometheus text that GET /metrics serves, printed without a web server, for
// node_exporter's textfile collector (run from cron, write to a temporary file, rename it into place).

import { loadConfig } from '../../config.js';
import { collectMetrics } from '../../metrics.js';
import type { Context } from '../context.js';

export async function metricsCommand(ctx: Context): Promise<number> {
  const store = await ctx.store();
  const config = await loadConfig(store);
  ctx.out((await collectMetrics(store, config.staleAfterMs, Date.now())).trimEnd());
  return 0;
}
