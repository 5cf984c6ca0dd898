/**
 * The web console's terminal and REPORTS pages (issue #19 items 3 and REPORTS):
 * - `GET /web/jump/:id`: the page of one Jump into jump client `id` (web/entries/terminal.tsx);
 * - `GET /web/reports`: the sessions the user may see, with playback (web/entries/reports.tsx);
 * - the terminal WebSocket `WEB_TERMINAL_PATH` (site/web-terminal.ts), an upgrade that the site's
 *   one upgrade handler (site/server.ts) hands to `handleWebTerminalUpgrade`.
 *
 * The pages are the same static HTML for everyone (nothing from the request or the store is
 * written into them, so nothing can be injected): each loads its script from `/web/assets/`, and
 * the script reads the client id from its own URL and gets everything else through the terminal
 * socket or the documented JSON API, with the same authorization as the CLI. So the routes are
 * `public`; what they show needs the user's token.
 * The assets under `/web/assets/` are served by site/routes/web.ts.
 */
import type { FastifyInstance, FastifyReply } from 'fastify';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import { z } from 'zod';
import { WebTerminal } from '../web-terminal.js';
import { allow, parse, type ApiContext } from './common.js';

/**
 * Headers of the two pages: scripts from the site only (no inline script, no eval), the socket
 * and API calls to the site only, no framing. `style-src` allows inline styles because xterm.js
 * writes its renderer's rules into `<style>` elements it creates; styles cannot run code.
 */
export const PAGE_HEADERS: Record<string, string> = {
  'content-security-policy':
    "default-src 'none'; script-src 'self'; connect-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; font-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
  'cache-control': 'no-store',
};

/** The HTML of a page whose script is `/web/assets/<entry>.js`. Static: nothing from the request. */
function page(title: string, entry: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${title}</title>
<link rel="stylesheet" href="/web/assets/xterm.css">
<link rel="stylesheet" href="/web/assets/${entry}.css">
</head>
<body>
<div id="app"></div>
<script type="module" src="/web/assets/${entry}.js"></script>
</body>
</html>
`;
}
const TERMINAL_PAGE = page('Jump - terminal', 'terminal');
const REPORTS_PAGE = page('Jump - reports', 'reports');

const terminals = new WeakMap<object, WebTerminal>();

/** Registers the two pages (and, until web.ts has it, `/web/assets/*`) and the terminal sockets of `app`. */
export function registerWebTerminalRoutes(app: FastifyInstance, ctx: ApiContext): void {
  const terminal = new WebTerminal({
    store: ctx.store,
    sessions: ctx.sessions,
    metrics: ctx.metrics,
    log: app.log.child({ component: 'web-terminal' }) as unknown as Logger,
    siteUrl: () => ctx.siteUrl,
    tokenIdleMs: ctx.tokenIdleMs,
  });
  terminals.set(app.server, terminal);
  app.addHook('onClose', async () => terminal.close());

  const html = (reply: FastifyReply, body: string) => reply.headers(PAGE_HEADERS).type('text/html; charset=utf-8').send(body);
  app.get<{ Params: { id: string } }>('/web/jump/:id', allow('public'), async (req, reply) => {
    parse(z.string().min(1).max(128), req.params.id, 'id');
    return html(reply, TERMINAL_PAGE);
  });
  app.get('/web/reports', allow('public'), async (_req, reply) => html(reply, REPORTS_PAGE));
}

/**
 * The site's upgrade handler calls this for every upgrade: true when it was the terminal socket
 * of `server` (then it is handled, or refused with `refuse`), false otherwise.
 */
export function handleWebTerminalUpgrade(server: object, req: IncomingMessage, socket: Duplex, head: Buffer, refuse: (status: string) => void): boolean {
  return terminals.get(server)?.handleUpgrade(req, socket, head, refuse) ?? false;
}
