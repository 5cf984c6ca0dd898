#!/usr/bin/env node
/**
 * Self-update benchmark (issue #17; results in docs/benchmarks.md):
 *
 *   node bench/updates/updates.mjs [--n 1000] [--max-concurrent 100] [--bandwidth 100] [--size-mib 2] [--rate 200]
 *
 * A fresh site (temp data dir, 127.0.0.1) with updates.max-concurrent and updates.max-bandwidth
 * (MiB/s) set; N simulated agents (hand-driven, in this process: the real handshake with version
 * A and platform linux-x64) enroll at RATE per second and stay connected. Then a fake build B of
 * SIZE MiB is imported beside the running site (`jump-site builds import`), as an operator would:
 * the site offers it to the connected agents within its policy, the others are told to come back
 * later (30-90 s, honoured). Each agent downloads its offer, checks size, sha256 and the signature
 * against the welcome's update_pin, closes, and connects again as version B. Measured from the
 * import: the time until all N report B, the peak of the site's in-flight gauge (sampled every
 * 250 ms from /metrics), the site's CPU (from /proc, over the whole update) and peak RSS.
 *
 * Needs `npm run build`. Prints a Markdown table.
 */
import { spawn, execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { request as httpsRequest } from 'node:https';
import WebSocket from 'ws';
import { SiteClient, probeCertificate } from '../../dist/console/http.js';
import { channelBinding, newEd25519Key, newNonce, parseSitePin, rawPublicKey, signAsAgent, verifySite } from '../../dist/protocol/handshake.js';
import { AGENT_UPDATE_WS_PATH, UPDATE_ATTACH_HEADERS, verifyBuild } from '../../dist/protocol/update.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const SITE = join(ROOT, 'dist/site/main.js');
const { values: o } = parseArgs({
  options: {
    n: { type: 'string', default: '1000' },
    'max-concurrent': { type: 'string', default: '100' },
    bandwidth: { type: 'string', default: '100' },
    'size-mib': { type: 'string', default: '2' },
    rate: { type: 'string', default: '200' },
  },
});
const N = Number(o.n);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const VERSION_A = '0.1.0+aaaaaaaaaaaa';
const VERSION_B = '0.1.1+bbbbbbbbbbbb';

const dir = mkdtempSync(join(tmpdir(), 'jump-bench-upd-'));
const data = join(dir, 'data');
const site = spawn(process.execPath, [SITE, 'serve', '--data', data, '--listen', '127.0.0.1:0', '--admission-rate', '1000', '--max-tls-handshakes', '1024', '--max-tls-handshakes-per-address', '1024', '--metrics-open-loopback', '--log-level', 'warn'], {
  stdio: ['ignore', 'ignore', 'pipe'],
});
let err = '';
site.stderr.on('data', (d) => (err += d));
process.on('exit', () => {
  site.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});
while (!/TLS fingerprint/.test(err)) {
  if (site.exitCode !== null) throw new Error(err);
  await sleep(50);
}
const url = /listening on (\S+)/.exec(err)[1];
const sitePin = /Site pin:\s+(\S+)/.exec(err)[1];
const { certPem } = await probeCertificate(url);
const anon = new SiteClient(url, { certPem });
const boot = readFileSync(/password in (\S+)/.exec(err)[1], 'utf8').trim();
let { token } = await anon.request('POST', '/api/v1/login', { user: 'admin', password: boot });
await new SiteClient(url, { certPem, token }).request('POST', '/api/v1/me/password', { current_password: boot, new_password: 'bench admin password' });
({ token } = await anon.request('POST', '/api/v1/login', { user: 'admin', password: 'bench admin password' }));
const api = new SiteClient(url, { certPem, token });
const inst = await api.request('POST', '/api/v1/installers', { max_uses: N + 10, valid_for_ms: 86_400_000 });
await api.request('PUT', '/api/v1/settings/updates.max-concurrent', { value: o['max-concurrent'] });
await api.request('PUT', '/api/v1/settings/updates.max-bandwidth', { value: o.bandwidth });

function getText(path) {
  return new Promise((res, rej) => {
    const r = httpsRequest(url + path, { rejectUnauthorized: false }, (x) => {
      let b = '';
      x.setEncoding('utf8');
      x.on('data', (d) => (b += d));
      x.on('end', () => res(b));
    });
    r.on('error', rej);
    r.end();
  });
}
const gauge = (text, name) => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1] ?? 0);
function cpuSeconds(pid) {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(f[11]) + Number(f[12])) / 100;
}
const rssMiB = (pid) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))[1]) / 1024;

/** One simulated agent's control connection; resolves once welcomed. */
function connect(a, version) {
  return new Promise((resolveConn, reject) => {
    const ws = new WebSocket(url.replace(/^https/, 'wss') + '/agent/v1', { rejectUnauthorized: false });
    let cb = null;
    const nonce = newNonce();
    ws.on('upgrade', (res) => (cb = channelBinding(res.socket)));
    ws.on('error', () => undefined);
    ws.on('unexpected-response', (_q, res) => {
      ws.terminate();
      reject(Object.assign(new Error(`upgrade ${res.statusCode}`), { retry: Number(res.headers['x-retry-after-ms'] ?? 1000) }));
    });
    // Closed before the welcome (a connection dropped before TLS by the gate, say): try again.
    ws.on('close', () => {
      if (a.ws !== ws) reject(Object.assign(new Error('closed before the welcome'), { retry: 500 + Math.random() * 1000 }));
    });
    ws.on('open', () => ws.send(JSON.stringify({ t: 'hello', protocol: 1, agent_version: version, nonce, platform: 'linux-x64' })));
    ws.on('message', (raw) => {
      const m = JSON.parse(raw.toString());
      if (m.t === 'challenge') {
        if (!verifySite(parseSitePin(sitePin), m.site_sig, cb, nonce, m.nonce)) return reject(new Error('site not verified'));
        const pub = rawPublicKey(a.key);
        if (a.id) ws.send(JSON.stringify({ t: 'auth', client_id: a.id, machine_id: a.machine, sig: signAsAgent(a.key, cb, nonce, m.nonce, String(a.id)) }));
        else ws.send(JSON.stringify({ t: 'enroll', key_info: inst.key_info, public_key: pub, machine_id: a.machine, requested: {}, sig: signAsAgent(a.key, cb, nonce, m.nonce, pub) }));
      } else if (m.t === 'welcome') {
        a.id = m.client_id;
        a.pin = m.update_pin;
        a.ws = ws;
        let seq = 0;
        const beat = setInterval(() => (ws.readyState === ws.OPEN ? ws.send(JSON.stringify({ t: 'hb', seq: seq++ })) : clearInterval(beat)), m.heartbeat_ms);
        resolveConn();
      } else if (m.t === 'update_offer') void update(a, m);
      else if (m.t === 'update_later') {
        later++;
        setTimeout(() => ws.readyState === ws.OPEN && ws.send(JSON.stringify({ t: 'update_check' })), m.retry_after_ms);
      } else if (m.t === 'error') reject(new Error(m.code));
    });
  });
}
async function connectRetry(a, version) {
  for (;;) {
    try {
      return await connect(a, version);
    } catch (e) {
      if (!e.retry) throw e;
      await sleep(e.retry);
    }
  }
}

let later = 0;
let done = 0;
let failures = 0;
let allDone;
const finished = new Promise((r) => (allDone = r));
async function update(a, offer) {
  const h = createHash('sha256');
  let size = 0;
  const code = await new Promise((res) => {
    const ws = new WebSocket(url.replace(/^https/, 'wss') + AGENT_UPDATE_WS_PATH, { rejectUnauthorized: false, headers: { [UPDATE_ATTACH_HEADERS.token]: offer.token, [UPDATE_ATTACH_HEADERS.offset]: '0' } });
    ws.on('error', () => undefined);
    ws.on('unexpected-response', (_q, r) => res(r.statusCode));
    ws.on('message', (d) => {
      h.update(d);
      size += d.length;
    });
    ws.on('close', (c) => res(c));
  });
  const ok = code === 1000 && size === offer.size && h.digest('hex') === offer.sha256 && verifyBuild(a.pin, { platform: 'linux-x64', version: offer.version, sha256: offer.sha256, size }, offer.sig);
  if (!ok) {
    failures++;
    a.ws.send(JSON.stringify({ t: 'update_check' }));
    return;
  }
  a.ws.close();
  await connectRetry(a, offer.version);
  a.doneAt = Date.now();
  if (++done === N) allDone();
}

// Enroll the fleet on version A, RATE per second.
const fleet = Array.from({ length: N }, (_, i) => ({ key: newEd25519Key(), machine: `bench-upd-${i}`, id: 0 }));
const t0 = Date.now();
const rate = Number(o.rate);
await Promise.all(
  fleet.map(async (a, i) => {
    await sleep((i / rate) * 1000);
    await connectRetry(a, VERSION_A);
  }),
);
const enrollS = (Date.now() - t0) / 1000;

// The build, imported beside the running site.
const out = join(dir, 'build');
mkdirSync(join(out, 'linux-x64'), { recursive: true });
const bytes = randomBytes(Number(o['size-mib']) * 1024 * 1024);
writeFileSync(join(out, 'linux-x64', 'jump-client'), bytes);
writeFileSync(join(out, 'linux-x64', 'build.json'), JSON.stringify({ platform: 'linux-x64', version: VERSION_B, hash: createHash('sha256').update(bytes).digest('hex') }));
const cpu0 = cpuSeconds(site.pid);
const tImport = Date.now();
execFileSync(process.execPath, [SITE, 'builds', 'import', out, '--data', data], { stdio: 'ignore' });
let peak = 0;
let rssPeak = rssMiB(site.pid);
let sampling = true;
const sampler = (async () => {
  while (sampling) {
    peak = Math.max(peak, gauge(await getText('/metrics'), 'jump_site_updates_in_flight'));
    rssPeak = Math.max(rssPeak, rssMiB(site.pid));
    await sleep(250);
  }
})();
const deadline = setTimeout(() => allDone(), 20 * 60_000);
await finished;
clearTimeout(deadline);
const seconds = (Date.now() - tImport) / 1000;
sampling = false;
await sampler;
const cpu = cpuSeconds(site.pid) - cpu0;
const times = fleet.map((a) => (a.doneAt ?? NaN) - tImport).filter(Number.isFinite).sort((x, y) => x - y);
const q = (p) => ((times[Math.min(times.length - 1, Math.floor(p * times.length))] ?? NaN) / 1000).toFixed(1);
console.log(`| agents | max-concurrent | bandwidth | build | enrolled in | all on the new version | p50 / p90 | peak in flight | update_later sent | failed downloads | site CPU (s, % of a core) | site peak RSS |`);
console.log(`| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |`);
console.log(
  `| ${done}/${N} | ${o['max-concurrent']} | ${o.bandwidth} MiB/s | ${o['size-mib']} MiB | ${enrollS.toFixed(1)} s | ${seconds.toFixed(1)} s | ${q(0.5)} s / ${q(0.9)} s | ${peak} | ${later} | ${failures} | ${cpu.toFixed(1)} s, ${((cpu / seconds) * 100).toFixed(0)} % | ${rssPeak.toFixed(0)} MiB |`,
);
process.exit(0);
