#!/usr/bin/env node
/**
 * What one agent reconnect costs the site, piece by piece (docs/benchmarks.md, Fleet):
 *
 *   node bench/reconnect-costs.mjs [--n 2000]
 *
 * - TLS 1.3 handshake, server CPU per handshake (a child process serves with the site's own
 *   self-signed P-256 certificate, site/identity.ts), full and resumed from a session ticket,
 *   50 in flight;
 * - a connection closed by the TLS handshake cap (site/tls-gate.ts), CPU per drop, client and
 *   server in one process (the floor of accept + close is included);
 * - a status write to the store: one commit each, and many in one transaction (site/store/sqlite.ts).
 *
 * Needs `npm run build`. Prints a Markdown table.
 */
import { fork } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:https';
import { connect as netConnect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import { parseArgs } from 'node:util';
import Database from 'better-sqlite3';
import { loadSiteIdentity } from '../dist/site/identity.js';
import { gateTlsHandshakes } from '../dist/site/tls-gate.js';

const { values } = parseArgs({ options: { n: { type: 'string', default: '2000' }, serve: { type: 'string' } } });
const N = Number(values.n);

if (values.serve) {
  // Child: a TLS server with the site's settings; answers 'cpu' with its CPU usage.
  const id = await loadSiteIdentity(values.serve);
  const server = createServer({ key: id.tlsKeyPem, cert: id.tlsCertPem, minVersion: 'TLSv1.3' }, (_req, res) => res.end());
  server.on('secureConnection', (s) => s.end());
  server.listen(0, '127.0.0.1', () => process.send(server.address().port));
  process.on('message', () => process.send(process.cpuUsage()));
} else {
  const dir = mkdtempSync(join(tmpdir(), 'jump-costs-'));
  const rows = [];
  try {
    const id = await loadSiteIdentity(dir);

    // TLS handshakes, in a child so its CPU is the server's alone.
    const child = fork(new URL(import.meta.url).pathname, ['--serve', dir]);
    const port = await new Promise((r) => child.once('message', r));
    const cpu = () => new Promise((r) => (child.once('message', r), child.send('cpu')));
    for (const mode of ['full', 'resumed']) {
      let session;
      const one = () =>
        new Promise((resolve, reject) => {
          const s = tlsConnect({ port, host: '127.0.0.1', rejectUnauthorized: false, session: mode === 'resumed' ? session : undefined });
          s.once('session', (x) => (session ??= x));
          s.on('data', () => {});
          s.once('close', resolve);
          s.once('error', reject);
        });
      await Promise.all(Array.from({ length: 50 }, one)); // warm up, and a ticket to resume
      const a = await cpu();
      let started = 0;
      await Promise.all(Array.from({ length: 50 }, async () => { while (started++ < N) await one(); }));
      const b = await cpu();
      rows.push([`TLS 1.3 handshake, ${mode} (server CPU)`, (b.user - a.user + b.system - a.system) / N]);
    }
    child.kill();

    // Connections over the TLS handshake cap: closed before TLS.
    const server = createServer({ key: id.tlsKeyPem, cert: id.tlsCertPem, minVersion: 'TLSv1.3' });
    let drops = 0;
    gateTlsHandshakes(server, 1, () => drops++);
    await new Promise((r) => server.listen(0, '127.0.0.1', r));
    const gatePort = server.address().port;
    const hold = netConnect(gatePort, '127.0.0.1'); // takes the one slot
    await new Promise((r) => setTimeout(r, 100));
    const c0 = process.cpuUsage();
    for (let i = 0; i < N; i += 100) {
      await Promise.all(
        Array.from({ length: 100 }, () => new Promise((r) => netConnect(gatePort, '127.0.0.1').on('close', r).on('error', () => {}))),
      );
    }
    const c1 = process.cpuUsage(c0);
    rows.push([`connection dropped by the TLS handshake cap (client + server CPU, ${drops} drops)`, (c1.user + c1.system) / Math.ceil(N / 100) / 100]);
    hold.destroy();
    server.close();

    // Status writes: one commit each, or one transaction for all (the store's batching).
    const db = new Database(join(dir, 'costs.db'));
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    db.exec('CREATE TABLE c (id INTEGER PRIMARY KEY, online INTEGER, at INTEGER, ip TEXT)');
    const insert = db.prepare('INSERT INTO c VALUES (?, 0, 0, NULL)');
    db.transaction(() => { for (let i = 0; i < 2 * N; i++) insert.run(i); })();
    const update = db.prepare('UPDATE c SET online = 1, at = ?, ip = ? WHERE id = ?');
    let t = performance.now();
    for (let i = 0; i < N; i++) update.run(Date.now(), '192.0.2.1', i);
    rows.push(['status write, one commit each (wall time)', ((performance.now() - t) * 1000) / N]);
    const savepoint = db.transaction((i) => update.run(Date.now(), '192.0.2.1', i));
    t = performance.now();
    db.transaction(() => { for (let i = N; i < 2 * N; i++) savepoint(i); })();
    rows.push(['status write, batched, each in its own savepoint (wall time)', ((performance.now() - t) * 1000) / N]);
    db.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  console.log(`Node ${process.version}, OpenSSL ${process.versions.openssl}; ${N} of each\n\n| what | µs each |\n| --- | ---: |`);
  for (const [what, us] of rows) console.log(`| ${what} | ${us.toFixed(0)} |`);
  process.exit(0);
}
