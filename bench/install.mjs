#!/usr/bin/env node
/**
 * The headless Linux install, measured (issue #3; results in docs/benchmarks.md):
 *   - time from `sh ./bomgar-scc-<uid>.bin ...` (then `init-script start`) to the jump client
 *     being online in `jump clients --json` (goal ≤ 3 s);
 *   - the size of the .bin;
 *   - idle RSS and CPU of the installed agent against a bare `node` process doing nothing
 *     (goal ≤ +25 MB, ≤ 0.1 % CPU).
 *
 *   npm run build && node bench/install.mjs [--runs 5] [--settle-seconds 30] [--idle-seconds 120]   (as root: uses useradd)
 */
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const root = join(fileURLToPath(import.meta.url), '..', '..');
const { values: args } = parseArgs({
  options: { runs: { type: 'string', default: '5' }, 'idle-seconds': { type: 'string', default: '120' }, 'settle-seconds': { type: 'string', default: '30' } },
});
const settleSeconds = Number(args['settle-seconds']);
const runs = Number(args.runs);
const idleSeconds = Number(args['idle-seconds']);
if (process.getuid() !== 0) {
  console.error('run as root (the benchmark creates a user with useradd)');
  process.exit(2);
}

const work = mkdtempSync(join(tmpdir(), 'jump-bench-install-'));
const env = { ...process.env, JUMP_CONFIG_DIR: join(work, 'console') };
const jump = (...a) => execFileSync(process.execPath, [join(root, 'dist/console/main.js'), ...a], { env, encoding: 'utf8', stdio: ['pipe', 'pipe', 'pipe'] });
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

execFileSync(process.execPath, [join(root, 'packaging/build.mjs'), '--quiet']);
const site = spawn(process.execPath, [join(root, 'dist/site/main.js'), 'serve', '--data', join(work, 'data'), '--listen', '127.0.0.1:0', '--log-level', 'warn'], { stdio: ['ignore', 'ignore', 'pipe'] });
let banner = '';
site.stderr.on('data', (d) => (banner += d));
while (!/password in (\S+)/.test(banner)) await sleep(50);
const url = /listening on (\S+)/.exec(banner)[1];
// The bootstrap password is in a 0600 file and must be changed at first login.
const bootstrap = readFileSync(/password in (\S+)/.exec(banner)[1], 'utf8').trim();
const password = 'benchmark admin password';
execFileSync(process.execPath, [join(root, 'dist/console/main.js'), 'login', '--site', url, '--user', 'admin', '--password-stdin'], { env, input: bootstrap, stdio: ['pipe', 'ignore', 'ignore'] });
execFileSync(process.execPath, [join(root, 'dist/console/main.js'), 'passwd', '--password-stdin'], { env, input: `${bootstrap}\n${password}\n`, stdio: ['pipe', 'ignore', 'ignore'] });
execFileSync(process.execPath, [join(root, 'dist/console/main.js'), 'login', '--site', url, '--user', 'admin', '--password-stdin'], { env, input: password, stdio: ['pipe', 'ignore', 'ignore'] });
jump('groups', 'create', 'Linux Admins');
const created = JSON.parse(jump('installer', 'create', '--jump-group', 'Linux Admins', '--platform', 'linux-x64', '--out', work, '--json'));
const user = `jcbench${process.pid}`;
execFileSync('useradd', ['-m', '-s', '/bin/sh', user]);

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const online = (tag) => JSON.parse(jump('clients', 'list', '--json')).items.some((c) => c.tag === tag && c.status === 'online');

/** CPU seconds (utime + stime) and RSS in bytes of `pid`, from /proc. */
function usage(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(fields[11]) + Number(fields[12]);
  const rss = Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))[1]) * 1024;
  return { cpuS: ticks / 100, rss };
}

async function idle(pid, seconds) {
  await sleep(settleSeconds * 1000); // past start-up work and the first statistics round
  const a = usage(pid);
  const t0 = Date.now();
  await sleep(seconds * 1000);
  const b = usage(pid);
  return { rssMiB: b.rss / 2 ** 20, cpuPct: ((b.cpuS - a.cpuS) / ((Date.now() - t0) / 1000)) * 100 };
}

try {
  const times = [];
  let lastDir = null;
  for (let i = 0; i < runs; i++) {
    const dir = join(`/home/${user}`, `jc${i}`);
    const tag = `bench-${i}`;
    const t0 = performance.now();
    execFileSync('sh', [created.file, '--install-dir', dir, '--user', user, '--jc-tag', tag, '--silent']);
    execFileSync(join(dir, 'init-script'), ['start'], { stdio: 'ignore' });
    while (!online(tag)) await sleep(20);
    times.push(performance.now() - t0);
    if (lastDir) execFileSync(join(lastDir, 'uninstall'), { stdio: 'ignore' });
    lastDir = dir;
  }
  const pid = Number(readFileSync(join(lastDir, 'jump-client.pid'), 'utf8'));
  const bare = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1 << 30)'], { stdio: 'ignore' });
  const [agentIdle, bareIdle] = await Promise.all([idle(pid, idleSeconds), idle(bare.pid, idleSeconds)]);
  bare.kill();
  execFileSync(join(lastDir, 'uninstall'), { stdio: 'ignore' });
  const out = {
    runs,
    install_to_online_ms: { median: Math.round(median(times)), min: Math.round(Math.min(...times)), max: Math.round(Math.max(...times)) },
    bin_bytes: statSync(created.file).size,
    settle_seconds: settleSeconds,
    idle_seconds: idleSeconds,
    agent: { rss_mib: +agentIdle.rssMiB.toFixed(1), cpu_pct: +agentIdle.cpuPct.toFixed(3) },
    bare_node: { rss_mib: +bareIdle.rssMiB.toFixed(1), cpu_pct: +bareIdle.cpuPct.toFixed(3) },
  };
  console.log(JSON.stringify(out, null, 2));
} finally {
  site.kill();
  for (const [cmd, a] of [['pkill', ['-KILL', '-u', user]], ['userdel', ['-r', user]]]) {
    try {
      execFileSync(cmd, a, { stdio: 'ignore' });
    } catch {
      /* nothing to kill */
    }
  }
  rmSync(work, { recursive: true, force: true });
}
