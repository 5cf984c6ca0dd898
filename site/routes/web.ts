/**
 * The web console (issue #19), served by `jump-site serve` on its own port and certificate: the page
 * shells (`/login`: the admin interface; `/` and `/web/`: the Jump interface), the bundled assets
 * under `/web/assets/` (@fastify/static over dist/web/assets, built by scripts/build-web.mjs), the
 * security headers of every answer, and the browser's way of holding its API token: a cookie.
 *
 * The page shells carry no data (`config.access: 'public'`); everything comes from the JSON API,
 * whose access hook (site/api.ts) checks every call as it does the CLI's.
 *
 * The cookie (docs/web.md, docs/security.md):
 * - `POST /api/v1/login` with the header `X-Jump-Web: 1` answers as usual but puts the token in the
 *   cookie `__Host-jump_session` (HttpOnly; Secure; SameSite=Strict; Path=/) instead of the body,
 *   so page script never sees it. Same route, so the same throttling, hashing queue, audit and
 *   forced password change as the CLI's login.
 * - A request with no `Authorization` header and that cookie is authenticated with the cookie's
 *   token (the hook below turns it into `Authorization: Bearer`, before the API's hook runs).
 * - CSRF: a cookie-authenticated request with a method other than GET/HEAD/OPTIONS must carry
 *   `X-Jump-Web: 1` (a custom header: a cross-site form or fetch cannot send it without a CORS
 *   preflight, which the site never grants), and its `Origin` and `Sec-Fetch-Site`, when the
 *   browser sends them, must say this site. Otherwise 403 CSRF_REJECTED, before anything runs.
 * - `POST /api/v1/me/password` by cookie: the fresh token goes into the cookie too. `POST
 *   /api/v1/logout` by cookie deletes the token and clears the cookie.
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fastifyStatic from '@fastify/static';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { JumpError } from '../../protocol/errors.js';
import { TOKEN_TTL_MS } from '../auth.js';
import { allow, type ApiContext } from './common.js';
import { registerEventRoutes } from './events.js';

/** The session cookie's name. `__Host-`: the browser keeps it only if Secure, Path=/ and no Domain. */
export const SESSION_COOKIE = '__Host-jump_session';
/** The header the web console sends on every API call (lower case, as Node gives headers). */
export const WEB_HEADER = 'x-jump-web';

/**
 * The Content-Security-Policy of every answer: scripts, styles, images, fetch/EventSource/WebSocket
 * from this site only; no inline script, no eval, no plugins, no framing.
 */
export const CONTENT_SECURITY_POLICY = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "font-src 'self'",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

/** The security headers set on every answer of the site (pages, assets and the API). */
export const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'content-security-policy': CONTENT_SECURITY_POLICY,
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-resource-policy': 'same-origin',
  'strict-transport-security': 'max-age=31536000',
};

/** A file under /web/assets/: path segments of letters, digits, `.`, `_` and `-`. */
const ASSET_PATH = /^[A-Za-z0-9._-]{1,128}(\/[A-Za-z0-9._-]{1,128}){0,4}$/;
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);
/** An API token as the cookie holds it (auth.ts BEARER's token part). */
const TOKEN_SHAPE = /^jst_[A-Za-z0-9_-]{43}$/;

declare module 'fastify' {
  interface FastifyRequest {
    /** True when this request was authenticated by the web console's session cookie. */
    webCookie?: boolean;
  }
}

/** The session token in a `Cookie` header, or null when absent or not a token's shape. */
export function sessionCookie(header: string | undefined): string | null {
  if (!header) return null;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    if (part.slice(0, eq).trim() !== SESSION_COOKIE) continue;
    const v = part.slice(eq + 1).trim();
    return TOKEN_SHAPE.test(v) ? v : null;
  }
  return null;
}

/**
 * Throws CSRF_REJECTED unless `req` carries `X-Jump-Web: 1` and, where the browser sends them, an
 * `Origin` of this very site (scheme https, the request's Host) and `Sec-Fetch-Site: same-origin`.
 */
export function checkCsrf(req: Pick<FastifyRequest, 'headers'>): void {
  const h = req.headers;
  if (h[WEB_HEADER] !== '1') throw new JumpError('CSRF_REJECTED', { detail: `The ${WEB_HEADER} header is missing.` });
  const origin = h.origin;
  if (origin !== undefined && origin !== `https://${h.host ?? ''}`) {
    throw new JumpError('CSRF_REJECTED', { detail: `Origin ${JSON.stringify(String(origin).slice(0, 100))} is not this site.` });
  }
  const site = h['sec-fetch-site'];
  if (site !== undefined && site !== 'same-origin') {
    throw new JumpError('CSRF_REJECTED', { detail: `Sec-Fetch-Site ${JSON.stringify(String(site).slice(0, 40))} is not same-origin.` });
  }
}

function setSessionCookie(reply: FastifyReply, token: string): void {
  reply.header('set-cookie', `${SESSION_COOKIE}=${token}; Path=/; Max-Age=${Math.floor(TOKEN_TTL_MS / 1000)}; HttpOnly; Secure; SameSite=Strict`);
}

function clearSessionCookie(reply: FastifyReply): void {
  reply.header('set-cookie', `${SESSION_COOKIE}=; Path=/; Max-Age=0; HttpOnly; Secure; SameSite=Strict`);
}

/**
 * The cookie authentication and the security headers. Call BEFORE registerApi: hooks run in the
 * order they are added, and the API's access hook must see the `Authorization` header this one
 * derives from the cookie.
 */
export function installWebAuth(app: FastifyInstance): void {
  app.addHook('onRequest', async (req, reply) => {
    reply.headers(SECURITY_HEADERS);
    if (req.headers.authorization !== undefined) return;
    const token = sessionCookie(req.headers.cookie);
    if (!token) {
      // A sign-in asking for the cookie is held to the same origin rules (login CSRF).
      if (req.method === 'POST' && req.headers[WEB_HEADER] !== undefined) checkCsrf(req);
      return;
    }
    if (!SAFE_METHODS.has(req.method)) checkCsrf(req);
    req.webCookie = true;
    req.headers.authorization = `Bearer ${token}`;
  });

  app.addHook('onSend', async (req, reply, payload) => {
    const url = req.routeOptions.url;
    if (url === '/api/v1/logout' && req.webCookie) {
      clearSessionCookie(reply);
      return payload;
    }
    const wantsCookie = req.headers[WEB_HEADER] === '1' && (url === '/api/v1/login' || (url === '/api/v1/me/password' && req.webCookie));
    if (!wantsCookie || reply.statusCode !== 200 || typeof payload !== 'string') return payload;
    let body: { token?: unknown };
    try {
      body = JSON.parse(payload) as { token?: unknown };
    } catch {
      return payload;
    }
    if (typeof body.token !== 'string') return payload;
    setSessionCookie(reply, body.token);
    delete body.token;
    return JSON.stringify(body);
  });
}

/** The directory of the built assets (dist/web/assets), beside the compiled site. */
export function assetsDir(): string {
  // dist/site/routes/web.js -> dist/web/assets (the built site); site/routes/web.ts ->
  // dist/web/assets (the sources, as in-process sites in tests run them).
  const here = dirname(fileURLToPath(import.meta.url));
  const candidates = [join(here, '..', '..', 'web', 'assets'), join(here, '..', '..', 'dist', 'web', 'assets')];
  return candidates.find((d) => existsSync(join(d, 'jump.js'))) ?? candidates[0];
}

/**
 * The HTML shell of a page: its title, the stylesheet and the module script of `entry` (built from
 * web/entries/<entry>.tsx). No inline script or style: the CSP allows none. `extraCss`: more
 * stylesheets under /web/assets/ (e.g. `xterm.css`).
 */
export function pageShell(entry: string, title: string, extraCss: string[] = []): string {
  const css = ['web.css', ...extraCss].map((f) => `<link rel="stylesheet" href="/web/assets/${f}">`).join('');
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>${title}</title>${css}<script type="module" src="/web/assets/${entry}.js"></script></head><body><div id="app"></div></body></html>`;
}

/** Answers `reply` with the shell of `entry` (no-store: a page is never cached with a session). */
export function sendPage(reply: FastifyReply, entry: string, title: string, extraCss: string[] = []): FastifyReply {
  return reply.header('cache-control', 'no-store').type('text/html; charset=utf-8').send(pageShell(entry, title, extraCss));
}

/**
 * The pages, the assets and the events stream. Call after registerApi, so these routes are in the
 * route table it returns (each declares its access like every API route).
 */
export function registerWebRoutes(app: FastifyInstance, ctx: ApiContext, opts: { assetsDir?: string } = {}): void {
  const root = opts.assetsDir ?? assetsDir();
  if (existsSync(root)) void app.register(fastifyStatic, { root, serve: false });
  app.get<{ Params: { '*': string } }>('/web/assets/*', allow('public'), (req, reply) => {
    const file = req.params['*'];
    // Plain file names only: no `..`, no hidden files, nothing outside the folder (also when percent-encoded).
    if (!ASSET_PATH.test(file) || file.split('/').some((p) => p.startsWith('.'))) throw new JumpError('NOT_FOUND', { detail: req.url.split('?')[0] });
    if (!existsSync(root)) throw new JumpError('NOT_FOUND', { detail: 'The web console was not built (npm run build).' });
    return reply.header('cache-control', 'no-cache').sendFile(file);
  });
  app.get('/', allow('public'), (_req, reply) => sendPage(reply, 'jump', 'Jump Client: Jump interface'));
  app.get('/web', allow('public'), (_req, reply) => reply.redirect('/web/', 302));
  app.get('/web/', allow('public'), (_req, reply) => sendPage(reply, 'jump', 'Jump Client: Jump interface'));
  app.get('/login', allow('public'), (_req, reply) => sendPage(reply, 'admin', 'Jump Client: /login'));
  registerEventRoutes(app, ctx);
}
