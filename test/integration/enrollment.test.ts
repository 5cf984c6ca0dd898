/**
 * Enrollment with installer keys (seeds: "This installer is valid for", mass deployment): refused
 * with its own code when unknown, expired, revoked or used up; the site identity is pinned.
 */
import Database from 'better-sqlite3';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cleanup, readJsonLines, waitFor } from '../helpers/processes.js';
import { createInstaller, foreignPin, jump, listClients, startAgentProcess, startTestSite, type TestSite } from '../helpers/site.js';

let site: TestSite;
beforeAll(async () => {
  site = await startTestSite();
});
afterAll(cleanup);

const EXIT_REFUSED = 3;

async function refusedWith(inst: Parameters<typeof startAgentProcess>[0], code: string, extraArgs: string[] = []) {
  const a = startAgentProcess(inst, { extraArgs });
  const { code: exit } = await a.proc.exited;
  expect(exit).toBe(EXIT_REFUSED);
  expect(a.proc.stderr()).toContain(code);
  const logged = readJsonLines(join(a.configDir, 'agent.log')).find((l) => l.code === code);
  expect(logged).toBeDefined();
  // Nothing secret in the log.
  expect(JSON.stringify(readJsonLines(join(a.configDir, 'agent.log')))).not.toContain(inst.key_info);
  return a;
}

describe('installer keys', () => {
  it('enrolls with a valid key and counts the use', async () => {
    const inst = await createInstaller(site.api, { tag: 'valid', max_uses: 5 });
    startAgentProcess(inst);
    await waitFor(async () => (await listClients(site.api, 'tag=valid')).summary.online === 1);
    const shown = await site.api.request<{ item: { uses: number; state: string } }>('GET', `/api/v1/installers/${inst.uid}`);
    expect(shown.item).toMatchObject({ uses: 1, state: 'VALID' });
  });

  it('refuses an unknown key with INSTALLER_KEY_UNKNOWN', async () => {
    const inst = await createInstaller(site.api, { tag: 'unknown' });
    await refusedWith({ ...inst, key_info: 'x'.repeat(47) }, 'INSTALLER_KEY_UNKNOWN');
  });

  it('refuses an expired installer at first start with INSTALLER_EXPIRED', async () => {
    const inst = await createInstaller(site.api, { tag: 'expired', valid_for_ms: 10 * 60_000 });
    // Arrange: the installer's validity window has passed (as 10 minutes later).
    const db = new Database(join(site.dataDir, 'site.db'));
    db.prepare('UPDATE installers SET expires_at = ? WHERE uid = ?').run(Date.now() - 1000, inst.uid);
    db.close();
    await refusedWith(inst, 'INSTALLER_EXPIRED');
    const r = await jump(site.consoleDir, ['installer', 'show', inst.uid, '--json']);
    expect(JSON.parse(r.stdout).item.state).toBe('INSTALLER_EXPIRED');
  });

  it('refuses a revoked installer with INSTALLER_REVOKED', async () => {
    const inst = await createInstaller(site.api, { tag: 'revoked' });
    const r = await jump(site.consoleDir, ['installer', 'revoke', inst.uid]);
    expect(r.code).toBe(0);
    await refusedWith(inst, 'INSTALLER_REVOKED');
  });

  it('refuses a used-up installer with INSTALLER_USED_UP', async () => {
    const inst = await createInstaller(site.api, { tag: 'used-up', max_uses: 1 });
    startAgentProcess(inst);
    await waitFor(async () => (await listClients(site.api, 'tag=used-up')).summary.online === 1);
    await refusedWith(inst, 'INSTALLER_USED_UP');
    expect((await listClients(site.api, 'tag=used-up')).summary.jump_clients).toBe(1);
  });

  it('refuses a field the installer does not allow to override, and applies allowed ones', async () => {
    const inst = await createInstaller(site.api, { tag: 'locked', allow_override: ['comments'] });
    await refusedWith(inst, 'INSTALLER_OVERRIDE_FORBIDDEN', ['--jc-tag', 'other']);
    startAgentProcess(inst, { extraArgs: ['--jc-comments', 'set at "install" time; $HOME'] });
    const c = await waitFor(async () => (await listClients(site.api, 'tag=locked')).items[0]);
    expect(c.comments).toBe('set at "install" time; $HOME');
  });

  it('refuses an unknown jump group asked for at enrollment', async () => {
    const inst = await createInstaller(site.api, { tag: 'nogroup', allow_override: ['jump_group'] });
    await refusedWith(inst, 'JUMP_GROUP_NOT_FOUND', ['--jc-jump-group', 'No Such Group']);
  });
});

describe('site identity pinning', () => {
  it('refuses a site that cannot prove the pinned key, never sends the installer key, and keeps trying', async () => {
    const inst = await createInstaller(site.api, { tag: 'pinned', max_uses: 1 });
    const a = startAgentProcess({ ...inst, site_pin: foreignPin() });
    await waitFor(
      () => readJsonLines(join(a.configDir, 'agent.log')).filter((l) => String(l.msg).includes('did not prove the pinned site identity')).length >= 2,
      15_000,
      100,
      'two refusals',
    );
    expect(a.proc.child.exitCode).toBeNull(); // an attacker in the path cannot make it give up
    const shown = await site.api.request<{ item: { uses: number } }>('GET', `/api/v1/installers/${inst.uid}`);
    expect(shown.item.uses).toBe(0);
    expect((await listClients(site.api, 'tag=pinned')).summary.jump_clients).toBe(0);
  });
});

describe('jump client identity', () => {
  it('replaces the offline record of a reinstall on the same machine', async () => {
    const inst = await createInstaller(site.api, { tag: 'reinstall' });
    const first = startAgentProcess(inst, { machineId: 'same-machine' });
    const old = await waitFor(async () => (await listClients(site.api, 'tag=reinstall')).items.find((c) => c.status === 'online'));
    first.proc.child.kill('SIGTERM');
    await first.proc.exited;
    startAgentProcess(inst, { machineId: 'same-machine' }); // new config dir = new key
    const now = await waitFor(async () => (await listClients(site.api, 'tag=reinstall')).items.find((c) => c.status === 'online' && c.id !== old.id));
    const list = await listClients(site.api, 'tag=reinstall');
    expect(list.items.map((c) => c.id)).toEqual([now.id]);
  });

  it('flags two live jump clients with one machine id (a cloned image)', async () => {
    const inst = await createInstaller(site.api, { tag: 'clone' });
    startAgentProcess(inst, { machineId: 'cloned-image' });
    await waitFor(async () => (await listClients(site.api, 'tag=clone')).summary.online === 1);
    startAgentProcess(inst, { machineId: 'cloned-image' });
    await waitFor(async () => (await listClients(site.api, 'tag=clone')).summary.online === 2);
    const list = await listClients(site.api, 'tag=clone');
    expect(list.items.every((c) => c.duplicate_machine_id)).toBe(true);
    const r = await jump(site.consoleDir, ['clients', '--tag', 'clone']);
    expect(r.stdout).toContain('[dup machine id]');
  });
});
