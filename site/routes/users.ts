/**
 * Users (`admin`): list, add, change (role, view-personal-groups, a new password, disabled) and
 * revoke a user's API tokens. `jump-site user ...` on the site host does the same beside a running
 * site (site/main.ts); these routes serve the web console's USERS page (issue #19).
 */
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { JumpError, invalidField } from '../../protocol/errors.js';
import { hashPassword } from '../auth.js';
import { addUser, checkPassword, userJson } from '../users.js';
import { allow, me, parse, type ApiContext } from './common.js';

/** Body of `POST /api/v1/users`. */
const addBody = z.strictObject({
  name: z.string().max(64),
  password: z.string().max(1024),
  role: z.enum(['admin', 'technician'], { message: 'must be admin or technician' }).default('technician'),
  view_personal_groups: z.boolean().default(false),
});

/** Body of `PATCH /api/v1/users/:name`: at least one field. */
const patchBody = z
  .strictObject({
    role: z.enum(['admin', 'technician'], { message: 'must be admin or technician' }).optional(),
    view_personal_groups: z.boolean().optional(),
    /** A new password (an admin's reset): ends the user's API and Jump sessions. */
    password: z.string().max(1024).optional(),
    disabled: z.boolean().optional(),
  })
  .refine((b) => Object.keys(b).length > 0, 'give at least one of role, view_personal_groups, password, disabled');

export function registerUserRoutes(app: FastifyInstance, ctx: ApiContext): void {
  const { store } = ctx;

  app.get('/api/v1/users', allow('admin'), async () => ({ items: (await store.listUsers()).map(userJson) }));

  app.post('/api/v1/users', allow('admin'), async (req, reply) => {
    const admin = me(req);
    const body = parse(addBody, req.body);
    const u = await ctx.hashQueue.run(() =>
      addUser(store, { name: body.name, password: body.password, role: body.role, viewPersonalGroups: body.view_personal_groups }),
    );
    await store.audit({ at: Date.now(), userId: admin.id, action: 'user.add', target: `user:${u.name}`, detail: JSON.stringify({ role: u.role, view_personal_groups: u.viewPersonalGroups }) });
    reply.code(201);
    return { item: userJson(u) };
  });

  app.patch<{ Params: { name: string } }>('/api/v1/users/:name', allow('admin'), async (req) => {
    const admin = me(req);
    const body = parse(patchBody, req.body);
    const u = await store.getUserByName(req.params.name);
    if (!u) throw new JumpError('USER_NOT_FOUND', { field: 'name', detail: `User: ${req.params.name}.` });
    // An admin cannot lock themselves out, nor change their own password without the current one
    // (a stolen session must not be enough: MY ACCOUNT, POST /api/v1/me/password, asks for it).
    if (u.id === admin.id) {
      if (body.disabled === true || body.role === 'technician') {
        throw invalidField(body.disabled === true ? 'disabled' : 'role', 'you cannot disable yourself or take your own admin role; ask another admin');
      }
      if (body.password !== undefined) throw invalidField('password', 'change your own password with POST /api/v1/me/password (MY ACCOUNT), which asks for the current one');
    }
    if (body.password !== undefined) checkPassword(body.password);
    const passwordHash = body.password === undefined ? undefined : await ctx.hashQueue.run(() => hashPassword(body.password!));
    await store.updateUser(u.id, { role: body.role, viewPersonalGroups: body.view_personal_groups, passwordHash, disabled: body.disabled });
    // A new password or a disabled account ends the user's live Jump sessions now (their tokens are gone).
    if (passwordHash !== undefined || body.disabled === true) ctx.sessions.endUserSessions(u.id, body.disabled ? 'user disabled' : 'password reset');
    const after = (await store.getUserById(u.id))!;
    const { password: _omit, ...logged } = body;
    await store.audit({ at: Date.now(), userId: admin.id, action: 'user.set', target: `user:${u.name}`, detail: JSON.stringify({ ...logged, password_reset: body.password !== undefined }) });
    return { item: userJson(after) };
  });

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
