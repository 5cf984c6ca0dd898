/**
 * The site the fuzzers attack and the invariants checked around every run (docs/reliability.md
 * section 1): a real `jump-site serve` process, a normal in-process agent that must stay online
 * without reconnecting, a poller that lists the jump clients every 250 ms and must always get an
 * answer, the site's RSS before and after, and its log scanned for crashes, unhandled rejections
 * and error-level lines (a 500 or an INTERNAL_ERROR is logged at level 50).
 */
import { readFileSync } from 'node:fs';
import type { Agent } from '../../agent/agent.js';
import { createInstaller, inProcessAgent, type InstallerInfo, startTestSite, type TestSite } from '../helpers/site.js';
import { waitFor } from '../helpers/processes.js';

/**
 * Admission rate the fuzz site runs with (new agent connections per second, site-wide; the
 * default is 50): the fuzzers open a new connection per refused input and test the parsers, not
 * the admission limiter (hostile-endpoint tests cover that one).
 */
export const FUZZ_ADMISSION_RATE = 2000;

/**
 * Growth of the site's RSS allowed over a fuzz run, in bytes. The site holds at most a few frames
 * per connection (64 KiB agent messages, 256 KiB API bodies, 1 MiB session frames) for the handful
 * of connections the fuzzers keep open at once (< 20: a few MiB), SQLite's page cache (2 MiB
 * default) and a store that grows by the rows the fuzz creates (installers, groups, audit lines:
 * well under 16 MiB for 50 000 inputs). V8 lets garbage reach tens of MiB before a major GC, and
 * glibc keeps freed arenas: 96 MiB leaves room for that while a leak of even 2 KiB per input
 * (100 MiB over the long run's 50 000) is caught.
 */
export const RSS_GROWTH_MAX_BYTES = 96 * 1024 * 1024;

/** Resident set size of process `pid`, in bytes (/proc/<pid>/status VmRSS). */
export function rssBytes(pid: number): number {
  const m = /VmRSS:\s+(\d+)\s+kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!m) throw new Error(`no VmRSS for pid ${pid}`);
  return Number(m[1]) * 1024;
}

export interface FuzzHarness {
  site: TestSite;
  /** An installer that allows every override, 1 000 000 uses. */
  inst: InstallerInfo;
  /** The well-behaved agent that must stay online throughout. */
  witness: Agent;
  witnessId: number;
  /** Inputs tried, by name; printed by `report`. */
  counts: Record<string, number>;
  count(name: string, n?: number): void;
  /** Checks every invariant (throws naming the broken one) and stops the poller; returns a summary line. */
  finish(): Promise<string>;
  stop(): Promise<void>;
}

/**
 * Lines of the site's output that mean a bug: a crash, an unhandled rejection or exception, an
 * error-level (50) or fatal (60) log line.
 */
export function badLogLines(output: string): string[] {
  return output
    .split('\n')
    .filter((l) => /"level":(50|60)\b/.test(l) || /Unhandled|uncaught|UnhandledPromiseRejection|FATAL ERROR|Segmentation fault|heap out of memory/i.test(l));
}

/** Starts the fuzz site, its witness agent and its poller. */
export async function startFuzzHarness(extraArgs: string[] = []): Promise<FuzzHarness> {
  const site = await startTestSite({ extraArgs: ['--admission-rate', String(FUZZ_ADMISSION_RATE), ...extraArgs] });
  const inst = await createInstaller(site.api, { allow_override: ['name', 'jump_group', 'tag', 'comments'], max_uses: 1_000_000 });
  let online = 0;
  let offline = 0;
  const witness = inProcessAgent(inst, { localAddress: '127.0.0.1', machineId: 'fuzz-witness' });
  witness.on('online', () => online++);
  witness.on('offline', () => offline++);
  await waitFor(() => (online === 1 ? true : null), 30_000, 50, 'witness agent online');
  const witnessId = witness.clientId!;

  // The poller: GET /api/v1/jump-clients every 250 ms; every answer must come, and within 10 s.
  const poll = { ok: 0, failures: [] as string[], slowest: 0, running: true, rss: [] as number[] };
  const poller = (async () => {
    while (poll.running) {
      const t0 = Date.now();
      try {
        const r = await Promise.race([
          site.api.request<{ items: unknown[] }>('GET', '/api/v1/jump-clients'),
          new Promise<never>((_, reject) => setTimeout(() => reject(new Error('no answer within 10 s')), 10_000).unref()),
        ]);
        if (!Array.isArray(r.items)) throw new Error('no items');
        poll.ok++;
      } catch (err) {
        poll.failures.push(`${new Date().toISOString()} ${(err as Error).message}`);
      }
      poll.slowest = Math.max(poll.slowest, Date.now() - t0);
      try {
        poll.rss.push(rssBytes(site.proc.child.pid!));
      } catch {
        // the site is gone: finish() says so
      }
      await new Promise((r) => setTimeout(r, 250));
    }
  })();
  const pid = site.proc.child.pid!;
  const rssBefore = rssBytes(pid);
  const startedAt = Date.now();
  const counts: Record<string, number> = {};
  let stopped = false;

  const stop = async () => {
    if (stopped) return;
    stopped = true;
    poll.running = false;
    await poller;
    await witness.stop().catch(() => undefined);
    site.proc.child.kill('SIGTERM');
    await site.proc.exited;
  };

  return {
    site,
    inst,
    witness,
    witnessId,
    counts,
    count(name, n = 1) {
      counts[name] = (counts[name] ?? 0) + n;
    },
    async finish() {
      poll.running = false;
      await poller;
      const rssAfter = rssBytes(pid);
      const problems: string[] = [];
      if (site.proc.child.exitCode !== null || site.proc.child.signalCode !== null) problems.push(`site exited (${site.proc.child.exitCode ?? site.proc.child.signalCode})`);
      const bad = badLogLines(site.proc.stdout() + '\n' + site.proc.stderr());
      if (bad.length > 0) problems.push(`site logged ${bad.length} error line(s), first: ${bad[0].slice(0, 2000)}`);
      if (online !== 1 || offline !== 0) problems.push(`witness agent reconnected: online ${online} times, offline ${offline} times`);
      if (poll.failures.length > 0) problems.push(`GET /api/v1/jump-clients failed ${poll.failures.length} times: ${poll.failures.slice(0, 3).join('; ')}`);
      const seconds = (Date.now() - startedAt) / 1000;
      // At least one answer per 2 s of the run: the poller kept getting through.
      if (poll.ok < Math.floor(seconds / 2)) problems.push(`only ${poll.ok} answers to the poller in ${seconds.toFixed(1)} s`);
      if (rssAfter - rssBefore > RSS_GROWTH_MAX_BYTES) problems.push(`site RSS grew from ${mb(rssBefore)} to ${mb(rssAfter)} (bound ${mb(RSS_GROWTH_MAX_BYTES)})`);
      const total = Object.values(counts).reduce((a, b) => a + b, 0);
      const summary =
        `${total} inputs in ${seconds.toFixed(1)} s (${Object.entries(counts).map(([k, v]) => `${k} ${v}`).join(', ')}); ` +
        `site RSS ${mb(rssBefore)} -> ${mb(rssAfter)} (quartiles of the run ${[0.25, 0.5, 0.75].map((q) => mb(poll.rss[Math.floor(q * (poll.rss.length - 1))] ?? 0)).join(', ')}, peak ${mb(Math.max(0, ...poll.rss))}); poller ${poll.ok} answers, slowest ${poll.slowest} ms; witness online throughout`;
      console.log(`[fuzz] ${summary}`);
      if (problems.length > 0) throw new Error(`fuzz invariants broken:\n- ${problems.join('\n- ')}\n(${summary})`);
      return summary;
    },
    stop,
  };
}

function mb(n: number): string {
  return `${(n / 1024 / 1024).toFixed(1)} MiB`;
}
