/**
 * `GET /api/v1/events`: the web console's live updates, one Server-Sent Events stream per page
 * (issue #19 item 2). Each `clients` event carries `{ changes: [{ id, kind }] }` (kind: enrolled,
 * online, offline, edited, stats, deleted, lost, uninstalled; site/events.ts); the page then
 * reloads the rows it shows through `GET /api/v1/jump-clients`, which applies the access rules.
 *
 * A stream sends a user only the changes of jump clients in groups they may see, checked when each
 * batch is sent (changes are gathered for BATCH_MS), with the user re-read from the store: access
 * taken away, a role changed, tokens revoked or the user removed apply to the next batch. The
 * stream ends when its token stops working (checked at every batch and every HEARTBEAT_MS).
 */
import type { FastifyInstance } from 'fastify';
import { visibleGroupIds } from '../access.js';
import { bearerToken, hashToken } from '../auth.js';
import type { ClientChange } from '../events.js';
import { allow, me, type ApiContext } from './common.js';

/** Changes are gathered this long (ms) before a batch is checked and sent. */
export const BATCH_MS = 250;
/** A comment line this often (ms) keeps proxies and the site's idle timeout from closing the stream. */
export const HEARTBEAT_MS = 15_000;

export function registerEventRoutes(app: FastifyInstance, ctx: ApiContext): void {
  const { store, events } = ctx;
  app.get('/api/v1/events', allow('user'), async (req, reply) => {
    const userId = me(req).id;
    const tokenHash = hashToken(bearerToken(req.headers.authorization) ?? '');
    reply.hijack();
    const res = reply.raw;
    res.writeHead(200, {
      ...(reply.getHeaders() as Record<string, string>),
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      'x-accel-buffering': 'no',
    });
    res.write('retry: 3000\n\n');
    let pending: ClientChange[] = [];
    let timer: NodeJS.Timeout | null = null;
    let closed = false;
    const close = () => {
      if (closed) return;
      closed = true;
      events?.off('change', onChange);
      clearInterval(beat);
      if (timer) clearTimeout(timer);
      res.end();
    };
    /** The stream's user now, or null (token expired, idle or revoked; user removed): the stream ends. */
    const currentUser = async () => {
      const u = await store.userForToken(tokenHash, Date.now(), ctx.tokenIdleMs);
      return u && u.id === userId && !u.mustChangePassword ? u : null;
    };
    const flush = async () => {
      timer = null;
      const batch = pending;
      pending = [];
      const user = await currentUser();
      if (!user) return close();
      const visible = await visibleGroupIds(store, user);
      const seen = new Set<string>();
      const changes: { id: number; kind: string }[] = [];
      for (const c of batch) {
        if (visible !== null && !visible.includes(c.groupId)) continue;
        const key = `${c.id}:${c.kind}`;
        if (seen.has(key)) continue;
        seen.add(key);
        changes.push({ id: c.id, kind: c.kind });
      }
      if (changes.length > 0 && !closed) res.write(`event: clients\ndata: ${JSON.stringify({ changes })}\n\n`);
    };
    const onChange = (c: ClientChange) => {
      pending.push(c);
      timer ??= setTimeout(() => void flush().catch(() => close()), BATCH_MS);
    };
    const beat = setInterval(() => {
      void currentUser()
        .then((u) => (u ? void res.write(': keep-alive\n\n') : close()))
        .catch(() => close());
    }, HEARTBEAT_MS);
    events?.on('change', onChange);
    req.raw.once('close', close);
    res.once('close', close);
  });
}
