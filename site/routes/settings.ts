/**
 * Site settings over the API (issue #18 item 4), for admins: `GET /api/v1/settings`,
 * `GET|PUT|DELETE /api/v1/settings/:key`. Values are validated by site/settings.ts, the same
 * rules as `jump-site settings set` on the site host; a change applies at once on this node and is
 * audited (`setting.set`).
 */
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { settingKey } from '../settings.js';
import { allow, me, parse, type ApiContext } from './common.js';

const putBody = z.strictObject({ value: z.string().max(64) });

export function registerSettingsRoutes(app: FastifyInstance, ctx: ApiContext): void {
  app.get('/api/v1/settings', allow('admin'), async () => ({ items: ctx.settings.list() }));

  app.get<{ Params: { key: string } }>('/api/v1/settings/:key', allow('admin'), async (req) => ({ item: ctx.settings.json(settingKey(req.params.key)) }));

  app.put<{ Params: { key: string } }>('/api/v1/settings/:key', allow('admin'), async (req) => {
    const body = parse(putBody, req.body);
    return { item: await ctx.settings.set(req.params.key, body.value, { userId: me(req).id, via: 'api' }) };
  });

  app.delete<{ Params: { key: string } }>('/api/v1/settings/:key', allow('admin'), async (req) => ({
    item: await ctx.settings.set(req.params.key, null, { userId: me(req).id, via: 'api' }),
  }));
}
