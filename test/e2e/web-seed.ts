/**
 * Fills a site's data dir with `n` jump clients through the store's own enroll (the transaction
 * agents use), for the web console's listing tests and benchmark (bench/web/listing.mjs does the
 * same from dist/). The admin `admin` gets `password`; clients are in jump group `Fleet`, tagged
 * `tag-<i % 10>`, with hostnames `host-<i>`.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { hashPassword } from '../../site/auth.js';
import { installerRefusal } from '../../site/installers.js';
import { SqliteStore } from '../../site/store/sqlite.js';
import { fixtureStats } from '../helpers/site.js';

/** Seeds `<dataDir>/site.db`; `names` gives custom names to the first clients (index -> name). Returns the client ids in order. */
export async function seedClients(dataDir: string, n: number, password: string, names: Record<number, string> = {}, comments: Record<number, string> = {}): Promise<number[]> {
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const store = new SqliteStore(join(dataDir, 'site.db'));
  try {
    const admin = await store.createUser({ name: 'admin', role: 'admin', passwordHash: await hashPassword(password), viewPersonalGroups: false, now: Date.now() });
    const g = await store.createGroup({ name: 'Fleet', kind: 'shared', ownerUserId: null });
    await store.createInstaller({
      uid: 'seed0000seed0000',
      name: null,
      keyHash: 'seed',
      createdAt: Date.now(),
      expiresAt: Date.now() + 3_600_000,
      maxUses: null,
      uses: 0,
      revokedAt: null,
      jumpGroupId: g.id,
      tag: '',
      comments: '',
      mode: 'active',
      allowOverride: [],
      createdBy: admin.id,
    });
    const ids: number[] = [];
    for (let i = 0; i < n; i++) {
      const key = Buffer.alloc(32);
      key.writeUInt32BE(i + 1);
      const { client } = await store.enroll({
        keyHash: 'seed',
        publicKey: key.toString('base64url'),
        machineId: `m${i}`,
        name: names[i] ?? null,
        jumpGroupId: g.id,
        tag: `tag-${i % 10}`,
        comments: comments[i] ?? `rack ${i % 7}`,
        now: Date.now(),
        mode: 'active',
        limits: { maxTotal: null, maxActive: null },
        checkInstaller: installerRefusal,
      });
      await store.updateStats(client.id, fixtureStats({ hostname: `host-${i}`, private_ips: [`10.0.${(i >> 8) & 255}.${i & 255}`] }), true);
      ids.push(client.id);
    }
    return ids;
  } finally {
    await store.close();
  }
}
