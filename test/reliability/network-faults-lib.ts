/**
 * Shared pieces of the network-fault suites (docs/reliability.md section 3):
 * test/reliability/network-faults.test.ts (bounded) and test/long/network-faults.test.ts (a long
 * randomized fault schedule). In-process agents (the real Agent class) dial a real site through a
 * fault proxy (test/helpers/fault-proxy.ts); their log lines are captured to time detections.
 */
import { readdirSync } from 'node:fs';
import type { KeyObject } from 'node:crypto';
import { pino, type Logger } from 'pino';
import type { Agent } from '../../agent/agent.js';
import type { SiteClient } from '../../console/http.js';
import { newEd25519Key, rawPublicKey } from '../../protocol/handshake.js';
import type { FaultProxy } from '../helpers/fault-proxy.js';
import { waitFor } from '../helpers/processes.js';
import { fixtureStats, inProcessAgent, type InstallerInfo } from '../helpers/site.js';

/** The site's heartbeat interval in these suites, in ms (`--heartbeat 1s`). */
export const HB_MS = 1000;

/** One pino line as the agent logged it (`time` in ms since the epoch). */
export interface LogLine {
  time: number;
  level: number;
  msg: string;
  [k: string]: unknown;
}

/** A debug-level pino logger whose lines land in `lines`. */
export function captureLog(): { log: Logger; lines: LogLine[] } {
  const lines: LogLine[] = [];
  const log = pino({ level: 'debug' }, { write: (s: string) => void lines.push(JSON.parse(s) as LogLine) });
  return { log, lines };
}

export interface ProxiedAgent {
  agent: Agent;
  key: KeyObject;
  publicKey: string;
  lines: LogLine[];
  /** Times (ms) of each `online` event. */
  onlineAt: number[];
  /** Times (ms) of each `offline` event (a connection that had reached `welcome` ended). */
  offlineAt: number[];
  /** True while the agent holds a welcomed connection. */
  connected(): boolean;
}

/**
 * Starts an in-process agent that enrolls with `inst` through `proxy`. `backoff` as in
 * AgentOptions (ms); `random` is its jitter source (default Math.random).
 */
export function proxiedAgent(
  inst: InstallerInfo,
  proxy: FaultProxy,
  backoff: { baseMs: number; capMs: number; random?: () => number } = { baseMs: 100, capMs: 500 },
): ProxiedAgent {
  const key = newEd25519Key();
  const { log, lines } = captureLog();
  const agent = inProcessAgent(inst, {
    siteUrl: proxy.url,
    privateKey: key,
    machineId: `faults-${rawPublicKey(key).slice(0, 12)}`,
    stats: async () => fixtureStats({ hostname: 'faults' }),
    log,
    backoff,
  });
  const p: ProxiedAgent = {
    agent,
    key,
    publicKey: rawPublicKey(key),
    lines,
    onlineAt: [],
    offlineAt: [],
    connected: () => p.onlineAt.length > p.offlineAt.length,
  };
  agent.on('online', () => p.onlineAt.push(Date.now()));
  agent.on('offline', () => p.offlineAt.push(Date.now()));
  return p;
}

/** The backoff ceilings of attempts 0..n-1 (agent/backoff.ts): min(cap, base * 2^n), in ms. */
export function backoffCeilings(baseMs: number, capMs: number, n: number): number[] {
  return Array.from({ length: n }, (_, i) => Math.min(capMs, baseMs * 2 ** i));
}

/** Gaps between consecutive times, in ms. */
export function gaps(times: number[]): number[] {
  return times.slice(1).map((t, i) => t - times[i]);
}

/** Open file descriptors of a process (Linux /proc), or -1 when unreadable. */
export function fdCount(pid: number): number {
  try {
    return readdirSync(`/proc/${pid}/fd`).length;
  } catch {
    return -1;
  }
}

/** The site's connection gauges from /metrics (admin token). */
export async function siteGauges(api: SiteClient): Promise<{ connected: number; tlsInProgress: number }> {
  const text = await api.requestText('GET', '/metrics');
  const gauge = (name: string) => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1] ?? NaN);
  return { connected: gauge('jump_site_connected_agents'), tlsInProgress: gauge('jump_site_tls_handshakes_in_progress') };
}

/** This process's active handles by type (process.getActiveResourcesInfo()). */
export function handleCounts(): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const t of process.getActiveResourcesInfo()) counts[t] = (counts[t] ?? 0) + 1;
  return counts;
}

/**
 * Types whose count grew by more than `tolerance` from `before` to `after` (a leak), as text.
 * Tolerance per type: idle keep-alive sockets of the test's own API client (Node's global HTTPS
 * agent keeps free sockets for 5 s) and vitest's own timers come and go.
 */
export function grownHandles(before: Record<string, number>, after: Record<string, number>, tolerance: number): string[] {
  return Object.entries(after)
    .filter(([t, n]) => n - (before[t] ?? 0) > tolerance)
    .map(([t, n]) => `${t}: ${before[t] ?? 0} -> ${n}`);
}

/**
 * Waits for the agent's `site silent` line logged after line `from`; on a timeout the error names
 * the agent's last log lines (ms after `t0`) and the proxy's connections, to see what happened.
 */
export async function agentDetection(a: ProxiedAgent, p: FaultProxy, from: number, t0: number, what: string): Promise<LogLine> {
  return waitFor(() => a.lines.slice(from).find((l) => l.msg.startsWith('site silent')), 10_000, 20, what).catch((err: Error) => {
    const tail = a.lines.slice(-10).map((l) => `${l.time - t0} ${l.msg} ${JSON.stringify({ ...l, time: undefined, msg: undefined, level: undefined, pid: undefined, hostname: undefined })}`);
    const pairs = p.pairs.map((x, i) => `#${i} accepted ${p.accepts[i] - t0} closed=${x.closed} frozen=${x.frozen} rate=${x.rate} cut=${x.cutNextRecord}`);
    throw new Error(`${err.message}\nagent log (ms after the fault):\n${tail.join('\n')}\nproxy connections:\n${pairs.join('\n')}`);
  });
}
