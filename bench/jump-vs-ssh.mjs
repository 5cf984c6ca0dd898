#!/usr/bin/env node
/**
 * Jump against plain OpenSSH on the same machine (issue: Jump benchmarks).
 *
 *   node bench/jump-vs-ssh.mjs [--runs 20] [--size-mib 1024] [--scp-runs 2]
 *
 * Needs a build (npm run build), Debian's openssh-server and openssh-client, and root (sshd).
 * Starts, in a temporary directory: a site on 127.0.0.1, one jump client (`jump-client run`), and
 * a throwaway sshd on 127.0.0.1:2222 with its own host key and an authorized key. Then:
 *   - latency: `jump jump ID -- true`, `ssh -F <jump ssh_config> jump-ID true` and
 *     `ssh localhost true` (direct sshd), interleaved, `--runs` times each; medians and p90.
 *   - throughput: scp of a `--size-mib` file through the jump client and straight to sshd,
 *     interleaved, `--scp-runs` times each; MiB/s.
 * Prints a Markdown table for docs/benchmarks.md. Everything it starts is stopped at the end.
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync, readFileSync, existsSync, statSync } from 'node:fs';
import { tmpdir, cpus, totalmem } from 'node:os';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: { runs: { type: 'string', default: '20' }, 'size-mib': { type: 'string', default: '1024' }, 'scp-runs': { type: 'string', default: '2' } },
});
const RUNS = Number(values.runs);
const SIZE_MIB = Number(values['size-mib']);
const SCP_RUNS = Number(values['scp-runs']);
const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const node = process.execPath;
const bin = (p) => join(ROOT, 'dist', p, 'main.js');
const dir = mkdtempSync(join(tmpdir(), 'jump-bench-'));
const children = [];
const env = { ...process.env, JUMP_CONFIG_DIR: join(dir, 'console') };

function cleanup() {
  for (const c of children) c.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
}
process.on('exit', cleanup);

function sh(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { env, encoding: 'utf8', ...opts });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status}): ${r.stderr}`);
  return r.stdout;
}

async function waitFor(fn, ms = 20_000) {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 100));
  }
}

// ---- site, login, agent ----
const site = spawn(node, [bin('site'), 'serve', '--data', join(dir, 'data'), '--listen', '127.0.0.1:0', '--log-level', 'warn'], { env });
children.push(site);
let banner = '';
site.stderr.on('data', (d) => (banner += d));
await waitFor(() => /TLS fingerprint/.test(banner));
const url = /listening on (\S+)/.exec(banner)[1];
// The bootstrap password is in a 0600 file and must be changed at first login.
const bootstrap = readFileSync(/password in (\S+)/.exec(banner)[1], 'utf8').trim();
const password = 'benchmark admin password';
sh(node, [bin('console'), 'login', '--site', url, '--password-stdin'], { input: bootstrap });
sh(node, [bin('console'), 'passwd', '--password-stdin'], { input: `${bootstrap}\n${password}\n` });
sh(node, [bin('console'), 'login', '--site', url, '--password-stdin'], { input: password });
const inst = JSON.parse(sh(node, [bin('console'), 'installer', 'create', '--json']));
const agent = spawn(node, [bin('agent'), 'run', '--config', join(dir, 'agent'), '--site', url, '--key-info', inst.key_info, '--site-pin', inst.site_pin], { env });
children.push(agent);
const client = await waitFor(() => JSON.parse(sh(node, [bin('console'), 'clients', '--json'])).items.find((c) => c.status === 'online'));
sh(node, [bin('console'), 'ssh-config', '--write']);
const jumpConfig = join(dir, 'console', 'ssh_config');

// ---- a throwaway sshd ----
const sshdDir = join(dir, 'sshd');
sh('mkdir', ['-p', sshdDir]);
sh('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(sshdDir, 'host_key')]);
sh('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(sshdDir, 'user_key')]);
writeFileSync(join(sshdDir, 'authorized_keys'), readFileSync(join(sshdDir, 'user_key.pub')));
writeFileSync(
  join(sshdDir, 'sshd_config'),
  [
    'Port 2222',
    'ListenAddress 127.0.0.1',
    `HostKey ${join(sshdDir, 'host_key')}`,
    `AuthorizedKeysFile ${join(sshdDir, 'authorized_keys')}`,
    'PermitRootLogin prohibit-password',
    'PasswordAuthentication no',
    'StrictModes no',
    'UsePAM no',
    'Subsystem sftp /usr/lib/openssh/sftp-server',
    `PidFile ${join(sshdDir, 'sshd.pid')}`,
  ].join('\n') + '\n',
);
sh('mkdir', ['-p', '/run/sshd']);
const sshd = spawn('/usr/sbin/sshd', ['-D', '-e', '-f', join(sshdDir, 'sshd_config')], { env });
children.push(sshd);
writeFileSync(join(sshdDir, 'known_hosts'), `[127.0.0.1]:2222 ${readFileSync(join(sshdDir, 'host_key.pub'), 'utf8').split(' ').slice(0, 2).join(' ')}\n`);
const direct = ['-p', '2222', '-i', join(sshdDir, 'user_key'), '-o', `UserKnownHostsFile=${join(sshdDir, 'known_hosts')}`, '-o', 'StrictHostKeyChecking=yes', '-o', 'IdentitiesOnly=yes'];
await waitFor(() => spawnSync('ssh', [...direct, 'root@127.0.0.1', 'true']).status === 0);

// ---- latency ----
const variants = {
  'jump jump ID -- true': () => spawnSync(node, [bin('console'), 'jump', String(client.id), '--', 'true'], { env }),
  'ssh (OpenSSH via jump proxy) true': () => spawnSync('ssh', ['-F', jumpConfig, `jump-${client.id}`, 'true'], { env }),
  'ssh localhost true (direct sshd)': () => spawnSync('ssh', [...direct, 'root@127.0.0.1', 'true'], { env }),
};
/**
 * Runs each variant `runs` times, interleaved (A, B, C, A, B, C, ...) so drift affects all alike.
 * Returns each variant's durations in ms; throws when a run exits non-zero.
 */
function interleaved(vs, runs) {
  const out = Object.fromEntries(Object.keys(vs).map((k) => [k, []]));
  for (let i = 0; i < runs; i++) {
    for (const [name, run] of Object.entries(vs)) {
      const t = performance.now();
      const r = run();
      if (r.status !== 0) throw new Error(`${name}: exit ${r.status} ${r.stderr}`);
      out[name].push(performance.now() - t);
    }
  }
  return out;
}
const times = interleaved(variants, RUNS);
const q = (a, p) => [...a].sort((x, y) => x - y)[Math.min(a.length - 1, Math.floor(p * a.length))];
const base = q(times['ssh localhost true (direct sshd)'], 0.5);

// ---- throughput ----
const file = join(dir, 'payload.bin');
execFileSync('sh', ['-c', `head -c ${SIZE_MIB}M /dev/urandom > '${file}'`]);
const bytes = statSync(file).size;
const scp = {
  'scp via jump': () => spawnSync('scp', ['-F', jumpConfig, file, `jump-${client.id}:${join(dir, 'out-jump.bin')}`], { env }),
  'scp direct to sshd': () => spawnSync('scp', ['-P', '2222', ...direct.slice(2), file, `root@127.0.0.1:${join(dir, 'out-direct.bin')}`], { env }),
};
const rates = Object.fromEntries(Object.entries(interleaved(scp, SCP_RUNS)).map(([k, ms]) => [k, ms.map((t) => bytes / 1048576 / (t / 1000))]));
const med = (a) => q(a, 0.5);

console.log(`Machine: ${cpus().length} × ${cpus()[0].model}, ${Math.round(totalmem() / 2 ** 30)} GiB; Node ${process.version}; ${new Date().toISOString().slice(0, 10)}`);
console.log(`\n| latency, ${RUNS} interleaved runs | median ms | p90 ms | × direct ssh |\n| --- | ---: | ---: | ---: |`);
for (const [name, a] of Object.entries(times)) console.log(`| ${name} | ${q(a, 0.5).toFixed(0)} | ${q(a, 0.9).toFixed(0)} | ${(q(a, 0.5) / base).toFixed(2)} |`);
console.log(`\n| throughput, ${SIZE_MIB} MiB, ${SCP_RUNS} interleaved runs | median MiB/s | × direct scp |\n| --- | ---: | ---: |`);
for (const [name, a] of Object.entries(rates)) console.log(`| ${name} | ${med(a).toFixed(1)} | ${(med(a) / med(rates['scp direct to sshd'])).toFixed(2)} |`);
process.exit(0);
