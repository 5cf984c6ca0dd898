/**
 * Installers: create, list, show, revoke, and the installer file of the Mass Deployment Wizard's
 * Download (`/api/v1/installers...`); a technician sees their own.
 */
import { createReadStream } from 'node:fs';
import type { FastifyInstance } from 'fastify';
import type { ApiInstallerCreated } from '../../protocol/api.js';
import { JumpError } from '../../protocol/errors.js';
import {
  MAX_INSTALLER_FILE_BUILDS,
  MAX_INSTALLER_FILE_BUILDS_PER_USER,
  INSTALLER_DOWNLOAD_MAX_MS,
  buildInstallerFile,
  checkInstallerFileInputs,
  createInstaller,
  createInstallerBody,
  installerFileBody,
  installerJson,
  installerRefusal,
  keyMatches,
} from '../installers.js';
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

  // Installer files being built or streamed, site-wide (each holds a temp file until its download ends).
  let building = 0;
  // ... and per user: one user cannot take every slot (a slow reader holds one until its download ends).
  const buildingBy = new Map<number, number>();
  app.post<{ Params: { uid: string } }>('/api/v1/installers/:uid/file', allow('user'), async (req, reply) => {
    const body = parse(installerFileBody, req.body);
    const user = me(req);
    // Who may see it first (INSTALLER_NOT_FOUND, as GET): the key's answer is only for its own installer.
    const inst = await visibleInstaller(user, req.params.uid);
    if (!keyMatches(inst, body.key_info)) throw new JumpError('INSTALLER_KEY_MISMATCH', { field: 'key_info', detail: `Installer: ${inst.uid}.` });
    const refusal = installerRefusal(inst, Date.now());
    if (refusal) throw new JumpError(refusal, { detail: `Installer: ${inst.uid}; its installer file is not built.` });
    const packageDir = checkInstallerFileInputs(ctx.installerPackagesDir, body.platform);
    if (building >= MAX_INSTALLER_FILE_BUILDS) {
      throw new JumpError('INSTALLER_BUILD_BUSY', { detail: `(${MAX_INSTALLER_FILE_BUILDS} at once)`, retryAfterMs: 2000 });
    }
    if ((buildingBy.get(user.id) ?? 0) >= MAX_INSTALLER_FILE_BUILDS_PER_USER) {
      throw new JumpError('INSTALLER_BUILD_BUSY', { detail: `(${MAX_INSTALLER_FILE_BUILDS_PER_USER} at once per user: wait for your other download to end)`, retryAfterMs: 2000 });
    }
    building++;
    buildingBy.set(user.id, (buildingBy.get(user.id) ?? 0) + 1);
    // A download may take at most INSTALLER_DOWNLOAD_MAX_MS: a reader too slow for that loses it and frees the slot.
    const deadline = setTimeout(() => reply.raw.destroy(), INSTALLER_DOWNLOAD_MAX_MS);
    deadline.unref();
    // The slot (and the temp file) is held until the build is over AND the download has ended,
    // completed or cut off: a caller who leaves mid-build does not free a slot while it still builds.
    let built = false;
    let closed = false;
    let released = false;
    let dispose = () => {};
    const release = () => {
      if (released || !built || !closed) return;
      released = true;
      building--;
      const mine = (buildingBy.get(user.id) ?? 1) - 1;
      if (mine > 0) buildingBy.set(user.id, mine);
      else buildingBy.delete(user.id);
      clearTimeout(deadline);
      dispose();
    };
    reply.raw.once('close', () => {
      closed = true;
      release();
    });
    let file: Awaited<ReturnType<typeof buildInstallerFile>>;
    try {
      file = await buildInstallerFile(
        inst,
        await groupName(inst.jumpGroupId),
        body.key_info,
        { url: ctx.siteUrl, pin: ctx.sitePin, updatePin: ctx.updates.pin },
        packageDir,
        body.platform,
        ctx.codeSigning,
      );
    } catch (err) {
      built = closed = true; // nothing left to stream: the slot is free now
      release();
      if (err instanceof JumpError) throw err;
      req.log.error({ err: (err as Error).message, installer: inst.uid, platform: body.platform }, 'installer file build failed');
      throw new JumpError('INTERNAL_ERROR', { detail: `Building the ${body.platform} installer file failed; the site log has the cause.` });
    }
    built = true;
    dispose = file.dispose;
    if (closed) {
      // The caller left while it was built: nothing to answer.
      release();
      reply.hijack();
      return;
    }
    await ctx.store.audit({ at: Date.now(), userId: user.id, action: 'installer.download', target: `installer:${inst.uid}`, detail: body.platform });
    return reply
      .code(200)
      .header('content-type', 'application/octet-stream')
      .header('content-disposition', `attachment; filename="${file.name}"`)
      .header('content-length', String(file.bytes))
      .header('cache-control', 'no-store')
      .send(createReadStream(file.path));
  });
}
