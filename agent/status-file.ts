/**
 * The agent's connection state as a small file in its config dir, `status.json`, for
 * `DIR/init-script status` (agent/install/service.ts statusAgent): the running agent writes it on
 * start, on connect, on disconnect, on a refusal for good and on stop.
 *
 *   { "state": "connecting" | "connected" | "offline" | "refused" | "stopped",
 *     "since": ISO 8601 UTC time of the change, "reason"?: why offline, "code"?: the refusal's catalog code }
 */
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export const STATUS_FILE = 'status.json';

export interface AgentStatus {
  state: 'connecting' | 'connected' | 'offline' | 'refused' | 'stopped';
  /** When the state began, ISO 8601 UTC. */
  since: string;
  /** Why the connection is down (offline, connecting). */
  reason?: string;
  /** The catalog code of a refusal for good (refused), e.g. JUMP_CLIENT_DELETED. */
  code?: string;
}

/** Writes `status` to `<configDir>/status.json` (mode 0600, replaced atomically); never throws. */
export function writeAgentStatus(configDir: string, status: Omit<AgentStatus, 'since'>, now = Date.now()): void {
  const file = join(configDir, STATUS_FILE);
  try {
    writeFileSync(`${file}.tmp`, JSON.stringify({ ...status, since: new Date(now).toISOString() }) + '\n', { mode: 0o600 });
    renameSync(`${file}.tmp`, file);
  } catch {
    /* the status file is a convenience: the agent runs on without it */
  }
}

/** The status the agent last wrote in `configDir`, or null when there is none (or it is unreadable). */
export function readAgentStatus(configDir: string): AgentStatus | null {
  try {
    const s = JSON.parse(readFileSync(join(configDir, STATUS_FILE), 'utf8')) as AgentStatus;
    return typeof s.state === 'string' && typeof s.since === 'string' ? s : null;
  } catch {
    return null;
  }
}
