// What keeps the status page safe to leave open:
//  - Headers on every response: a Content-Security-Policy that allows scripts and styles only from this
//    server (no inline script), no framing, no MIME sniffing, no caching of pages that show job data.
//  - Host check: bound to loopback, only Host names of this machine are answered, so a page on another
//    site cannot reach the dashboard through DNS rebinding.
//  - Token, always (on loopback too): every request but /healthz and /static/ needs it, as
//    `Authorization: Bearer T` (any case of "Bearer"), or once as `?token=T`, which sets an HttpOnly
//    SameSite=Strict cookie. Loopback is not private: every local account can connect to 127.0.0.1, and
//    the root is 0700 because commands and output hold secrets. Without --token, `queuectl dashboard`
//    makes a random one (newAccessToken) and prints the URL with it, as Jupyter does; it is never in argv.
//  - CSRF: every POST carries the token of this server start (a hidden form field or X-CSRF-Token), and
//    a POST whose Origin, Referer or Sec-Fetch-Site says it comes from another site is refused.

import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { NextFunction, Request, RequestHandler, Response } from 'express';

/** Form field and header that carry the CSRF token. */
export const CSRF_FIELD = '_csrf';
export const CSRF_HEADER = 'x-csrf-token';
const TOKEN_COOKIE = 'queuectl_token';

/** Sends an error as JSON to API clients and as a small HTML page to browsers. */
export type SendError = (req: Request, res: Response, status: number, message: string) => void;

/** True for names and addresses that only this machine can reach. */
export function isLoopbackHost(host: string): boolean {
  const h = host.trim().toLowerCase().replace(/^\[(.*)\]$/, '$1');
  return h === 'localhost' || h.endsWith('.localhost') || h === '::1' || /^127(\.\d{1,3}){3}$/.test(h) || h === '::ffff:127.0.0.1';
}

/** A random token for a dashboard started without --token: 192 bits, URL-safe. */
export function newAccessToken(): string {
  return randomBytes(24).toString('base64url');
}

/** Constant-time comparison of two secrets. */
export function sameSecret(given: unknown, expected: string): boolean {
  if (typeof given !== 'string') return false;
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

const CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "form-action 'self'",
  "base-uri 'none'",
  "frame-ancestors 'none'",
].join('; ');

/** Security headers for every response. */
export function securityHeaders(): RequestHandler {
  return (_req, res, next) => {
    res.setHeader('Content-Security-Policy', CSP);
    res.setHeader('X-Content-Type-Options', 'nosniff');
    res.setHeader('X-Frame-Options', 'DENY');
    // same-origin keeps the Referer for our own POSTs (checked below) and sends nothing elsewhere.
    res.setHeader('Referrer-Policy', 'same-origin');
    res.setHeader('Cross-Origin-Opener-Policy', 'same-origin');
    res.setHeader('Cross-Origin-Resource-Policy', 'same-origin');
    res.setHeader('Cache-Control', 'no-store');
    next();
  };
}

/** The host name of a Host header value ("127.0.0.1:5000" -> "127.0.0.1", "[::1]:80" -> "::1"). */
function hostName(hostHeader: string): string {
  const m = /^\[([^\]]+)\](?::\d+)?$/.exec(hostHeader);
  if (m) return m[1];
  return hostHeader.replace(/:\d+$/, '');
}

/**
 * Refuses requests whose Host header is not a loopback name (DNS rebinding). Used when the dashboard
 * listens on loopback, before the token check (a second wall: an attacker's page lacks the token too).
 */
export function loopbackHostOnly(sendError: SendError): RequestHandler {
  return (req, res, next) => {
    const host = req.headers.host ?? '';
    if (isLoopbackHost(hostName(host))) return next();
    sendError(req, res, 403, `Host "${host.slice(0, 100)}" is not served: this dashboard listens on loopback only and answers to localhost, 127.0.0.1 and [::1]. To serve other names, start it with --host and --token.`);
  };
}

function cookieValue(req: Request, name: string): string | undefined {
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) {
      try {
        return decodeURIComponent(part.slice(eq + 1).trim());
      } catch {
        return undefined;
      }
    }
  }
  return undefined;
}

/** Cookie name per port, so two dashboards on one host keep their own tokens. */
function tokenCookie(req: Request): string {
  return `${TOKEN_COOKIE}_${req.socket.localPort ?? 0}`;
}

/**
 * Requires `token` on every request except /healthz and /static/. A browser brings it once in the URL (`?token=`),
 * gets it back as a cookie, and is redirected to the same URL without it.
 */
export function requireToken(token: string, sendError: SendError): RequestHandler {
  return (req, res, next) => {
    // Health checks and the page's own script and style (no queue data) are open.
    if (req.path === '/healthz' || req.path.startsWith('/static/')) return next();
    // RFC 7235: the scheme is case-insensitive ("bearer T", "BEARER T").
    const bearer = /^bearer[ \t]+(.+?)[ \t]*$/i.exec(req.headers.authorization ?? '');
    if (bearer && sameSecret(bearer[1], token)) return next();
    if (sameSecret(cookieValue(req, tokenCookie(req)), token)) return next();
    const url = new URL(req.originalUrl, 'http://x');
    const given = url.searchParams.get('token');
    if (given !== null && req.method === 'GET' && sameSecret(given, token)) {
      res.setHeader('Set-Cookie', `${tokenCookie(req)}=${encodeURIComponent(token)}; Path=/; HttpOnly; SameSite=Strict`);
      url.searchParams.delete('token');
      return res.redirect(303, url.pathname + url.search);
    }
    res.setHeader('WWW-Authenticate', 'Bearer realm="queuectl"');
    if (req.accepts(['html', 'json']) === 'html' && req.method === 'GET') {
      res.status(401).render('token', { title: 'Token required', wrong: given !== null, path: url.pathname });
      return;
    }
    sendError(req, res, 401, 'This dashboard needs its token: send "Authorization: Bearer <token>", or open the page once with ?token=<token>');
  };
}

/** The per-start CSRF token and the check for state-changing requests. */
export interface Csrf {
  token: string;
  /** Refuses a POST from another site or without the token (403). */
  check: RequestHandler;
}

export function createCsrf(sendError: SendError): Csrf {
  const token = randomBytes(24).toString('base64url');
  const check = (req: Request, res: Response, next: NextFunction) => {
    const host = req.headers.host ?? '';
    const site = req.headers['sec-fetch-site'];
    if (site !== undefined && site !== 'same-origin' && site !== 'none') {
      return sendError(req, res, 403, `Refused a ${site} request: actions can only be taken from this dashboard's own pages`);
    }
    const origin = req.headers.origin;
    if (origin !== undefined && !sameHost(origin, host)) {
      return sendError(req, res, 403, `Refused a request from origin ${origin.slice(0, 100)}: actions can only be taken from this dashboard's own pages`);
    }
    const referer = req.headers.referer;
    if (origin === undefined && referer !== undefined && !sameHost(referer, host)) {
      return sendError(req, res, 403, 'Refused a request referred by another site: actions can only be taken from this dashboard\'s own pages');
    }
    const given = (req.body as Record<string, unknown> | undefined)?.[CSRF_FIELD] ?? req.headers[CSRF_HEADER];
    if (!sameSecret(given, token)) {
      return sendError(req, res, 403, `Missing or wrong CSRF token: send the form from the dashboard, or the "${CSRF_HEADER}" header with the token from GET /api/csrf`);
    }
    next();
  };
  return { token, check };
}

function sameHost(url: string, host: string): boolean {
  try {
    return new URL(url).host === host.toLowerCase();
  } catch {
    return false; // "null" (a sandboxed or opaque origin) or garbage
  }
}
