/**
 * Jump clients: list, show, edit, delete (`/api/v1/jump-clients...`). Access rules in
 * site/jump-clients.ts and site/access.ts: seeing a client needs view access to its group,
 * editing and deleting it need use access.
 */
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { clientJson, deleteBody, deleteClients, editBody, editClient, findClient, listClients, listQuery, releaseClientRoute, summaryJson } from '../jump-clients.js';
import type { ApiJumpClient } from '../../protocol/api.js';
import { invalidField } from '../../protocol/errors.js';
import { visibleGroupIds } from '../access.js';
import type { User } from '../store/store.js';
import { allow, me, parse, type ApiContext } from './common.js';

/** The columns `GET /api/v1/jump-clients.csv` can write (`columns=`), in their default order. */
export const CSV_COLUMNS = [
  'name',
  'hostname',
  'public_ip',
  'private_ips',
  'jump_method',
  'comments',
  'jump_group',
  'tag',
  'status',
  'mode',
  'console_user',
  'domain',
  'workgroup',
  'last_access',
  'last_connected',
  'created_at',
] as const satisfies readonly (keyof ApiJumpClient)[];
/** Rows one CSV export writes at most. */
export const CSV_MAX_ROWS = 100_000;

/**
 * One CSV cell (RFC 4180: always quoted, quotes doubled). A value starting with `=`, `+`, `-`, `@`,
 * a tab or a carriage return gets a leading `'` so a spreadsheet shows it as text instead of
 * running it as a formula (OWASP "CSV Injection"): an endpoint's hostname or a comment is hostile text.
 */
export function csvCell(v: unknown): string {
  let s = v === null || v === undefined ? '' : Array.isArray(v) ? v.join(' ') : String(v);
  if (/^[=+\-@\t\r]/.test(s)) s = `'${s}`;
  return `"${s.replace(/"/g, '""')}"`;
}

const csvQuery = listQuery.extend({
  columns: z
    .string()
    .max(1024)
    .optional()
    .transform((s, c) => {
      if (!s) return [...CSV_COLUMNS];
      const list = s.split(',').map((x) => x.trim()).filter(Boolean);
      for (const col of list) {
        if (!(CSV_COLUMNS as readonly string[]).includes(col)) {
          c.addIssue({ code: 'custom', message: `unknown column "${col.slice(0, 40)}"; use ${CSV_COLUMNS.join(', ')}` });
          return z.NEVER;
        }
      }
      return list as (typeof CSV_COLUMNS)[number][];
    }),
});

export function registerJumpClientRoutes(app: FastifyInstance, ctx: ApiContext): void {
  const { store, gateway } = ctx;

  app.get('/api/v1/jump-clients', allow('user'), async (req) => {
    const q = parse(listQuery, req.query, 'query');
    if (q.offset !== undefined && q.limit === undefined) throw invalidField('offset', 'needs limit (a page size); add limit=50 for example');
    const { items, summary } = await listClients(store, me(req), q);
    const tags =
      q.with_tags === '1'
        ? (await store.listClientTags(await visibleGroupIds(store, me(req)))).map((t) => ({ jump_group: t.jumpGroup, tag: t.tag, count: t.count }))
        : undefined;
    return { items: items.map((c) => clientJson(c)), summary: summaryJson(summary), ...(tags ? { tags } : {}) };
  });
  // CSV export of what the list shows (its search, group, tag and sort; `columns`), every page.
  app.get('/api/v1/jump-clients.csv', allow('user'), async (req, reply) => {
    const q = parse(csvQuery, req.query, 'query');
    const { items } = await listClients(store, me(req), { ...q, limit: CSV_MAX_ROWS, offset: undefined });
    const lines = [q.columns.map(csvCell).join(',')];
    for (const c of items) {
      const j = clientJson(c);
      lines.push(q.columns.map((col) => csvCell(j[col])).join(','));
    }
    return reply
      .type('text/csv; charset=utf-8')
      .header('content-disposition', 'attachment; filename="jump-clients.csv"')
      .header('cache-control', 'no-store')
      .send(lines.join('\r\n') + '\r\n');
  });
  app.get<{ Params: { ref: string } }>('/api/v1/jump-clients/:ref', allow('user'), async (req) => {
    const ref = parse(z.string().min(1).max(128), req.params.ref, 'ref');
    return { item: clientJson(await findClient(store, me(req), ref, 'see'), { stats: true }) };
  });
  app.patch<{ Params: { id: string } }>('/api/v1/jump-clients/:id', allow('user'), async (req) => {
    const id = parse(z.coerce.number().int().positive(), req.params.id, 'id');
    const body = parse(editBody, req.body);
    const before = body.jump_group === undefined && body.mode === undefined ? null : await store.getClient(id);
    const item = await editClient(store, me(req), id, body, {
      maxTotal: ctx.settings.get('jump-clients.max-total'),
      maxActive: ctx.settings.get('jump-clients.max-active'),
    });
    // Moved to another jump group: sessions opened under the old group's access end.
    if (before && before.jumpGroupId !== item.jumpGroupId) ctx.sessions.endClientSessions(id, 'jump client moved to another jump group');
    // Active <-> passive: the client reconnects at once and its new welcome says which (issue #18).
    if (before && before.mode !== item.mode) ctx.gateway.reconnect(id);
    return { item: clientJson(item, { stats: true }) };
  });
  const remove = async (user: User, ids: number[]) => {
    const deleted = await deleteClients(store, user, ids);
    // Deleting revokes: a connected agent is told why and disconnected; its key is refused from now on.
    for (const id of deleted) {
      ctx.sessions.endClientSessions(id, 'jump client deleted');
      gateway.disconnect(id, 'JUMP_CLIENT_DELETED');
    }
    return { deleted };
  };
  // A quarantined identity (one key on two live connections) is refused until an admin releases it.
  app.post<{ Params: { id: string } }>('/api/v1/jump-clients/:id/release', allow('admin'), async (req) =>
    releaseClientRoute(store, me(req), req.params.id),
  );
  app.post('/api/v1/jump-clients/delete', allow('user'), async (req) => remove(me(req), parse(deleteBody, req.body).ids));
  app.delete<{ Params: { id: string } }>('/api/v1/jump-clients/:id', allow('user'), async (req) =>
    remove(me(req), [parse(z.coerce.number().int().positive(), req.params.id, 'id')]),
  );
}
