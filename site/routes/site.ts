/** The site's own description, the health check and the metrics: `/api/v1/site`, `/healthz`, `/metrics`. */
import type { FastifyInstance } from 'fastify';
import { allow, type ApiContext } from './common.js';

export function registerSiteRoutes(app: FastifyInstance, ctx: ApiContext): void {
  app.get('/healthz', allow('public'), async () => ({ ok: true, agents: ctx.gateway.connectedCount }));

  app.get('/api/v1/site', allow('user'), async () => ({
    site_url: ctx.siteUrl,
    site_pin: ctx.sitePin,
    tls_fingerprint: ctx.fingerprint,
    version: ctx.version,
    connected_agents: ctx.gateway.connectedCount,
  }));
}
