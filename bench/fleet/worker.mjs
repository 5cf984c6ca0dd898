/**
 * One fleet-simulator process: runs many agents with the real connection code (dist/agent/agent.js:
 * enrollment, authentication, heartbeat, statistics, reconnect), each from a saved identity or a
 * new enrollment, each with its own loopback source address. Talks to its parent over IPC:
 *   parent -> { identities: [...], site, pin, keyInfo?, enroll?: n, firstIndex }
 *   worker -> { online, enrolled?: [identity...] } every second, and once on exit
 *   parent -> 'reset' (forget the check-in latencies so far), 'latencies' -> worker { latencies: [ms...] }:
 *   the time from each connection attempt's start to its welcome (the last 20 000)
 */
import { createPrivateKey } from 'node:crypto';
import { pino } from 'pino';
import { Agent } from '../../dist/agent/agent.js';
import { newEd25519Key, parseSitePin } from '../../dist/protocol/handshake.js';

// Only refusals that stop an agent are logged (to stderr), with the code, so a run that stalls says why.
const log = pino({ level: 'error', base: { worker: process.pid } }, pino.destination(2));
const STATS = {
  hostname: 'sim', fqdn: 'sim.fleet.test', os_name: 'Debian GNU/Linux', os_version: '12', platform: 'linux', arch: 'x64',
  private_ips: ['10.0.0.1'], console_user: null, domain: 'fleet.test', workgroup: null, cpu_model: 'Simulated CPU', cpu_cores: 2,
  cpu_load_pct: 5, mem_total_bytes: 1 << 30, mem_used_bytes: 1 << 29, disk_total_bytes: 1 << 30, disk_used_bytes: 1 << 28,
  boot_time: 1_700_000_000_000, agent_version: '0.1.0',
};

/** Agent i gets 127.<1 + i / 62500 % 250>.<i / 250 % 250>.<2 + i % 250>: 250 source ports ranges per address. */
function sourceAddress(i) {
  return `127.${1 + (Math.floor(i / 62500) % 250)}.${Math.floor(i / 250) % 250}.${2 + (i % 250)}`;
}

process.once('message', (job) => {
  const agents = [];
  const enrolled = [];
  let online = 0;
  let connects = 0;
  let latencies = [];
  const make = (identity, index) => {
    const a = new Agent({
      identity: {
        siteUrl: job.site,
        sitePin: job.pin,
        sitePublicKey: parseSitePin(job.pin),
        privateKey: identity ? createPrivateKey(identity.key) : newEd25519Key(),
        clientId: identity?.clientId ?? null,
        keyInfo: identity ? null : job.keyInfo,
        requested: {},
        machineId: identity?.machineId ?? `sim-${job.firstIndex + index}`,
      },
      stats: async () => ({ ...STATS, hostname: `sim-${job.firstIndex + index}` }),
      log,
      backoff: { baseMs: job.backoffBaseMs ?? 1000, capMs: job.backoffCapMs ?? 30_000 },
      localAddress: sourceAddress(job.firstIndex + index),
      onEnrolled: () => undefined,
    });
    a.on('connecting', () => (a.attemptAt = performance.now()));
    a.on('online', (clientId) => {
      online++;
      connects++;
      if (a.attemptAt !== undefined) {
        latencies.push(performance.now() - a.attemptAt);
        if (latencies.length > 20_000) latencies = latencies.slice(-10_000);
      }
      if (identity) {
        if (!enrolled.includes(identity)) enrolled.push(identity);
      } else if (enrolled.length < job.enroll && !a.saved) {
        a.saved = true;
        const pem = a.identityKeyPem();
        enrolled.push({ clientId, key: pem, machineId: `sim-${job.firstIndex + index}` });
      }
    });
    a.on('offline', () => online--);
    void a.start();
    agents.push(a);
  };
  if (job.enroll) for (let i = 0; i < job.enroll; i++) make(null, i);
  else job.identities.forEach((id, i) => make(id, i));
  const report = () => process.send?.({ online, enrolled: enrolled.length, connects });
  const timer = setInterval(report, 1000);
  process.on('message', async (m) => {
    if (m === 'dump') process.send?.({ identities: enrolled });
    if (m === 'reset') latencies = [];
    if (m === 'latencies') process.send?.({ latencies });
    if (m === 'stop') {
      clearInterval(timer);
      await Promise.all(agents.map((a) => a.stop()));
      process.exit(0);
    }
  });
});
