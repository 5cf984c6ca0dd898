/**
 * The crash suite's store check (test/helpers/store-check.ts) must be able to fail: a store built
 * through the real SqliteStore passes, and each kind of half-written record, written by hand with
 * SQL the way a torn write would leave it, is reported.
 */
import Database from 'better-sqlite3';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { SqliteStore } from '../../site/store/sqlite.js';
import { cleanup, tempDir } from '../helpers/processes.js';
import { checkStore } from '../helpers/store-check.js';

afterAll(cleanup);

/** A data dir with one group, user, installer, enrolled client and recorded session. */
async function consistentDataDir(): Promise<string> {
  const dir = tempDir('jump-store-check-');
  const store = new SqliteStore(join(dir, 'site.db'));
  const now = Date.now();
  const user = await store.createUser({ name: 'admin', role: 'admin', passwordHash: 'x', viewPersonalGroups: false, now });
  const group = await store.createGroup({ name: 'g', kind: 'shared', ownerUserId: null });
  await store.createInstaller({
    uid: 'inst-1', name: null, keyHash: 'h1', createdAt: now, expiresAt: now + 1e6, maxUses: null, uses: 0, revokedAt: null,
    jumpGroupId: group.id, tag: '', comments: '', mode: 'active', allowOverride: [], createdBy: user.id,
  });
  const { client } = await store.enroll({
    keyHash: 'h1', publicKey: 'pk-1', machineId: 'm1', name: null, jumpGroupId: group.id, tag: '', comments: '', now, mode: 'active', limits: { maxTotal: null, maxActive: null },
    checkInstaller: () => null,
  });
  await store.createSession({ id: 's1', clientId: client.id, userId: user.id, kind: 'shell', startedAt: now - 10 });
  mkdirSync(join(dir, 'recordings'));
  writeFileSync(join(dir, 'recordings', 's1.cast'), JSON.stringify({ version: 2, width: 80, height: 24 }) + '\n');
  await store.setSessionRecording('s1', 's1.cast');
  await store.endSession('s1', { endedAt: now, bytesToClient: 1, bytesFromClient: 1, endReason: 'closed' });
  await store.close();
  return dir;
}

function tamper(dir: string, sql: string): void {
  const db = new Database(join(dir, 'site.db'));
  db.exec(sql);
  db.close();
}

it('passes a consistent store and reports every kind of half-written record', async () => {
  const dir = await consistentDataDir();
  expect(checkStore(dir, { siteStartedAt: Date.now() })).toEqual([]);

  const cases: [string, (d: string) => void, RegExp][] = [
    ['client whose installer is missing', (d) => tamper(d, `DELETE FROM installers`), /names missing installer inst-1/],
    ['installer without key hash', (d) => tamper(d, `UPDATE installers SET key_hash = ''`), /without a key hash/],
    ['use counted, client not written', (d) => tamper(d, `UPDATE installers SET uses = 2`), /counts 2 uses but enrolled 1/],
    ['client in a missing group', (d) => tamper(d, `UPDATE jump_clients SET jump_group_id = 99`), /names missing jump group 99/],
    ['session row, recording file missing', (d) => rmSync(join(d, 'recordings', 's1.cast')), /names recording s1.cast, which is missing/],
    ['recording torn before its header', (d) => writeFileSync(join(d, 'recordings', 's1.cast'), '{"vers'), /no asciicast v2 header/],
    ['recording file, no session row', (d) => writeFileSync(join(d, 'recordings', 'orphan.cast'), '{}\n'), /orphan.cast is named by no session/],
    ['session of a missing client', (d) => tamper(d, `UPDATE sessions SET client_id = 42`), /names missing client 42/],
    ['session left open by the killed site', (d) => tamper(d, `UPDATE sessions SET ended_at = NULL`), /still open/],
  ];
  for (const [what, breakIt, expected] of cases) {
    const d = await consistentDataDir();
    breakIt(d);
    expect(checkStore(d, { siteStartedAt: Date.now() }).join('\n'), what).toMatch(expected);
  }
});
