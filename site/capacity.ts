/**
 * How many connections one site process can hold, derived from its open-file limit.
 *
 * Every TCP connection is a file descriptor. A process at its limit (`RLIMIT_NOFILE`, `ulimit -n`,
 * systemd `LimitNOFILE=`) can no longer accept anyone: agents, technicians and `/metrics` alike
 * hang or are reset, and the operator cannot even look (docs/benchmarks.md, P1 at 25 000: the site
 * sat at its 20 000-descriptor limit). So the site budgets its descriptors up front:
 *
 * - `maxConnections`: TCP connections the HTTPS server keeps; one more is closed right after
 *   accept, before any TLS work (Node's `net.Server.maxConnections`). The limit minus
 *   `FD_RESERVE` for the store's files, logs, listeners and Node itself.
 * - `maxAgents`: agent connections (online plus in handshake). Below `maxConnections` by a share
 *   kept for technicians, the API and Jump session sockets, so a full node stays manageable.
 *   Agents over it are answered 503 with a long, randomised Retry-After (`FULL_RETRY_MS`).
 *
 * Node already raises its soft limit to the hard limit at start, so the limit read here is the most
 * this process can have without the operator raising the hard limit.
 */
import { readFileSync } from 'node:fs';

/** Descriptors kept for everything that is not a client connection (store, logs, listeners, Node). */
export const FD_RESERVE = 64;

/** Share of the connection budget kept for technicians, the API and session sockets (at least 64). */
export const NON_AGENT_SHARE = 0.02;

/** Retry-After window for agents refused because the node is full, in ms: [min, max). */
export const FULL_RETRY_MS = { min: 120_000, max: 300_000 } as const;

/**
 * `fn`, called at most once per `ms` (wall clock): for warnings a full node would otherwise log on
 * every refused connection.
 */
export function atMostEvery(ms: number, fn: () => void): () => void {
  let last = Number.NEGATIVE_INFINITY;
  return () => {
    const now = Date.now();
    if (now - last < ms) return;
    last = now;
    fn();
  };
}

export interface ConnectionBudget {
  /** The process's soft open-file limit, or null where it is unknown (not Linux, or unlimited). */
  fileLimit: number | null;
  /** TCP connections the server keeps; `Infinity` when the limit is unknown. */
  maxConnections: number;
  /** Agent connections (online plus handshaking); `Infinity` when neither a limit nor `--max-agents` is set. */
  maxAgents: number;
}

/**
 * The soft "Max open files" limit from `/proc/self/limits` (proc(5)), or null where there is no
 * such file or the limit is "unlimited". `limitsText` is for tests.
 */
export function openFileLimit(limitsText?: string): number | null {
  let text = limitsText;
  if (text === undefined) {
    try {
      text = readFileSync('/proc/self/limits', 'utf8');
    } catch {
      return null;
    }
  }
  const m = /^Max open files\s+(\d+|unlimited)\s/m.exec(text);
  return m && m[1] !== 'unlimited' ? Number(m[1]) : null;
}

/** Agent connections that fit in `maxConnections` once the non-agent share is kept back. */
function agentsIn(maxConnections: number): number {
  return Math.max(1, maxConnections - Math.max(64, Math.ceil(maxConnections * NON_AGENT_SHARE)));
}

/** The open-file limit a site needs to hold `agents` agent connections: the inverse of `connectionBudget`. */
export function fileLimitFor(agents: number): number {
  let c = Math.max(agents + 64, Math.floor(agents / (1 - NON_AGENT_SHARE)));
  while (agentsIn(c) < agents) c++;
  return c + FD_RESERVE;
}

/**
 * The budget for `fileLimit` descriptors. `maxAgents`, when given (`jump-site serve --max-agents`),
 * must fit: otherwise throws `RangeError` whose message names the open-file limit it needs.
 */
export function connectionBudget(fileLimit: number | null, maxAgents?: number): ConnectionBudget {
  if (fileLimit === null) return { fileLimit, maxConnections: Number.POSITIVE_INFINITY, maxAgents: maxAgents ?? Number.POSITIVE_INFINITY };
  const maxConnections = Math.max(1, fileLimit - FD_RESERVE);
  const derived = agentsIn(maxConnections);
  if (maxAgents !== undefined && maxAgents > derived) {
    throw new RangeError(
      `--max-agents ${maxAgents} needs an open-file limit of at least ${fileLimitFor(maxAgents)}; ` +
        `this process has ${fileLimit}. Raise it (systemd LimitNOFILE=, or ulimit -n as root) or lower --max-agents.`,
    );
  }
  return { fileLimit, maxConnections, maxAgents: maxAgents ?? derived };
}
