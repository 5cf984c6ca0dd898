/**
 * `GET /metrics` (site/metrics.ts): with an admin's token, or from a local process when the site
 * runs with `--metrics-open-loopback` (security issue #12 item 18: loopback alone used to be enough,
 * which opened the numbers to every local user of the site host).
 */
import type { FastifyInstance } from 'fastify';
import { allow, type ApiContext } from './common.js';

export function registerMetricsRoutes(app: FastifyInstance, ctx: ApiContext): void {
  app.get('/metrics', allow('metrics'), async (_req, reply) => {
    reply.type(ctx.metrics.registry.contentType);
    return ctx.metrics.registry.metrics();
  });
}
