/** The SQLite store's atomic rules, on a real database file. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SqliteStore } from '../../site/store/sqlite.js';
import Database from 'better-sqlite3';
import type { Installer } from '../../site/store/store.js';
import { installerRefusal } from '../../site/installers.js';

let dir: string;
let store: SqliteStore;
let installer: Installer;

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'jump-store-'));
  store = new SqliteStore(join(dir, 'site.db'));
  const u = await store.createUser({ name: 'admin', role: 'admin', passwordHash: 'x', viewPersonalGroups: false, now: 1 });
  const g = (await store.getGroupByName('user:admin'))!;
  installer = {
    uid: 'u1', name: null, keyHash: 'k1', createdAt: 1, expiresAt: Date.now() + 60_000, maxUses: 2, uses: 0, revokedAt: null,
    jumpGroupId: g.id, tag: '', comments: '', mode: 'active', allowOverride: [], createdBy: u.id,
  };
  await store.createInstaller(installer);
});
afterEach(async () => {
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

const enroll = (publicKey: string, machineId = publicKey, maxTotal: number | null = null, maxActive: number | null = null) =>
  store.enroll({ keyHash: 'k1', publicKey, machineId, name: null, jumpGroupId: installer.jumpGroupId, tag: '', comments: '', now: Date.now(), mode: 'active', limits: { maxTotal, maxActive }, checkInstaller: installerRefusal });

describe('enroll', () => {
  it('counts uses and refuses past max_uses without writing anything', async () => {
    await enroll('a');
    await enroll('b');
    await expect(enroll('c')).rejects.toMatchObject({ code: 'INSTALLER_USED_UP' });
    expect((await store.getInstaller('u1'))!.uses).toBe(2);
    expect((await store.listClients({ visibleGroupIds: null })).items).toHaveLength(2);
  });

  it('is idempotent for the same public key (the agent lost the answer)', async () => {
    const first = await enroll('a');
    const again = await enroll('a');
    expect(again.client.id).toBe(first.client.id);
    expect((await store.getInstaller('u1'))!.uses).toBe(1);
  });

  it('refuses past the site limit (DEPLOY_LIMIT_REACHED) and leaves the use uncounted', async () => {
    await enroll('a', 'a', 1);
    await expect(enroll('b', 'b', 1)).rejects.toMatchObject({ code: 'DEPLOY_LIMIT_REACHED' });
    expect((await store.getInstaller('u1'))!.uses).toBe(1);
  });

  it('refuses an active jump client past max-active (DEPLOY_ACTIVE_LIMIT_REACHED), and a switch to active past it (ACTIVE_LIMIT_REACHED), changing nothing', async () => {
    const { client } = await enroll('a', 'a', null, 1);
    await expect(enroll('b', 'b', null, 1)).rejects.toMatchObject({ code: 'DEPLOY_ACTIVE_LIMIT_REACHED', message: expect.stringContaining('jump-clients.max-active=1') });
    expect((await store.getInstaller('u1'))!.uses).toBe(1);
    // Passive: it no longer counts, so another active one fits; switching it back does not.
    await store.updateClient(client.id, { mode: 'passive' }, { maxTotal: null, maxActive: 1 });
    const second = await enroll('b', 'b', null, 1);
    await expect(store.updateClient(client.id, { mode: 'active', comments: 'x' }, { maxTotal: null, maxActive: 1 })).rejects.toMatchObject({ code: 'ACTIVE_LIMIT_REACHED' });
    expect((await store.getClient(client.id))!).toMatchObject({ mode: 'passive', comments: '' });
    // An active client edited while at the limit is not refused (it is already counted).
    await store.updateClient(second.client.id, { mode: 'active', comments: 'y' }, { maxTotal: null, maxActive: 1 });
    expect(await store.countClients()).toEqual({ total: 2, active: 1 });
  });

  it('keeps a deleted key refused', async () => {
    const { client } = await enroll('a');
    await store.deleteClients([client.id], Date.now());
    await expect(enroll('a')).rejects.toMatchObject({ code: 'JUMP_CLIENT_DELETED' });
    expect(await store.getClientAuth(client.id)).toEqual({ publicKey: 'a', deleted: true, uninstalled: false, quarantined: false });
  });
});

it('reopens an existing database at the same schema version', async () => {
  await store.close();
  store = new SqliteStore(join(dir, 'site.db'));
  expect((await store.listUsers()).map((u) => u.name)).toEqual(['admin']);
});

describe('batched status and statistics writes', () => {
  it('commits the writes of one turn together, and a failing one fails only its own caller', async () => {
    const a = (await enroll('a')).client.id;
    const b = (await enroll('b')).client.id;
    const failing = (store as unknown as { batched(w: () => void): Promise<void> }).batched(() => {
      throw new Error('this write fails');
    });
    const writes = [
      store.setClientOnline(a, { now: 5, publicIp: '192.0.2.1', machineId: 'ma' }),
      failing,
      store.updateStats(b, { hostname: 'host-b', private_ips: ['10.0.0.2'], console_user: 'bob', domain: 'd', workgroup: null }, true),
      store.setClientOnline(b, { now: 6, publicIp: '192.0.2.2', machineId: 'mb' }),
      store.setClientOffline(b, 7),
    ];
    const results = await Promise.allSettled(writes);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled', 'fulfilled', 'fulfilled']);
    const items = (await store.listClients({ visibleGroupIds: null })).items;
    const ca = items.find((c) => c.id === a)!;
    const cb = items.find((c) => c.id === b)!;
    expect([ca.online, ca.publicIp]).toEqual([true, '192.0.2.1']);
    // Applied in order: online, then offline.
    expect([cb.online, cb.stats.hostname, cb.stats.console_user]).toEqual([false, 'host-b', 'bob']);
  });

  it('writes what is queued before the store closes', async () => {
    const a = (await enroll('a')).client.id;
    void store.setClientOnline(a, { now: 5, publicIp: '192.0.2.9', machineId: 'ma' });
    await store.close();
    store = new SqliteStore(join(dir, 'site.db'));
    expect((await store.getClient(a))!.publicIp).toBe('192.0.2.9');
  });
});

describe('listClients summary (issue #13 item 6)', () => {
  it('counts every visible client that matches, while `limit` limits only the page', async () => {
    await store.createInstaller({ ...installer, uid: 'u2', keyHash: 'k2', maxUses: 10, mode: 'passive' });
    const a = (await enroll('a')).client.id;
    await enroll('b');
    const enrollPassive = (publicKey: string) =>
      store.enroll({ keyHash: 'k2', publicKey, machineId: publicKey, name: null, jumpGroupId: installer.jumpGroupId, tag: 'p', comments: '', now: Date.now(), mode: 'passive', limits: { maxTotal: null, maxActive: null }, checkInstaller: installerRefusal });
    const c = (await enrollPassive('c')).client.id;
    await enrollPassive('d');
    await enrollPassive('e');
    await store.setClientOnline(a, { now: 5, publicIp: '192.0.2.1', machineId: 'a' });
    await store.setClientOnline(c, { now: 5, publicIp: '192.0.2.3', machineId: 'c' });

    const all = await store.listClients({ visibleGroupIds: null });
    expect(all.items).toHaveLength(5);
    expect(all.summary).toEqual({ jumpItems: 5, jumpClients: 5, online: 2, offline: 3, passive: 3 });

    const page = await store.listClients({ visibleGroupIds: null, limit: 2 });
    expect(page.items).toHaveLength(2);
    expect(page.summary).toEqual(all.summary);

    const tagged = await store.listClients({ visibleGroupIds: null, tag: 'p', limit: 1 });
    expect(tagged.items).toHaveLength(1);
    expect(tagged.summary).toEqual({ jumpItems: 3, jumpClients: 3, online: 1, offline: 2, passive: 3 });

    const hidden = await store.listClients({ visibleGroupIds: [], limit: 1 });
    expect(hidden.items).toHaveLength(0);
    expect(hidden.summary).toEqual({ jumpItems: 0, jumpClients: 0, online: 0, offline: 0, passive: 0 });
  });
});

describe('user ids (security review)', () => {
  it('never gives a new user the id of a removed one, so nobody inherits their sessions', async () => {
    const bob = await store.createUser({ name: 'bob', role: 'technician', passwordHash: 'x', viewPersonalGroups: false, now: 2 });
    await store.createSession({ id: 'AAAAAAAAAAAAAAAAAAAAAA', clientId: (await enroll('s')).client.id, userId: bob.id, kind: 'exec', startedAt: 3 });
    await store.deleteUser(bob.id);
    // bob was the newest row: a rowid would be handed out again here.
    const eve = await store.createUser({ name: 'eve', role: 'technician', passwordHash: 'x', viewPersonalGroups: false, now: 4 });
    expect(eve.id).not.toBe(bob.id);
    expect(eve.id).toBeGreaterThan(bob.id);
    const theirs = await store.listSessions({ visibleGroupIds: [], userId: eve.id, limit: 100 });
    expect(theirs).toHaveLength(0);
  });
});

describe('transactions beside another process', () => {
  it('take the write lock when they begin: another process writing meanwhile waits (busy), instead of failing this one with "database is locked"', () => {
    const other = new Database(join(dir, 'site.db'));
    other.pragma('busy_timeout = 0');
    const inner = store as unknown as { writeTransaction: <T>(fn: () => T) => () => T; db: Database.Database };
    let otherWrite: unknown = null;
    inner.writeTransaction(() => {
      inner.db.prepare('SELECT count(*) FROM settings').get();
      // `jump-site settings` or the site, in another process, commits now: it must wait for us.
      try {
        other.prepare("INSERT INTO settings (key, value, updated_at) VALUES ('x', '1', 1)").run();
      } catch (err) {
        otherWrite = err;
      }
      inner.db.prepare("INSERT INTO settings (key, value, updated_at) VALUES ('y', '2', 2)").run();
    })();
    other.close();
    expect(String(otherWrite)).toMatch(/locked|busy/i);
    expect(inner.db.prepare("SELECT key FROM settings ORDER BY key").all()).toEqual([{ key: 'y' }]);
  });
});
