/**
 * Self-update of jump clients over the API (issue #17, site/updates.ts, docs/updates.md):
 * `GET /api/v1/updates` (status: clients per version, in flight, failed), `GET /api/v1/updates/builds`,
 * and for admins `POST /api/v1/updates/pause|resume` (the setting updates.paused, audited) and
 * `POST /api/v1/updates/retry/:id` (clears a client's failure so it is offered the build again).
 */
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { JumpError } from '../../protocol/errors.js';
import { buildJson } from '../updates.js';
import { allow, me, parse, type ApiContext } from './common.js';

export function registerUpdateRoutes(app: FastifyInstance, ctx: ApiContext): void {
  app.get('/api/v1/updates', allow('user'), async () => ({ item: await ctx.updates.status() }));

  app.get('/api/v1/updates/builds', allow('user'), async () => ({ items: (await ctx.store.listBuilds()).map(buildJson) }));

  const pause = (paused: boolean) => async (req: import('fastify').FastifyRequest) => {
    await ctx.settings.set('updates.paused', paused ? 'yes' : 'no', { userId: me(req).id, via: 'api' });
    return { item: await ctx.updates.status() };
  };
  app.post('/api/v1/updates/pause', allow('admin'), pause(true));
  app.post('/api/v1/updates/resume', allow('admin'), pause(false));

  app.post<{ Params: { id: string } }>('/api/v1/updates/retry/:id', allow('admin'), async (req) => {
    const id = parse(z.coerce.number().int().positive().max(2 ** 31 - 1), req.params.id, 'id');
    const client = await ctx.store.getClient(id);
    if (!client) throw new JumpError('JUMP_CLIENT_NOT_FOUND', { detail: `Jump client ${id}.` });
    const failure = client.updateFailure;
    if (!failure) {
      throw new JumpError('VALIDATION_FAILED', { field: 'id', detail: `id: jump client ${id} has no failed update to retry. Fix: see \`jump updates status\` for the ones that failed.` });
    }
    await ctx.updates.retry(id);
    await ctx.store.audit({ at: Date.now(), userId: me(req).id, action: 'jump_client.update_retry', target: `jump_client:${id}`, detail: `failed ${failure.version}: ${failure.code}` });
    return { item: { client_id: id, cleared: { version: failure.version, code: failure.code, reason: failure.reason } } };
  });
}
