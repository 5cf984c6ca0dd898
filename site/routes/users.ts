/**
 * Users: list them and revoke a user's API tokens (`admin`). Adding, removing and changing users
 * is `jump-site user ...` on the site host (site/main.ts).
 */
import type { FastifyInstance } from 'fastify';
import { JumpError } from '../../protocol/errors.js';
import { userJson } from '../users.js';
import { allow, me, type ApiContext } from './common.js';

export function registerUserRoutes(app: FastifyInstance, ctx: ApiContext): void {
  const { store } = ctx;

  app.get('/api/v1/users', allow('admin'), async () => ({ items: (await store.listUsers()).map(userJson) }));

  /**
   * Ends every API session of a user (a lost laptop, a leaving technician), and every live Jump
   * session of theirs: a relay opened with a revoked token must not outlive it (round 2, item 18).
   */
  app.delete<{ Params: { name: string } }>('/api/v1/users/:name/tokens', allow('admin'), async (req) => {
    const admin = me(req);
    const u = await store.getUserByName(req.params.name);
    if (!u) throw new JumpError('USER_NOT_FOUND', { field: 'name', detail: `User: ${req.params.name}.` });
    const revoked = await store.deleteUserTokens(u.id);
    const sessionsEnded = ctx.sessions.endUserSessions(u.id, 'tokens revoked');
    await store.audit({ at: Date.now(), userId: admin.id, action: 'user.revoke_tokens', target: `user:${u.name}`, detail: String(revoked) });
    return { revoked, sessions_ended: sessionsEnded };
  });
}
