#!/usr/bin/env node
/**
 * Fleet simulator and site capacity benchmarks (docs/benchmarks.md, "Fleet").
 *
 *   node bench/fleet/fleet.mjs p1p2 --n 1000,5000 [--procs 4] [--rate 500] [--max-handshakes 64] [--steady 30] [--restart-agents]
 *                                    [--deadline 900] [--site-nofile N] [--backoff-cap 30000 (ms; the agent's own default is 60000)]
 *   node bench/fleet/fleet.mjs p7 --n 50000 [--queries 20]
 *   node bench/fleet/fleet.mjs p8 --n 5000 --interval 30 [--rate 50] [--procs 4] [--steady 60] [--stored 50000]
 *
 * p1p2, for each N: a fresh site (data in a temp dir, --admission-rate RATE, default heartbeat),
 * then N simulated agents over PROCS processes (bench/fleet/worker.mjs: the real Agent class, one
 * loopback source address each) enroll and connect. P1: time until all are connected (from the
 * site's /metrics), then over STEADY seconds the site's CPU (from /proc), RSS, and bytes read and
 * written per agent per minute (/proc/<pid>/io). P2: kill -9 the site, start it again on the same
 * data and port, and time until all are connected again; the peak of 503 retries per second; and
 * the count of jump clients in the store (no agent may come back twice: it must still be N).
 * With --restart-agents, the simulator then stops its processes and starts new ones from the saved
 * identities (client id, key, machine id), timing until all are connected again without enrolling.
 *
 * p7: a store of N jump clients (made through the store's own enroll), the site started on it, and
 * the API timed for the full list and for searches (all fields, one field, a miss).
 *
 * p8 (issue #18): N passive jump clients checking in every INTERVAL seconds (the site's
 * jump-clients.passive-interval, ±20 % jitter) against one node admitting RATE new connections per
 * second. After all have enrolled, over STEADY seconds: check-ins per second (the site's completed
 * handshakes) and the attempts refused over the admission rate (SITE_BUSY, each told when to come
 * back), the site's CPU and RSS, and the time from dial to welcome of the attempts that got through
 * (p50, p99; a refused attempt is not a sample). The arrival rate N / INTERVAL is what matters:
 * 5 000 clients every 30 s is the rate of 50 000 every 5 minutes. --stored S makes the store hold S
 * passive clients in all (S - N of them rows only), so the site works on the full fleet's store.
 *
 * Needs `npm run build`. Prints Markdown tables.
 */
import { fork, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { cpus, tmpdir, totalmem } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { SiteClient, probeCertificate } from '../../dist/console/http.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    n: { type: 'string', default: '1000' },
    procs: { type: 'string', default: '4' },
    rate: { type: 'string', default: '500' },
    'max-handshakes': { type: 'string' },
    steady: { type: 'string', default: '30' },
    queries: { type: 'string', default: '20' },
    'restart-agents': { type: 'boolean', default: false },
    'site-nofile': { type: 'string' },
    deadline: { type: 'string', default: '900' },
    'backoff-cap': { type: 'string', default: '30000' },
    interval: { type: 'string', default: '30' },
    stored: { type: 'string' },
  },
});
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const CLK = 100; // USER_HZ on Linux

async function startSite(dataDir, port, rate) {
  // --site-nofile N lowers the site's open-file limit (prlimit), to see what it does at that limit.
  const argv = [process.execPath, join(ROOT, 'dist/site/main.js'), 'serve', '--data', dataDir, '--listen', `127.0.0.1:${port}`, '--admission-rate', String(rate), ...(values['max-handshakes'] ? ['--max-handshakes', values['max-handshakes']] : []), '--metrics-open-loopback', '--log-level', 'error'];
  const nofile = values['site-nofile'];
  const cmd = nofile ? ['prlimit', `--nofile=${nofile}:${nofile}`, '--', ...argv] : argv;
  const p = spawn(cmd[0], cmd.slice(1), { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  p.stderr.on('data', (d) => (err += d));
  for (let i = 0; i < 200 && !/TLS fingerprint/.test(err); i++) await sleep(50);
  const url = /listening on (\S+)/.exec(err)[1];
  const file = /password in (\S+)/.exec(err)?.[1];
  return { p, url, port: Number(new URL(url).port), password: file ? readFileSync(file, 'utf8').trim() : undefined, pin: /Site pin:\s+(\S+)/.exec(err)[1] };
}

/** A client logged in as `user`; a bootstrap password (which must be changed first) is changed to `next`. */
async function api(url, user, password, next = null) {
  const { certPem } = await probeCertificate(url);
  const anon = new SiteClient(url, { certPem });
  let { token } = await anon.request('POST', '/api/v1/login', { user, password });
  if (next) {
    await new SiteClient(url, { certPem, token }).request('POST', '/api/v1/me/password', { current_password: password, new_password: next });
    ({ token } = await anon.request('POST', '/api/v1/login', { user, password: next }));
  }
  return new SiteClient(url, { certPem, token });
}

async function connected(client) {
  try {
    const text = await client.requestText('GET', '/metrics');
    return {
      agents: Number(/^jump_site_connected_agents (\d+)/m.exec(text)?.[1] ?? 0),
      rejected: [...text.matchAll(/^jump_site_agent_admission_rejected_total(?:\{[^}]*\})? (\d+)/gm)].reduce((a, m) => a + Number(m[1]), 0),
      full: Number(/^jump_site_agent_admission_rejected_total\{reason="full"\} (\d+)/m.exec(text)?.[1] ?? 0),
      dropped: [...text.matchAll(/^jump_site_connections_dropped_total(?:\{[^}]*\})? (\d+)/gm)].reduce((a, m) => a + Number(m[1]), 0),
      capacity: Number(/^jump_site_agent_capacity (\d+)/m.exec(text)?.[1] ?? 0),
      timeouts: Number(/^jump_site_errors_total\{code="HANDSHAKE_TIMEOUT"\} (\d+)/m.exec(text)?.[1] ?? 0),
    };
  } catch {
    return { ok: false, agents: 0, rejected: 0, full: 0, dropped: 0, capacity: 0, timeouts: 0 };
  }
}

function procStat(pid) {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  const io = Object.fromEntries(readFileSync(`/proc/${pid}/io`, 'utf8').trim().split('\n').map((l) => l.split(': ').map((x, i) => (i ? Number(x) : x))));
  const rss = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))[1]) * 1024;
  return { cpuTicks: Number(f[11]) + Number(f[12]), rss, bytes: io.rchar + io.wchar };
}

/**
 * Starts N agents over `procs` workers: enrolling fresh ones, or, with `identities`, restarting
 * saved ones (no enrollment). `dump()` collects the enrolled identities (client id, key, machine id).
 */
function startFleet(n, procs, job, identities = null) {
  const workers = [];
  const per = Math.ceil(n / procs);
  for (let w = 0; w < procs; w++) {
    const count = Math.min(per, n - w * per);
    if (count <= 0) break;
    const child = fork(join(ROOT, 'bench/fleet/worker.mjs'), { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
    const state = { child, online: 0, enrolled: 0, identities: null, latencies: null };
    child.on('message', (m) => {
      if (typeof m.online === 'number') state.online = m.online;
      if (typeof m.enrolled === 'number') state.enrolled = m.enrolled;
      if (Array.isArray(m.identities)) state.identities = m.identities;
      if (Array.isArray(m.latencies)) state.latencies = m.latencies;
    });
    if (identities) child.send({ ...job, identities: identities.slice(w * per, w * per + count), firstIndex: w * per });
    else child.send({ ...job, enroll: count, firstIndex: w * per });
    workers.push(state);
  }
  return {
    online: () => workers.reduce((a, w) => a + w.online, 0),
    enrolled: () => workers.reduce((a, w) => a + w.enrolled, 0),
    resetLatencies: () => workers.forEach((w) => w.child.send('reset')),
    async latencies() {
      for (const w of workers) (w.latencies = null), w.child.send('latencies');
      while (workers.some((w) => w.latencies === null)) await sleep(50);
      return workers.flatMap((w) => w.latencies);
    },
    async dump() {
      for (const w of workers) w.child.send('dump');
      while (workers.some((w) => w.identities === null)) await sleep(50);
      return workers.flatMap((w) => w.identities);
    },
    stop: () => Promise.all(workers.map((w) => new Promise((r) => (w.child.once('exit', r), w.child.send('stop'))))),
  };
}

async function p1p2(n, procs, rate, steadyS) {
  const dir = mkdtempSync(join(tmpdir(), 'jump-fleet-'));
  try {
    let site = await startSite(join(dir, 'data'), 0, rate);
    const admin = await api(site.url, 'admin', site.password, 'benchmark admin password');
    const inst = await admin.request('POST', '/api/v1/installers', { valid_for_ms: 3_600_000, max_uses: 1_000_000 });
    const t0 = performance.now();
    const fleet = startFleet(n, procs, { site: site.url, pin: site.pin, keyInfo: inst.key_info, backoffCapMs: Number(values['backoff-cap']) });
    // A deadline, so a fleet that cannot all connect is reported instead of waited for.
    // The node holds at most its capacity (site/capacity.ts, from its open-file limit): past that,
    // "all" means the capacity, and the rest are told to come back later.
    const capacity = (await connected(admin)).capacity || Infinity;
    const target = Math.min(n, capacity);
    let reached = 0;
    const deadlineS = Number(values.deadline);
    while ((reached = (await connected(admin)).agents) < target && performance.now() - t0 < deadlineS * 1000) await sleep(250);
    if (reached < target) {
      await fleet.stop();
      site.p.kill('SIGKILL');
      return { n, broke: `only ${reached} of ${target} connected within ${deadlineS} s` };
    }
    const connectAll = (performance.now() - t0) / 1000;
    await sleep(5_000); // first statistics settle
    const a = procStat(site.p.pid);
    await sleep(steadyS * 1000);
    const b = procStat(site.p.pid);
    const cpuPct = ((b.cpuTicks - a.cpuTicks) / CLK / steadyS) * 100;

    let beforeKill = await connected(admin); // refusals of the first run, for N over capacity
    for (let i = 0; i < 20 && beforeKill.ok === false; i++) await sleep(500), (beforeKill = await connected(admin));
    // P2: kill -9 and restart on the same data and port.
    site.p.kill('SIGKILL');
    await new Promise((r) => site.p.once('exit', r));
    const t1 = performance.now();
    site = await startSite(join(dir, 'data'), site.port, rate);
    const restartCpu0 = procStat(site.p.pid).cpuTicks;
    // Metrics from loopback without a token (the bench site runs with --metrics-open-loopback). Same
    // data dir, same certificate: no probe, which a node busy with the returning fleet may drop.
    const anon = new SiteClient(site.url, { certPem: admin.certPem });
    let peak = 0;
    let last = 0;
    let now = await connected(anon);
    let lastAt = performance.now();
    while (now.agents < target && performance.now() - t1 < 600_000) {
      await sleep(1000);
      const polled = await connected(anon);
      if (polled.ok === false) continue; // dropped by the busy node: poll again, keep the last figures
      // Per second between the last two successful polls.
      peak = Math.max(peak, (polled.rejected - last) / ((performance.now() - lastAt) / 1000));
      last = polled.rejected;
      lastAt = performance.now();
      now = polled;
    }
    const restartAll = (performance.now() - t1) / 1000;
    // Site CPU for the whole return, per TLS handshake it served (admitted or answered 503).
    const restartCpuS = (procStat(site.p.pid).cpuTicks - restartCpu0) / CLK;
    const restartHandshakes = target + now.rejected;
    let agentsRestart = null;
    if (values['restart-agents']) {
      // The fleet itself restarts: new processes, the same saved identities, no enrollment.
      const saved = await fleet.dump();
      await fleet.stop();
      while ((await connected(anon)).agents > 0) await sleep(250);
      const t2 = performance.now();
      const again = startFleet(n, procs, { site: site.url, pin: site.pin, backoffCapMs: Number(values['backoff-cap']) }, saved);
      while ((await connected(anon)).agents < target && performance.now() - t2 < 600_000) await sleep(250);
      agentsRestart = { seconds: (performance.now() - t2) / 1000, saved: saved.length, fleet: again };
    }
    const Database = (await import('better-sqlite3')).default;
    const db = new Database(join(dir, 'data', 'site.db'), { readonly: true });
    const stored = db.prepare('SELECT count(*) AS c FROM jump_clients WHERE deleted_at IS NULL').get().c;
    db.close();
    if (agentsRestart) await agentsRestart.fleet.stop();
    else await fleet.stop();
    site.p.kill('SIGKILL');
    return { n, target, fullRefusals: beforeKill.full, dropped: beforeKill.dropped, timeouts: beforeKill.timeouts, connectAll, rss: b.rss, cpuPct, bytesPerAgentMin: ((b.bytes - a.bytes) / target) * (60 / steadyS), restartAll, restartCpuS, restartHandshakes, peakRetries: peak, missing: target - now.agents, stored, agentsRestart };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Fills a new store in `dataDir` with `n` jump clients of `mode` through the store's own enroll (the
 * same transaction agents use), each with statistics, and an admin whose password is
 * 'benchmark password'. Returns when the store is closed; start the site on `dataDir` after.
 */
async function seedStore(dataDir, n, mode) {
  const { SqliteStore } = await import('../../dist/site/store/sqlite.js');
  const { mkdirSync } = await import('node:fs');
  mkdirSync(dataDir, { recursive: true });
  const store = new SqliteStore(join(dataDir, 'site.db'));
  const u = await store.createUser({ name: 'admin', role: 'admin', passwordHash: 'x', viewPersonalGroups: false, now: Date.now() });
  const g = await store.getGroupByName('user:admin');
  await store.createInstaller({ uid: 'seed', name: null, keyHash: 'seed', createdAt: 0, expiresAt: Date.now() + 3_600_000, maxUses: null, uses: 0, revokedAt: null, jumpGroupId: g.id, tag: '', comments: '', mode, allowOverride: [], createdBy: u.id });
  for (let i = 0; i < n; i++) {
    const { client } = await store.enroll({ keyHash: 'seed', publicKey: `k${i}`, machineId: `m${i}`, name: null, jumpGroupId: g.id, tag: `tag-${i % 50}`, comments: `rack ${i % 400}`, now: Date.now(), mode, limits: { maxTotal: null, maxActive: null }, checkInstaller: () => null });
    await store.updateStats(client.id, { hostname: `host-${i}`, private_ips: [`10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`], console_user: `user${i % 1000}`, domain: 'corp.test', workgroup: null }, true);
  }
  await store.close();
  const { hashPassword } = await import('../../dist/site/auth.js');
  const Database = (await import('better-sqlite3')).default;
  const db = new Database(join(dataDir, 'site.db'));
  db.prepare('UPDATE users SET password_hash = ? WHERE name = ?').run(await hashPassword('benchmark password'), 'admin');
  db.close();
}

async function p7(n, queries) {
  const dir = mkdtempSync(join(tmpdir(), 'jump-p7-'));
  try {
    await seedStore(join(dir, 'data'), n, 'active');
    const site = await startSite(join(dir, 'data'), 0, 50);
    const admin = await api(site.url, 'admin', 'benchmark password');
    const cases = {
      'list all': '',
      'search all fields (hit)': 'search=host-4242',
      'search one field: name': 'search=host-4242&fields=name',
      'search all fields (miss)': 'search=no-such-thing',
      'filter tag': 'tag=tag-7',
    };
    const rows = [];
    for (const [name, q] of Object.entries(cases)) {
      const t = [];
      let count = 0;
      for (let i = 0; i < queries; i++) {
        const s = performance.now();
        const r = await admin.request('GET', `/api/v1/jump-clients${q ? '?' + q : ''}`);
        t.push(performance.now() - s);
        count = r.items.length;
      }
      t.sort((a, b) => a - b);
      rows.push({ name, count, p50: t[Math.floor(t.length / 2)], p99: t[Math.min(t.length - 1, Math.floor(t.length * 0.99))] });
    }
    site.p.kill('SIGKILL');
    return rows;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}


async function p8(n, procs, rate, intervalS, steadyS, stored) {
  const dir = mkdtempSync(join(tmpdir(), 'jump-fleet-'));
  try {
    // --stored S: the store holds S passive jump clients in all, n of them simulated; the other
    // S - n are rows only (enrolled, never checking in here), so the site's sweeps, listings and
    // summary run against a store of the full fleet's size.
    const extra = Math.max(0, stored - n);
    if (extra > 0) await seedStore(join(dir, 'data'), extra, 'passive');
    const site = await startSite(join(dir, 'data'), 0, rate);
    const admin = extra > 0 ? await api(site.url, 'admin', 'benchmark password') : await api(site.url, 'admin', site.password, 'benchmark admin password');
    await admin.request('PUT', '/api/v1/settings/jump-clients.passive-interval', { value: `${intervalS}s` });
    const inst = await admin.request('POST', '/api/v1/installers', { valid_for_ms: 3_600_000, max_uses: 1_000_000, mode: 'passive' });
    const t0 = performance.now();
    const fleet = startFleet(n, procs, { site: site.url, pin: site.pin, keyInfo: inst.key_info, backoffCapMs: Number(values['backoff-cap']) });
    const deadline = t0 + Number(values.deadline) * 1000;
    while (fleet.enrolled() < n && performance.now() < deadline) await sleep(200);
    const enrolledS = (performance.now() - t0) / 1000;
    const enrolled = fleet.enrolled();
    // One interval to settle into the check-in rhythm, then the steady window.
    await sleep(intervalS * 1000);
    fleet.resetLatencies();
    const metric = async (re) => Number(re.exec(await admin.requestText('GET', '/metrics'))?.[1] ?? 0);
    const connectsRe = /^jump_site_agent_connects_total (\d+)/m;
    const busyRe = /^jump_site_agent_admission_rejected_total\{reason="rate"\} (\d+)/m;
    const c0 = await metric(connectsRe);
    const b0 = await metric(busyRe);
    const s0 = procStat(site.p.pid);
    const w0 = performance.now();
    let peakRss = 0;
    while (performance.now() - w0 < steadyS * 1000) {
      await sleep(1000);
      peakRss = Math.max(peakRss, procStat(site.p.pid).rss);
    }
    const secs = (performance.now() - w0) / 1000;
    const s1 = procStat(site.p.pid);
    const checkIns = (await metric(connectsRe)) - c0;
    const busy = (await metric(busyRe)) - b0;
    const lat = (await fleet.latencies()).sort((a, b) => a - b);
    const pct = (q) => (lat.length ? lat[Math.min(lat.length - 1, Math.floor(q * lat.length))] : NaN);
    const summary = (await admin.request('GET', '/api/v1/jump-clients?limit=1')).summary;
    await fleet.stop();
    site.p.kill('SIGKILL');
    return {
      n, enrolled, enrolledS, intervalS, rate,
      offered: n / intervalS,
      perSec: checkIns / secs,
      busyPerSec: busy / secs,
      cpuPct: ((s1.cpuTicks - s0.cpuTicks) / CLK / secs) * 100,
      rss: peakRss,
      p50: pct(0.5),
      p99: pct(0.99),
      samples: lat.length,
      passive: summary.passive,
      total: summary.jump_clients ?? summary.total,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

console.log(`Machine: ${cpus().length} × ${cpus()[0].model}, ${Math.round(totalmem() / 2 ** 30)} GiB; Node ${process.version}; ${new Date().toISOString().slice(0, 10)}`);
const ns = values.n.split(',').map(Number);
if (positionals[0] === 'p1p2') {
  console.log(`\n| N | connect all (s) | site RSS (MiB) | RSS per agent (KiB) | site CPU, steady (%) | bytes per agent per min | restart: all back (s) | peak 503/s | never back | stored clients | restart: site CPU (s) | site CPU per handshake (ms) |\n| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |`);
  for (const n of ns) {
    const r = await p1p2(n, Number(values.procs), Number(values.rate), Number(values.steady));
    if (r.broke) {
      console.log(`| ${n} | ${r.broke} | | | | | | | | |`);
      continue;
    }
    if (r.target < r.n) console.log(`|   ${r.n} started, the node holds ${r.target} (its capacity); the rest were refused "full" ${r.fullRefusals} times, ${r.dropped} connections dropped before TLS | | | | | | | | | |`);
    if (r.timeouts > 0) console.log(`|   ${r.timeouts} admitted handshakes timed out (HANDSHAKE_TIMEOUT) while the fleet connected | | | | | | | | | |`);
    console.log(`| ${r.target} | ${r.connectAll.toFixed(1)} | ${(r.rss / 2 ** 20).toFixed(0)} | ${(r.rss / 1024 / r.target).toFixed(1)} | ${r.cpuPct.toFixed(1)} | ${r.bytesPerAgentMin.toFixed(0)} | ${r.restartAll.toFixed(1)} | ${Math.round(r.peakRetries)} | ${r.missing} | ${r.stored} | ${r.restartCpuS.toFixed(1)} | ${((r.restartCpuS * 1000) / r.restartHandshakes).toFixed(2)} |`);
    if (r.agentsRestart) console.log(`|   agents restarted from ${r.agentsRestart.saved} saved identities: all connected in ${r.agentsRestart.seconds.toFixed(1)} s | | | | | | | | | |`);
  }
} else if (positionals[0] === 'p7') {
  for (const n of ns) {
    const rows = await p7(n, Number(values.queries));
    console.log(`\n| ${n} jump clients, ${values.queries} requests each | results | p50 ms | p99 ms |\n| --- | ---: | ---: | ---: |`);
    for (const r of rows) console.log(`| ${r.name} | ${r.count} | ${r.p50.toFixed(0)} | ${r.p99.toFixed(0)} |`);
  }
} else if (positionals[0] === 'p8') {
  console.log(`\n| passive clients | interval (s) | admission rate (/s) | offered check-ins/s | enrolled in (s) | check-ins/s, steady | SITE_BUSY/s | site CPU (%) | site RSS (MiB) | dial to welcome p50 (ms) | p99 (ms) | samples | listed passive |\n| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |`);
  for (const n of ns) {
    const r = await p8(n, Number(values.procs), Number(values.rate), Number(values.interval), Number(values.steady), Number(values.stored ?? 0));
    console.log(`| ${r.enrolled}/${r.n} | ${r.intervalS} | ${r.rate} | ${r.offered.toFixed(0)} | ${r.enrolledS.toFixed(0)} | ${r.perSec.toFixed(1)} | ${r.busyPerSec.toFixed(1)} | ${r.cpuPct.toFixed(0)} | ${(r.rss / 2 ** 20).toFixed(0)} | ${r.p50.toFixed(0)} | ${r.p99.toFixed(0)} | ${r.samples} | ${r.passive} |`);
  }
} else {
  console.error('usage: fleet.mjs p1p2|p7|p8 --n N[,N...]');
  process.exit(2);
}
process.exit(0);
