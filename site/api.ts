/**
 * The site's JSON API under `/api/v1` (docs/api.md). Everything the console does goes through it.
 *
 * Routes live one file per resource in site/routes/; each declares who may call it in its options'
 * `config.access` (site/routes/common.ts). The one `onRequest` hook below reads the access level of
 * the route the router matched (`req.routeOptions.config`), so a percent-encoded path or a fragment
 * reaches the same check as the plain path, and a route that declares nothing is refused (deny by
 * default; security issue #12 item 11). Unknown paths go to the 404 handler.
 *
 * Authentication: `Authorization: Bearer <token>` from `POST /api/v1/login`. Every body and query
 * is parsed with a zod schema; a failure answers 400 VALIDATION_FAILED naming the field. Errors
 * are `{ "error": { "code", "message", "field"? } }` with the catalog's HTTP status.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { JumpError } from '../protocol/errors.js';
import { userFromAuthorization } from './auth.js';
import { ACCESS_LEVELS, isLoopback, type Access, type ApiContext } from './routes/common.js';
import { registerInstallerRoutes } from './routes/installers.js';
import { registerJumpClientRoutes } from './routes/jump-clients.js';
import { registerJumpGroupRoutes } from './routes/jump-groups.js';
import { registerMetricsRoutes } from './routes/metrics.js';
import { registerSessionRoutes } from './routes/session.js';
import { registerSessionsRoutes } from './routes/sessions.js';
import { registerSettingsRoutes } from './routes/settings.js';
import { registerSiteRoutes } from './routes/site.js';
import { registerUserRoutes } from './routes/users.js';
import { registerUpdateRoutes } from './routes/updates.js';
import { registerWebTerminalRoutes } from './routes/web-terminal.js';

export type { ApiContext } from './routes/common.js';

/** One registered route and the access it declares (`null`: none, which the hook refuses). */
export interface RouteInfo {
  method: string;
  url: string;
  access: Access | null;
}

/**
 * Registers every API route and the access hook on `app`. Returns the route table (filled as routes
 * are registered), for tests and for `jump-site` to check that every route declares its access.
 */
export function registerApi(app: FastifyInstance, ctx: ApiContext): RouteInfo[] {
  const { store } = ctx;
  const routes: RouteInfo[] = [];
  app.addHook('onRoute', (r) => {
    const access = (r.config as { access?: unknown } | undefined)?.access;
    const methods = Array.isArray(r.method) ? r.method : [r.method];
    for (const method of methods) {
      routes.push({ method, url: r.url, access: ACCESS_LEVELS.includes(access as Access) ? (access as Access) : null });
    }
  });

  app.decorateRequest('user', null);

  const authenticate = async (req: FastifyRequest) => {
    const user = await userFromAuthorization(store, req.headers.authorization, Date.now(), ctx.tokenIdleMs);
    if (!user) throw new JumpError('UNAUTHENTICATED');
    return user;
  };

  app.addHook('onRequest', async (req: FastifyRequest) => {
    // No route matched: the 404 handler answers, with nothing but the path.
    if (req.is404) return;
    const config = req.routeOptions.config;
    const access = config?.access;
    if (access === 'public') return;
    if (access === 'metrics' && ctx.metricsOpenLoopback && isLoopback(req.socket.remoteAddress ?? '')) return;
    if (access !== 'user' && access !== 'admin' && access !== 'metrics') {
      req.log.error({ route: req.routeOptions.url }, 'route declares no access level; refused');
      throw new JumpError('PERMISSION_DENIED', { detail: 'This route declares no access level.' });
    }
    const user = await authenticate(req);
    if (user.mustChangePassword && !config.duringPasswordChange) {
      throw new JumpError('PASSWORD_CHANGE_REQUIRED');
    }
    if ((access === 'admin' || access === 'metrics') && user.role !== 'admin') {
      throw new JumpError('PERMISSION_DENIED', {
        detail: access === 'metrics' ? 'Metrics need an admin account (or a site started with --metrics-open-loopback).' : 'This needs an admin account.',
      });
    }
    req.user = user;
  });

  registerSiteRoutes(app, ctx);
  registerSettingsRoutes(app, ctx);
  registerMetricsRoutes(app, ctx);
  registerSessionRoutes(app, ctx);
  registerJumpClientRoutes(app, ctx);
  registerSessionsRoutes(app, ctx);
  registerInstallerRoutes(app, ctx);
  registerJumpGroupRoutes(app, ctx);
  registerUserRoutes(app, ctx);
  registerUpdateRoutes(app, ctx);
  registerWebTerminalRoutes(app, ctx);
  return routes;
}
