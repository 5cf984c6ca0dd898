#!/usr/bin/env node
/**
 * Benchmark of the web console's listing (issue #19): N jump clients in the store (default
 * 50 000, enrolled through the store's own enroll), a real `jump-site serve`, and the first page
 * the Jump interface asks for (`GET /api/v1/jump-clients?limit=50&offset=0&sort=name`; then other
 * sorts, filters, the tags of the groups panel) timed at the API over keep-alive HTTPS, sequentially. Prints p50/p99/max in ms
 * per case, and the CSV export of everything once. Target: first page p99 <= 100 ms.
 *
 *   npm run build && node bench/web/listing.mjs [--clients 50000] [--requests 200] [--data DIR]
 *
 * `--data DIR`: seed DIR once and keep it; later runs with the same DIR skip the seeding.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { Agent, request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const root = join(fileURLToPath(import.meta.url), '..', '..', '..');
const arg = (name, dflt) => {
  const i = process.argv.indexOf(name);
  return i > 0 ? Number(process.argv[i + 1]) : dflt;
};
const keep = process.argv.includes('--data') ? process.argv[process.argv.indexOf('--data') + 1] : null;
const N = arg('--clients', 50_000);
const REQUESTS = arg('--requests', 200);
const PASSWORD = 'benchmark password';

const { SqliteStore } = await import(join(root, 'dist/site/store/sqlite.js'));
const { hashPassword } = await import(join(root, 'dist/site/auth.js'));
const { installerRefusal } = await import(join(root, 'dist/site/installers.js'));

const dir = keep ?? mkdtempSync(join(tmpdir(), 'jump-bench-web-'));
const dataDir = join(dir, 'data');
let site;
try {
  const { existsSync, mkdirSync } = await import('node:fs');
  const seeded = existsSync(join(dataDir, 'site.db'));
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const t0 = performance.now();
  if (!seeded) {
  const store = new SqliteStore(join(dataDir, 'site.db'));
  const admin = await store.createUser({ name: 'admin', role: 'admin', passwordHash: await hashPassword(PASSWORD), viewPersonalGroups: false, now: Date.now() });
  const groups = [];
  for (let g = 0; g < 20; g++) groups.push(await store.createGroup({ name: `group-${g}`, kind: 'shared', ownerUserId: null }));
  for (const g of groups) {
    await store.createInstaller({ uid: `bench${String(g.id).padStart(11, '0')}`, name: null, keyHash: `k${g.id}`, createdAt: Date.now(), expiresAt: Date.now() + 3_600_000, maxUses: null, uses: 0, revokedAt: null, jumpGroupId: g.id, tag: '', comments: '', mode: 'active', allowOverride: [], createdBy: admin.id });
  }
  for (let i = 0; i < N; i++) {
    const g = groups[i % groups.length];
    const key = Buffer.alloc(32);
    key.writeUInt32BE(i + 1);
    const { client } = await store.enroll({ keyHash: `k${g.id}`, publicKey: key.toString('base64url'), machineId: `m${i}`, name: null, jumpGroupId: g.id, tag: `tag-${i % 50}`, comments: `rack ${i % 400}`, now: Date.now(), mode: i % 10 === 0 ? 'passive' : 'active', limits: { maxTotal: null, maxActive: null }, checkInstaller: installerRefusal });
    await store.updateStats(client.id, { hostname: `host-${i}`, fqdn: `host-${i}.corp.test`, os_name: 'Debian GNU/Linux', os_version: '12', platform: 'linux', arch: 'x64', private_ips: [`10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`], console_user: `user${i % 1000}`, domain: 'corp.test', workgroup: null, cpu_model: 'CPU', cpu_cores: 4, cpu_load_pct: 3, mem_total_bytes: 1, mem_used_bytes: 1, disk_total_bytes: 1, disk_used_bytes: 1, boot_time: 0, agent_version: '0.1.0' }, true);
  }
  await store.close();
  console.log(`seeded ${N} clients in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  }

  site = spawn(process.execPath, [join(root, 'dist/site/main.js'), 'serve', '--data', dataDir, '--listen', '127.0.0.1:0', '--log-level', 'warn'], { stdio: ['ignore', 'ignore', 'pipe'] });
  let banner = '';
  site.stderr.on('data', (d) => (banner += d));
  const url = await new Promise((resolve, reject) => {
    const t = setInterval(() => {
      const m = /Jump site listening on (\S+)/.exec(banner);
      if (m && /TLS fingerprint/.test(banner)) (clearInterval(t), resolve(m[1]));
    }, 50);
    site.once('exit', () => reject(new Error(`site exited: ${banner}`)));
  });
  const u = new URL(url);
  const agent = new Agent({ keepAlive: true, maxSockets: 1, rejectUnauthorized: false });
  const call = (method, path, body, token) =>
    new Promise((resolve, reject) => {
      const req = request({ host: u.hostname, port: u.port, method, path, agent, headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body ? { 'content-type': 'application/json' } : {}) } }, (res) => {
        const chunks = [];
        res.on('data', (d) => chunks.push(d));
        res.on('end', () => (res.statusCode >= 400 ? reject(new Error(`${path}: ${res.statusCode} ${Buffer.concat(chunks)}`)) : resolve(Buffer.concat(chunks))));
      });
      req.on('error', reject);
      req.end(body ? JSON.stringify(body) : undefined);
    });
  const { token } = JSON.parse(await call('POST', '/api/v1/login', { user: 'admin', password: PASSWORD }));
  const first = '/api/v1/jump-clients?limit=50&offset=0&with_tags=1';
  const cases = {
    // What the Jump interface asks first: the page sorted by name; the groups panel's tags apart.
    'first page (the Jump interface: name)': '/api/v1/jump-clients?limit=50&offset=0&sort=name&order=asc',
    'groups panel tags (with_tags, limit 1)': '/api/v1/jump-clients?limit=1&sort=name&with_tags=1',
    'first page with tags, sort name': `${first}&sort=name&order=asc`,
    'first page (API default order)': first,
    'first page, sort name desc': `${first}&sort=name&order=desc`,
    'first page, sort comments': `${first}&sort=comments`,
    'first page, sort status': `${first}&sort=status`,
    'first page, sort last_access desc': `${first}&sort=last_access&order=desc`,
    'first page, one group': `${first}&group=group-7`,
    'first page, search name (hit)': `${first}&search=host-4242&fields=name`,
    'last page (offset N-50), sort name': `/api/v1/jump-clients?limit=50&offset=${N - 50}&sort=name`,
  };
  const results = {};
  for (const [name, path] of Object.entries(cases)) {
    for (let i = 0; i < 5; i++) await call('GET', path, undefined, token); // warm
    const ms = [];
    for (let i = 0; i < REQUESTS; i++) {
      const t = performance.now();
      await call('GET', path, undefined, token);
      ms.push(performance.now() - t);
    }
    ms.sort((a, b) => a - b);
    const q = (p) => ms[Math.min(ms.length - 1, Math.floor(p * ms.length))];
    results[name] = { p50: +q(0.5).toFixed(1), p99: +q(0.99).toFixed(1), max: +ms[ms.length - 1].toFixed(1) };
    console.log(`${name.padEnd(40)} p50 ${q(0.5).toFixed(1).padStart(6)} ms  p99 ${q(0.99).toFixed(1).padStart(6)} ms  max ${ms[ms.length - 1].toFixed(1).padStart(6)} ms`);
  }
  const t = performance.now();
  const csv = await call('GET', '/api/v1/jump-clients.csv', undefined, token);
  console.log(`CSV export of all ${N}: ${((performance.now() - t) / 1000).toFixed(2)} s, ${(csv.length / 1048576).toFixed(1)} MiB`);
  console.log(JSON.stringify({ clients: N, requests: REQUESTS, results }));
  agent.destroy();
} finally {
  site?.kill('SIGTERM');
  if (!keep) rmSync(dir, { recursive: true, force: true });
}
