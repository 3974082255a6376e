// `queuectl dashboard`: serves the status page (src/web) until Ctrl+C. Express and the templates load
// only here, so other commands start as fast as before.

import type { AddressInfo } from 'node:net';
import { hostname } from 'node:os';
import { fileURLToPath } from 'node:url';
import { loadConfig } from '../../config.js';
import { InputError, QueuectlError } from '../../errors.js';
import { isLoopbackHost, newAccessToken } from '../../web/security.js';
import { type Context, intOption, str } from '../context.js';
import type { Input } from '../spec.js';

export const DEFAULT_PORT = 5000;
export const DEFAULT_HOST = '127.0.0.1';
/** Shortest token accepted: a guessable token on a public address is no protection. */
export const TOKEN_MIN_LENGTH = 12;

/** views/ at the package root: three folders up from src/cli/commands or dist/cli/commands. */
const VIEWS_DIR = fileURLToPath(new URL('../../../views', import.meta.url));

export async function dashboardCommand(ctx: Context, input: Input): Promise<number> {
  const port = intOption(str(input, 'port'), '--port', 0, 65535) ?? DEFAULT_PORT;
  const host = str(input, 'host') ?? DEFAULT_HOST;
  const token = str(input, 'token') ?? ctx.env.QUEUECTL_DASHBOARD_TOKEN;
  if (host.trim() === '') throw new InputError('Expected --host to be an address such as 127.0.0.1 or 0.0.0.0, got ""');
  if (token !== undefined && token.length < TOKEN_MIN_LENGTH) {
    throw new InputError(`Expected --token to be at least ${TOKEN_MIN_LENGTH} characters, got ${token.length}; make one with: openssl rand -hex 16`);
  }
  if (!isLoopbackHost(host) && token === undefined) {
    throw new InputError(
      `Refusing to serve the dashboard on ${host} without a token: anyone who can reach that address could retry and cancel jobs. ` +
      'Add --token <secret> (or set QUEUECTL_DASHBOARD_TOKEN), or keep the default --host 127.0.0.1',
    );
  }

  const store = await ctx.store();
  const config = await loadConfig(store);
  const { createApp } = await import('../../web/server.js');
  // Without --token, a fresh random one: loopback is open to every local account (see security.ts).
  const access = token ?? newAccessToken();
  const app = createApp({ store, config, token: access, viewsDir: VIEWS_DIR, host });

  const server = await new Promise<import('node:http').Server>((resolve, reject) => {
    const s = app.listen(port, host);
    s.once('listening', () => resolve(s));
    s.once('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'EADDRINUSE') reject(new QueuectlError(`Port ${port} on ${host} is already in use; choose another with --port (0 picks a free one)`));
      else if (err.code === 'EADDRNOTAVAIL' || err.code === 'ENOTFOUND') reject(new InputError(`Cannot listen on ${host}: no such address on this machine (${err.code})`));
      else reject(err);
    });
  });
  const addr = server.address() as AddressInfo;
  const wildcard = addr.address === '0.0.0.0' || addr.address === '::';
  const shown = wildcard ? hostname() : addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
  // The signals are taken before the banner: whoever reads "dashboard for" may stop it at once.
  const stopped = new Promise<void>((resolve) => {
    let stopping = false;
    const stop = () => {
      if (stopping) return;
      stopping = true;
      server.close(() => resolve());
      server.closeAllConnections();
    };
    ctx.signals.on('SIGINT', stop);
    ctx.signals.on('SIGTERM', stop);
    ctx.signals.on('SIGHUP', stop);
  });
  ctx.out(`queuectl dashboard for ${store.root}`);
  if (token === undefined) ctx.out(`  http://${shown}:${addr.port}/?token=${access}`);
  else ctx.out(`  http://${shown}:${addr.port}/`);
  if (token !== undefined) ctx.out('  token required: open the page once with ?token=<token>, or send "Authorization: Bearer <token>"');
  ctx.out('Press Ctrl+C to stop.');
  await stopped;
  ctx.out('Dashboard stopped.');
  return 0;
}
