/**
 * Jump clients: list, show, edit, delete (`/api/v1/jump-clients...`). Access rules in
 * site/jump-clients.ts and site/access.ts: seeing a client needs view access to its group,
 * editing and deleting it need use access.
 */
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { clientJson, deleteBody, deleteClients, editBody, editClient, findClient, listClients, listQuery, releaseClientRoute, summaryJson } from '../jump-clients.js';
import type { User } from '../store/store.js';
import { allow, me, parse, type ApiContext } from './common.js';

export function registerJumpClientRoutes(app: FastifyInstance, ctx: ApiContext): void {
  const { store, gateway } = ctx;

  app.get('/api/v1/jump-clients', allow('user'), async (req) => {
    const q = parse(listQuery, req.query);
    const { items, summary } = await listClients(store, me(req), q);
    return { items: items.map((c) => clientJson(c)), summary: summaryJson(summary) };
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
