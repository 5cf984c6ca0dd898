/** Jump groups: list (`user`), create, delete and manage members (`admin`). */
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { JumpError, invalidField } from '../../protocol/errors.js';
import { userName } from '../../protocol/fields.js';
import { visibleGroups } from '../access.js';
import { createSharedGroup, groupJson, resolveGroup } from '../jump-groups.js';
import { allow, me, parse, type ApiContext } from './common.js';

export function registerJumpGroupRoutes(app: FastifyInstance, ctx: ApiContext): void {
  const { store } = ctx;

  app.get('/api/v1/jump-groups', allow('user'), async (req) => {
    const user = me(req);
    const visible = await visibleGroups(store, user);
    return {
      items: await Promise.all(visible.map(async (g) => groupJson(g, g.kind === 'shared' ? await store.listMembers(g.id) : undefined))),
    };
  });
  app.post('/api/v1/jump-groups', allow('admin'), async (req, reply) => {
    const user = me(req);
    const body = parse(z.strictObject({ name: z.string().max(256) }), req.body);
    const g = await createSharedGroup(store, body.name);
    await store.audit({ at: Date.now(), userId: user.id, action: 'jump_group.create', target: `jump_group:${g.name}` });
    reply.code(201);
    return { item: groupJson(g, []) };
  });
  app.delete<{ Params: { name: string } }>('/api/v1/jump-groups/:name', allow('admin'), async (req) => {
    const user = me(req);
    const g = await resolveGroup(store, req.params.name, 'name');
    if (g.kind !== 'shared') throw invalidField('name', 'personal jump groups are removed with their user');
    if (!(await store.deleteGroup(g.id))) {
      throw invalidField('name', 'the jump group still holds jump clients or valid installers; move or delete them first');
    }
    await store.audit({ at: Date.now(), userId: user.id, action: 'jump_group.delete', target: `jump_group:${g.name}` });
    return { ok: true };
  });
  const memberTarget = async (groupRef: string, name: string) => {
    const g = await resolveGroup(store, groupRef, 'group');
    if (g.kind !== 'shared') throw invalidField('group', 'members belong to shared jump groups only');
    const u = await store.getUserByName(parse(userName, name, 'user'));
    if (!u) throw new JumpError('USER_NOT_FOUND', { field: 'user', detail: `User: ${name}.` });
    return { g, u };
  };
  app.post<{ Params: { name: string } }>('/api/v1/jump-groups/:name/members', allow('admin'), async (req) => {
    const admin = me(req);
    const body = parse(z.strictObject({ user: z.string().max(64) }), req.body);
    const { g, u } = await memberTarget(req.params.name, body.user);
    await store.addMember(g.id, u.id);
    await store.audit({ at: Date.now(), userId: admin.id, action: 'jump_group.add_member', target: `jump_group:${g.name}`, detail: u.name });
    return { item: groupJson(g, await store.listMembers(g.id)) };
  });
  app.delete<{ Params: { name: string; user: string } }>('/api/v1/jump-groups/:name/members/:user', allow('admin'), async (req) => {
    const admin = me(req);
    const { g, u } = await memberTarget(req.params.name, req.params.user);
    await store.removeMember(g.id, u.id);
    // Access taken away takes the user's live Jump sessions with it (they may reach this group's
    // clients no longer; ending all of them is simpler than sorting them and errs on the safe side).
    ctx.sessions.endUserSessions(u.id, 'jump group access removed');
    await store.audit({ at: Date.now(), userId: admin.id, action: 'jump_group.remove_member', target: `jump_group:${g.name}`, detail: u.name });
    return { item: groupJson(g, await store.listMembers(g.id)) };
  });
}
