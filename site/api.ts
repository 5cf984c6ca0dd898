/**
 * The site's JSON API under `/api/v1` (docs/api.md). Everything the console does goes through it.
 *
 * Authentication: `Authorization: Bearer <token>` from `POST /api/v1/login`. Every body and query
 * is parsed with a zod schema; a failure answers 400 VALIDATION_FAILED naming the field. Errors
 * are `{ "error": { "code", "message", "field"? } }` with the catalog's HTTP status.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { JumpError, invalidField } from '../protocol/errors.js';
import { userName } from '../protocol/fields.js';
import { readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import type { AgentGateway } from './agent-gateway.js';
import { visibleGroupIds } from './access.js';
import { SESSION_KINDS, type SessionBroker } from './sessions.js';
import type { SessionRecord } from './store/store.js';
import type { SiteMetrics } from './metrics.js';
import { TOKEN_TTL_MS, hashPassword, hashToken, newToken, verifyPassword } from './auth.js';
import { createInstaller, createInstallerBody, installerJson } from './installers.js';
import { createSharedGroup, groupJson, resolveGroup } from './jump-groups.js';
import { clientJson, deleteBody, deleteClients, editBody, editClient, findClient, listClients, listQuery, releaseClientRoute, summaryJson } from './jump-clients.js';
import type { Store, User } from './store/store.js';
import { checkPassword, userJson } from './users.js';

export interface ApiContext {
  store: Store;
  gateway: AgentGateway;
  sessions: SessionBroker;
  metrics: SiteMetrics;
  dataDir: string;
  siteUrl: string;
  sitePin: string;
  fingerprint: string;
  version: string;
}

declare module 'fastify' {
  interface FastifyRequest {
    user: User | null;
  }
}

/** Parses `data` with `schema`, or throws VALIDATION_FAILED naming the first bad field. */
export function parse<S extends z.ZodType>(schema: S, data: unknown): z.output<S> {
  const r = schema.safeParse(data ?? {});
  if (r.success) return r.data;
  const issue = r.error.issues[0];
  const field = issue.path.length > 0 ? issue.path.join('.') : 'body';
  if (issue.code === 'unrecognized_keys') throw invalidField(issue.keys.join(', '), 'unknown field; remove it');
  throw invalidField(field, issue.message);
}

/** The JSON shape of a session in the API. */
export function sessionJson(s: SessionRecord) {
  const iso = (t: number | null) => (t === null ? null : new Date(t).toISOString());
  return {
    id: s.id,
    client_id: s.clientId,
    client: s.clientName,
    user: s.userName,
    kind: s.kind,
    started_at: iso(s.startedAt),
    ended_at: iso(s.endedAt),
    bytes_to_client: s.bytesToClient,
    bytes_from_client: s.bytesFromClient,
    exit_status: s.exitStatus,
    end_reason: s.endReason,
    recording: s.recording !== null,
  };
}

function isLoopback(ip: string): boolean {
  return ip === '::1' || ip.startsWith('127.') || ip.startsWith('::ffff:127.');
}

/** A hash to verify against when the user does not exist, so timing does not reveal user names. */
let dummyHash: Promise<string> | null = null;

export function registerApi(app: FastifyInstance, ctx: ApiContext): void {
  const { store, gateway } = ctx;

  app.decorateRequest('user', null);

  app.addHook('onRequest', async (req: FastifyRequest) => {
    const path = req.url.split('?')[0];
    if (path === '/metrics') {
      // Prometheus scrapes from the site host, or with an admin's token.
      if (isLoopback(req.socket.remoteAddress ?? '')) return;
      const m = /^Bearer (jst_[A-Za-z0-9_-]{43})$/.exec(req.headers.authorization ?? '');
      const user = m ? await store.userForToken(hashToken(m[1]), Date.now()) : null;
      if (!user) throw new JumpError('UNAUTHENTICATED');
      if (user.role !== 'admin') throw new JumpError('PERMISSION_DENIED', { detail: 'Metrics need an admin account or a scrape from the site host.' });
      return;
    }
    if (!path.startsWith('/api/') || path === '/api/v1/login') return;
    const m = /^Bearer (jst_[A-Za-z0-9_-]{43})$/.exec(req.headers.authorization ?? '');
    const user = m ? await store.userForToken(hashToken(m[1]), Date.now()) : null;
    if (!user) throw new JumpError('UNAUTHENTICATED');
    req.user = user;
  });

  const me = (req: FastifyRequest): User => req.user!;
  const requireAdmin = (req: FastifyRequest): User => {
    const u = me(req);
    if (u.role !== 'admin') throw new JumpError('PERMISSION_DENIED', { detail: 'This needs an admin account.' });
    return u;
  };

  app.get('/healthz', async () => ({ ok: true, agents: gateway.connectedCount }));
  app.get('/metrics', async (_req, reply) => {
    reply.type(ctx.metrics.registry.contentType);
    return ctx.metrics.registry.metrics();
  });

  // ---- session ----
  app.post('/api/v1/login', async (req) => {
    const body = parse(z.strictObject({ user: z.string().min(1).max(64), password: z.string().min(1).max(1024) }), req.body);
    const user = await store.getUserByName(body.user);
    dummyHash ??= hashPassword('not a real password');
    const ok = await verifyPassword(body.password, user?.passwordHash ?? (await dummyHash));
    if (!user || !ok) {
      req.log.warn({ user: body.user }, 'login failed');
      throw new JumpError('LOGIN_FAILED');
    }
    const { token, hash } = newToken();
    const now = Date.now();
    await store.createToken({ userId: user.id, tokenHash: hash, now, expiresAt: now + TOKEN_TTL_MS });
    await store.audit({ at: now, userId: user.id, action: 'user.login', target: `user:${user.name}` });
    return { token, user: userJson(user), expires_at: new Date(now + TOKEN_TTL_MS).toISOString() };
  });
  app.post('/api/v1/logout', async (req) => {
    const token = (req.headers.authorization ?? '').slice('Bearer '.length);
    await store.deleteToken(hashToken(token));
    return { ok: true };
  });
  app.get('/api/v1/me', async (req) => ({ user: userJson(me(req)) }));
  app.post('/api/v1/me/password', async (req) => {
    const body = parse(z.strictObject({ current_password: z.string().max(1024), new_password: z.string().max(1024) }), req.body);
    const user = me(req);
    if (!(await verifyPassword(body.current_password, user.passwordHash))) throw new JumpError('LOGIN_FAILED', { field: 'current_password' });
    checkPassword(body.new_password);
    await store.updateUser(user.id, { passwordHash: await hashPassword(body.new_password) });
    await store.audit({ at: Date.now(), userId: user.id, action: 'user.passwd', target: `user:${user.name}` });
    return { ok: true };
  });
  app.get('/api/v1/site', async () => ({
    site_url: ctx.siteUrl,
    site_pin: ctx.sitePin,
    tls_fingerprint: ctx.fingerprint,
    version: ctx.version,
    connected_agents: gateway.connectedCount,
  }));

  // ---- jump clients ----
  app.get('/api/v1/jump-clients', async (req) => {
    const q = parse(listQuery, req.query);
    const { items, summary } = await listClients(store, me(req), q);
    return { items: items.map((c) => clientJson(c)), summary: summaryJson(summary) };
  });
  app.get<{ Params: { ref: string } }>('/api/v1/jump-clients/:ref', async (req) => {
    const ref = parse(z.string().min(1).max(128), req.params.ref);
    return { item: clientJson(await findClient(store, me(req), ref), { stats: true }) };
  });
  app.patch<{ Params: { id: string } }>('/api/v1/jump-clients/:id', async (req) => {
    const id = parse(z.coerce.number().int().positive(), req.params.id);
    const body = parse(editBody, req.body);
    return { item: clientJson(await editClient(store, me(req), id, body), { stats: true }) };
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
  app.post<{ Params: { id: string } }>('/api/v1/jump-clients/:id/release', async (req) =>
    releaseClientRoute(store, me(req), req.params.id),
  );
  app.post('/api/v1/jump-clients/delete', async (req) => remove(me(req), parse(deleteBody, req.body).ids));
  app.delete<{ Params: { id: string } }>('/api/v1/jump-clients/:id', async (req) =>
    remove(me(req), [parse(z.coerce.number().int().positive(), req.params.id)]),
  );

  // ---- Jump sessions ----
  app.post<{ Params: { ref: string } }>('/api/v1/jump-clients/:ref/sessions', async (req, reply) => {
    const ref = parse(z.string().min(1).max(128), req.params.ref);
    const body = parse(z.strictObject({ public_key: z.string().max(512), kind: z.enum(SESSION_KINDS).default('shell') }), req.body);
    const r = await ctx.sessions.start(me(req), ref, body.public_key, body.kind).catch((err: unknown) => {
      ctx.metrics.jumpStarts.inc({ result: err instanceof JumpError ? err.code : 'INTERNAL_ERROR' });
      throw err;
    });
    ctx.metrics.jumpStarts.inc({ result: 'ok' });
    reply.code(201);
    return {
      session_id: r.sessionId,
      client_id: r.clientId,
      name: r.name,
      host_key: r.hostKey,
      relay_path: `/api/v1/sessions/${r.sessionId}/relay`,
    };
  });
  const sessionVisible = async (user: User, id: string) => {
    const s = await store.getSession(id);
    if (!s) throw new JumpError('JUMP_SESSION_NOT_FOUND');
    if (user.role === 'admin' || s.userId === user.id) return s;
    const visible = await visibleGroupIds(store, user);
    const c = await store.getClient(s.clientId);
    if (!c || (visible !== null && !visible.includes(c.jumpGroupId))) throw new JumpError('JUMP_SESSION_NOT_FOUND');
    return s;
  };
  app.get('/api/v1/sessions', async (req) => {
    const q = parse(z.strictObject({ client: z.coerce.number().int().positive().optional(), limit: z.coerce.number().int().min(1).max(10_000).default(100) }), req.query);
    const user = me(req);
    const items = await store.listSessions({ visibleGroupIds: await visibleGroupIds(store, user), userId: user.id, clientId: q.client, limit: q.limit });
    return { items: items.map(sessionJson) };
  });
  app.get<{ Params: { id: string } }>('/api/v1/sessions/:id', async (req) => ({ item: sessionJson(await sessionVisible(me(req), req.params.id)) }));
  app.get<{ Params: { id: string } }>('/api/v1/sessions/:id/recording', async (req, reply) => {
    const s = await sessionVisible(me(req), req.params.id);
    if (!s.recording) throw new JumpError('JUMP_SESSION_NOT_FOUND', { detail: 'This session has no recording (only interactive shells are recorded).' });
    reply.type('application/x-asciicast');
    return readFileSync(join(ctx.dataDir, 'recordings', basename(s.recording)), 'utf8');
  });

  // ---- installers ----
  app.post('/api/v1/installers', async (req, reply: FastifyReply) => {
    const body = parse(createInstallerBody, req.body);
    const user = me(req);
    const now = Date.now();
    const { installer, keyInfo } = await createInstaller(store, user, body, now);
    const group = await store.getGroupById(installer.jumpGroupId);
    await store.audit({ at: now, userId: user.id, action: 'installer.create', target: `installer:${installer.uid}` });
    reply.code(201);
    return {
      ...installerJson(installer, group?.name ?? null, now),
      key_info: keyInfo,
      site_url: ctx.siteUrl,
      site_pin: ctx.sitePin,
    };
  });
  const visibleInstaller = async (user: User, uid: string) => {
    const inst = await store.getInstaller(uid);
    if (!inst || (user.role !== 'admin' && inst.createdBy !== user.id)) {
      throw new JumpError('INSTALLER_NOT_FOUND', { detail: `Installer: ${uid}.` });
    }
    return inst;
  };
  const groupName = async (id: number) => (await store.getGroupById(id))?.name ?? null;
  app.get('/api/v1/installers', async (req) => {
    const user = me(req);
    const now = Date.now();
    const list = (await store.listInstallers()).filter((i) => user.role === 'admin' || i.createdBy === user.id);
    return { items: await Promise.all(list.map(async (i) => installerJson(i, await groupName(i.jumpGroupId), now))) };
  });
  app.get<{ Params: { uid: string } }>('/api/v1/installers/:uid', async (req) => {
    const inst = await visibleInstaller(me(req), req.params.uid);
    return { item: installerJson(inst, await groupName(inst.jumpGroupId), Date.now()) };
  });
  app.post<{ Params: { uid: string } }>('/api/v1/installers/:uid/revoke', async (req) => {
    const user = me(req);
    const inst = await visibleInstaller(user, req.params.uid);
    const now = Date.now();
    await store.revokeInstaller(inst.uid, now);
    await store.audit({ at: now, userId: user.id, action: 'installer.revoke', target: `installer:${inst.uid}` });
    return { item: installerJson((await store.getInstaller(inst.uid))!, await groupName(inst.jumpGroupId), now) };
  });

  // ---- jump groups ----
  app.get('/api/v1/jump-groups', async (req) => {
    const user = me(req);
    const all = await store.listGroups();
    const mine = new Set(await store.memberGroupIds(user.id));
    const visible = all.filter(
      (g) =>
        user.role === 'admin' ||
        (g.kind === 'shared' ? mine.has(g.id) : g.ownerUserId === user.id || user.viewPersonalGroups),
    );
    return {
      items: await Promise.all(visible.map(async (g) => groupJson(g, g.kind === 'shared' ? await store.listMembers(g.id) : undefined))),
    };
  });
  app.post('/api/v1/jump-groups', async (req, reply) => {
    const user = requireAdmin(req);
    const body = parse(z.strictObject({ name: z.string().max(256) }), req.body);
    const g = await createSharedGroup(store, body.name);
    await store.audit({ at: Date.now(), userId: user.id, action: 'jump_group.create', target: `jump_group:${g.name}` });
    reply.code(201);
    return { item: groupJson(g, []) };
  });
  app.delete<{ Params: { name: string } }>('/api/v1/jump-groups/:name', async (req) => {
    const user = requireAdmin(req);
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
    const u = await store.getUserByName(parse(userName, name));
    if (!u) throw new JumpError('USER_NOT_FOUND', { field: 'user', detail: `User: ${name}.` });
    return { g, u };
  };
  app.post<{ Params: { name: string } }>('/api/v1/jump-groups/:name/members', async (req) => {
    const admin = requireAdmin(req);
    const body = parse(z.strictObject({ user: z.string().max(64) }), req.body);
    const { g, u } = await memberTarget(req.params.name, body.user);
    await store.addMember(g.id, u.id);
    await store.audit({ at: Date.now(), userId: admin.id, action: 'jump_group.add_member', target: `jump_group:${g.name}`, detail: u.name });
    return { item: groupJson(g, await store.listMembers(g.id)) };
  });
  app.delete<{ Params: { name: string; user: string } }>('/api/v1/jump-groups/:name/members/:user', async (req) => {
    const admin = requireAdmin(req);
    const { g, u } = await memberTarget(req.params.name, req.params.user);
    await store.removeMember(g.id, u.id);
    await store.audit({ at: Date.now(), userId: admin.id, action: 'jump_group.remove_member', target: `jump_group:${g.name}`, detail: u.name });
    return { item: groupJson(g, await store.listMembers(g.id)) };
  });

  // ---- users (read-only here; `jump-site user` manages them) ----
  app.get('/api/v1/users', async (req) => {
    requireAdmin(req);
    return { items: (await store.listUsers()).map(userJson) };
  });
}
