/** Installers: create, list, show, revoke (`/api/v1/installers...`); a technician sees their own. */
import type { FastifyInstance } from 'fastify';
import type { ApiInstallerCreated } from '../../protocol/api.js';
import { JumpError } from '../../protocol/errors.js';
import { createInstaller, createInstallerBody, installerJson } from '../installers.js';
import { checkLimit } from '../settings.js';
import type { User } from '../store/store.js';
import { allow, me, parse, type ApiContext } from './common.js';

export function registerInstallerRoutes(app: FastifyInstance, ctx: ApiContext): void {
  const { store } = ctx;

  app.post('/api/v1/installers', allow('user'), async (req, reply) => {
    const body = parse(createInstallerBody, req.body);
    const user = me(req);
    const now = Date.now();
    // The seeds' mass deployment wizard refuses an installer while the site is at its license limit.
    const counts = await store.countClients();
    checkLimit(ctx.settings.get('jump-clients.max-total'), counts.total, 'DEPLOY_LIMIT_REACHED', `(jump-clients.max-total=${ctx.settings.get('jump-clients.max-total')})`);
    if (body.mode === 'active') {
      checkLimit(ctx.settings.get('jump-clients.max-active'), counts.active, 'DEPLOY_ACTIVE_LIMIT_REACHED', `(jump-clients.max-active=${ctx.settings.get('jump-clients.max-active')})`);
    }
    const { installer, keyInfo } = await createInstaller(store, user, body, now);
    const group = await store.getGroupById(installer.jumpGroupId);
    await store.audit({ at: now, userId: user.id, action: 'installer.create', target: `installer:${installer.uid}` });
    reply.code(201);
    const created: ApiInstallerCreated = {
      ...installerJson(installer, group?.name ?? null, now),
      key_info: keyInfo,
      site_url: ctx.siteUrl,
      site_pin: ctx.sitePin,
      update_pin: ctx.updates.pin,
    };
    return created;
  });
  const visibleInstaller = async (user: User, uid: string) => {
    const inst = await store.getInstaller(uid);
    if (!inst || (user.role !== 'admin' && inst.createdBy !== user.id)) {
      throw new JumpError('INSTALLER_NOT_FOUND', { detail: `Installer: ${uid}.` });
    }
    return inst;
  };
  const groupName = async (id: number) => (await store.getGroupById(id))?.name ?? null;
  app.get('/api/v1/installers', allow('user'), async (req) => {
    const user = me(req);
    const now = Date.now();
    const list = (await store.listInstallers()).filter((i) => user.role === 'admin' || i.createdBy === user.id);
    return { items: await Promise.all(list.map(async (i) => installerJson(i, await groupName(i.jumpGroupId), now))) };
  });
  app.get<{ Params: { uid: string } }>('/api/v1/installers/:uid', allow('user'), async (req) => {
    const inst = await visibleInstaller(me(req), req.params.uid);
    return { item: installerJson(inst, await groupName(inst.jumpGroupId), Date.now()) };
  });
  app.post<{ Params: { uid: string } }>('/api/v1/installers/:uid/revoke', allow('user'), async (req) => {
    const user = me(req);
    const inst = await visibleInstaller(user, req.params.uid);
    const now = Date.now();
    await store.revokeInstaller(inst.uid, now);
    await store.audit({ at: now, userId: user.id, action: 'installer.revoke', target: `installer:${inst.uid}` });
    return { item: installerJson((await store.getInstaller(inst.uid))!, await groupName(inst.jumpGroupId), now) };
  });
}
