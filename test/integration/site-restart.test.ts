/**
 * The site is killed with SIGKILL and started again on the same data dir and port: every agent
 * comes back, no record is duplicated, and edits committed before the kill are kept.
 */
import { afterAll, expect, it } from 'vitest';
import { cleanup, waitFor } from '../helpers/processes.js';
import { createInstaller, listClients, startAgentProcess, startSiteProcess, startTestSite } from '../helpers/site.js';

afterAll(cleanup);

it('brings every agent back after kill -9 of the site, with no duplicates and no lost edits', async () => {
  const site = await startTestSite();
  const inst = await createInstaller(site.api, { tag: 'restart' });
  for (let i = 0; i < 10; i++) startAgentProcess(inst);
  await waitFor(async () => (await listClients(site.api)).summary.online === 10, 30_000, 200, '10 online');
  const before = await listClients(site.api);
  const edited = before.items[3];
  await site.api.request('PATCH', `/api/v1/jump-clients/${edited.id}`, { comments: 'edited just before the crash', tag: 'kept' });

  site.proc.child.kill('SIGKILL');
  await site.proc.exited;
  const again = await startSiteProcess({ dataDir: site.dataDir, port: site.port });
  expect(again.password).toBeNull(); // the bootstrap admin is made once
  expect(again.pin).toBe(site.pin); // same identity: agents' pins still hold
  expect(again.fingerprint).toBe(site.fingerprint);

  await waitFor(async () => (await listClients(site.api)).summary.online === 10, 30_000, 200, '10 online again');
  const after = await listClients(site.api);
  expect(after.summary.jump_clients).toBe(10);
  expect(after.items.map((c) => c.id).sort()).toEqual(before.items.map((c) => c.id).sort());
  const kept = after.items.find((c) => c.id === edited.id)!;
  expect(kept.comments).toBe('edited just before the crash');
  expect(kept.tag).toBe('kept');
});
