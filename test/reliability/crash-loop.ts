/**
 * Crash consistency (docs/reliability.md section 2, issue #15 item 2), shared by
 * test/reliability/crash.test.ts (bounded) and test/long/crash.test.ts (hundreds of iterations).
 *
 * One real `jump-site serve` process on a fixed data dir and port, and a fleet of in-process agents
 * (the real Agent class). Each iteration:
 * 1. drives a seeded random mix of operations over the API and the agents, one at a time with
 *    random gaps: enrollments of new agents, client edits (comments, tag, jump group), deletes,
 *    installer creation, and Jump shell sessions that type into a recorded PTY;
 * 2. at a random moment SIGKILLs the site (mid-operation as often as not);
 * 3. restarts it on the same data dir and port and checks:
 *    - the store opens (the site starts) and is consistent (test/helpers/store-check.ts: integrity,
 *      foreign keys, no half-written record, recordings and rows agree, no session left open);
 *    - every operation whose 2xx answer the client saw is there (installers, edits, deletes,
 *      session rows); an operation cut by the kill may be there or not, but whole;
 *    - every agent comes back exactly once: one client row per agent key, online, with the id the
 *      agent holds; deleted clients stay deleted and their agents stopped.
 * The seed fixes every random choice (operations, values, delays); which operation a kill lands on
 * also depends on timing, so a replay runs the same schedule, not always the same interleaving.
 */
import type { KeyObject } from 'node:crypto';
import Database from 'better-sqlite3';
import { join } from 'node:path';
import type ssh2 from 'ssh2';
import type WebSocket from 'ws';
import type { Agent } from '../../agent/agent.js';
import { SiteClient, probeCertificate } from '../../console/http.js';
import { connectSsh, ephemeralKey, openSession } from '../../console/ssh.js';
import { newEd25519Key, rawPublicKey } from '../../protocol/handshake.js';
import { waitFor, type Proc } from '../helpers/processes.js';
import { seededRandom } from '../helpers/seed.js';
import { checkStore } from '../helpers/store-check.js';
import { TEST_ADMIN_PASSWORD, apiToken, createInstaller, fixtureStats, inProcessAgent, listClients, startSiteProcess, type InstallerInfo, type SiteStartOptions } from '../helpers/site.js';

/** What is expected of one in-process agent. */
interface TrackedAgent {
  agent: Agent;
  key: KeyObject;
  publicKey: string;
  /** `acked`: the DELETE was answered 2xx; `maybe`: it was cut by the kill. */
  deleted: 'no' | 'maybe' | 'acked';
  fatal: string | null;
}

/** Values a client's field may have after a restart: the last acknowledged edit, plus one cut by the kill. */
interface Expected {
  comments: Set<string> | null;
  tag: Set<string> | null;
  jump_group: Set<string> | null;
}
type Field = keyof Expected;
const FIELDS: Field[] = ['comments', 'tag', 'jump_group'];

/** What a run did: iterations completed, operations by kind, kills mid-operation. */
export interface CrashLoopResult {
  iterations: number;
  /** Per operation: `acked` answered 2xx; `cut` not (cut by the kill, or refused: e.g. a session to a client between connections). */
  operations: Record<string, { acked: number; cut: number }>;
  /** Kills that landed while an operation waited for its answer. */
  killedMidOperation: number;
}

/** The started site the loop drives: its process, address, data dir and an admin API token. */
export interface CrashSite {
  proc: Proc;
  url: string;
  port: number;
  pin: string;
  dataDir: string;
  certPem: string;
  token: string;
}

/**
 * Starts a site with an admin API token and no console login (these suites use the API only),
 * keeping the token the bootstrap password change answers with: each scrypt login costs about a
 * second on 2 cores. `opts` as startSiteProcess's.
 */
export async function startApiSite(opts: SiteStartOptions = {}): Promise<CrashSite> {
  const s = await startSiteProcess(opts);
  const probe = await probeCertificate(s.url);
  const first = await apiToken(s.url, probe.certPem, 'admin', s.password!);
  const changed = await new SiteClient(s.url, { certPem: probe.certPem, token: first }).request<{ token: string }>('POST', '/api/v1/me/password', {
    current_password: s.password,
    new_password: TEST_ADMIN_PASSWORD,
  });
  return { ...s, certPem: probe.certPem, token: changed.token };
}

export interface CrashLoopOptions {
  site: CrashSite;
  iterations: number;
  seed: number;
  /** Most agents alive at once. */
  maxAgents?: number;
  /** Longest random wait before the kill, in ms (after the fleet is back online). */
  maxRunMs?: number;
  log?: (line: string) => void;
}

/** Runs the loop; throws (with the iteration and seed in the message) at the first broken invariant. */
export async function runCrashLoop(o: CrashLoopOptions): Promise<CrashLoopResult> {
  const rnd = seededRandom(o.seed);
  const pick = <T>(xs: T[]): T => xs[Math.floor(rnd() * xs.length)];
  const log = o.log ?? (() => undefined);
  const maxAgents = o.maxAgents ?? 8;
  const maxRunMs = o.maxRunMs ?? 1500;
  const site = o.site;
  let proc = site.proc;
  // Short timeouts: a request cut by the kill fails fast instead of waiting out the console's 30 s.
  const api = new SiteClient(site.url, { certPem: site.certPem, token: site.token, timeoutMs: 6_000 });

  await api.request('POST', '/api/v1/jump-groups', { name: 'crash-shared' });
  const groups = ['crash-shared'];
  const installers: InstallerInfo[] = [await createInstaller(api, { tag: 'crash' })];
  groups.push(installers[0].jump_group!);
  const agents: TrackedAgent[] = [];
  const expected = new Map<number, Expected>();
  const sessionsAcked: string[] = [];
  const openSsh: ssh2.Client[] = [];
  const openRelays: WebSocket[] = [];
  const stats: CrashLoopResult = { iterations: 0, operations: {}, killedMidOperation: 0 };
  const count = (op: string, acked: boolean) => {
    const s = (stats.operations[op] ??= { acked: 0, cut: 0 });
    if (acked) s.acked++;
    else s.cut++;
  };

  const newAgent = (inst: InstallerInfo): TrackedAgent => {
    const key = newEd25519Key();
    const agent = inProcessAgent(inst, {
      privateKey: key,
      machineId: `crash-${rawPublicKey(key).slice(0, 12)}`,
      stats: async () => fixtureStats({ hostname: `crash-${agents.length}` }),
      backoff: { baseMs: 100, capMs: 400 },
    });
    const t: TrackedAgent = { agent, key, publicKey: rawPublicKey(key), deleted: 'no', fatal: null };
    agent.on('fatal', (err: { code: string }) => (t.fatal = err.code));
    return t;
  };
  const live = () => agents.filter((a) => a.deleted !== 'acked' && a.fatal === null);
  const withId = () => live().filter((a) => a.agent.clientId !== null);

  /** One random operation; resolves whether or not the site answered (the kill may cut it). */
  const operation = async (): Promise<void> => {
    const r = rnd();
    if (r < 0.2 && live().length < maxAgents) {
      const inst = pick(installers);
      agents.push(newAgent(inst));
      count('enroll', true);
      return;
    }
    if (r < 0.35) {
      try {
        installers.push(await createInstaller(api, { tag: `crash-${installers.length}`, comments: 'made in the crash loop' }));
        count('installer', true);
      } catch {
        count('installer', false);
      }
      return;
    }
    const targets = withId();
    if (targets.length === 0) return;
    const t = pick(targets);
    const id = t.agent.clientId!;
    if (r < 0.75) {
      const body: Partial<Record<Field, string>> = {};
      if (rnd() < 0.6) body.comments = `c${Math.floor(rnd() * 1e9)}`;
      if (rnd() < 0.5) body.tag = `t${Math.floor(rnd() * 1e6)}`;
      if (rnd() < 0.3 || Object.keys(body).length === 0) body.jump_group = pick(groups);
      let e = expected.get(id);
      if (!e) expected.set(id, (e = { comments: null, tag: null, jump_group: null }));
      let acked = false;
      try {
        await api.request('PATCH', `/api/v1/jump-clients/${id}`, body);
        acked = true;
      } catch {
        // cut by the kill: the old value or the new one, never a mix of two edits' fields per field
      }
      count('edit', acked);
      for (const f of FIELDS) {
        const v = body[f];
        if (v === undefined) continue;
        if (acked) e[f] = new Set([v]);
        else e[f]?.add(v);
      }
      return;
    }
    if (r < 0.85) {
      try {
        await api.request('DELETE', `/api/v1/jump-clients/${id}`);
        t.deleted = 'acked';
        count('delete', true);
      } catch {
        t.deleted = 'maybe';
        count('delete', false);
      }
      return;
    }
    // A Jump session kept open, printing into its recorded PTY until the kill cuts it. The
    // operation is acknowledged with the start's 2xx; the SSH part runs on by itself. A command on
    // a PTY (recorded like a shell) rather than a login shell: killing a login shell in its rc
    // files can leave the test machine's root dotfiles broken (a stale pyenv rehash lock made every
    // later root login shell wait 60 s).
    let acked = false;
    try {
      const key = ephemeralKey();
      const s = await openSession(api, String(id), 'exec', key.publicLine);
      acked = true;
      sessionsAcked.push(s.info.session_id);
      s.ws.on('error', () => undefined);
      openRelays.push(s.ws);
      connectSsh(s.stream, s.info.host_key, key.privatePem).then(
        (conn) => {
          conn.on('error', () => undefined);
          openSsh.push(conn);
          conn.exec('while :; do echo crash loop $(date +%N); sleep 0.02; done', { pty: { term: 'xterm', cols: 80, rows: 24 } }, (err, ch) => {
            if (err) return;
            ch.on('error', () => undefined);
          });
        },
        () => undefined,
      );
    } catch {
      // cut by the kill, or the client went away (deleted, or between connections)
    }
    count('session', acked);
  };

  /** The site's API client and the fleet are back: every agent once, online, edits and deletes kept. */
  const checkAfterRestart = async (iteration: number, startedAt: number): Promise<void> => {
    const where = `iteration ${iteration} (seed ${o.seed})`;
    const problems = checkStore(site.dataDir, { siteStartedAt: startedAt });
    if (problems.length > 0) throw new Error(`${where}: store inconsistent after kill -9:\n${problems.join('\n')}`);

    const listed = await api.request<{ items: { uid: string; key_hash?: string }[] }>('GET', '/api/v1/installers');
    const uids = new Set(listed.items.map((i) => i.uid));
    for (const inst of installers) if (!uids.has(inst.uid)) throw new Error(`${where}: acknowledged installer ${inst.uid} lost`);

    // Deletes cut by the kill settle either way: the agent is refused (fatal) or comes back.
    await waitFor(
      async () => {
        const { items } = await listClients(api);
        const byId = new Map(items.map((c) => [c.id, c]));
        return live().every((a) => {
          if (a.agent.clientId === null) return false;
          const c = byId.get(a.agent.clientId);
          return c?.status === 'online';
        });
      },
      30_000,
      100,
      `${where}: every live agent online again`,
    );
    const { items } = await listClients(api);
    const db = new Database(join(site.dataDir, 'site.db'), { readonly: true });
    try {
      const rowsFor = db.prepare('SELECT id, deleted_at FROM jump_clients WHERE public_key = ?');
      for (const a of agents) {
        const rows = rowsFor.all(a.publicKey) as { id: number; deleted_at: number | null }[];
        if (a.agent.clientId !== null && (rows.length !== 1 || rows[0].id !== a.agent.clientId)) {
          throw new Error(`${where}: agent ${a.agent.clientId} has ${rows.length} client rows: ${JSON.stringify(rows)}`);
        }
        if (a.deleted === 'acked' && !(rows[0]?.deleted_at !== null && a.fatal === 'JUMP_CLIENT_DELETED')) {
          throw new Error(`${where}: client ${a.agent.clientId} deleted (2xx) but back: ${JSON.stringify(rows)} fatal=${a.fatal}`);
        }
      }
    } finally {
      db.close();
    }
    const mine = new Set(live().map((a) => a.agent.clientId));
    const extra = items.filter((c) => !mine.has(c.id));
    if (extra.length > 0) throw new Error(`${where}: clients listed that no live agent holds: ${extra.map((c) => c.id).join(', ')}`);
    for (const c of items) {
      const e = expected.get(c.id) ?? { comments: null, tag: null, jump_group: null };
      expected.set(c.id, e);
      for (const f of FIELDS) {
        const allowed = e[f];
        if (allowed && !allowed.has(c[f])) {
          throw new Error(`${where}: client ${c.id} ${f} is ${JSON.stringify(c[f])}, expected one of ${JSON.stringify([...allowed])}`);
        }
        e[f] = new Set([c[f]]);
      }
    }
    for (const id of sessionsAcked) {
      const s = await api.request<{ item: { ended_at: string | null } }>('GET', `/api/v1/sessions/${id}`);
      if (!s.item.ended_at) throw new Error(`${where}: session ${id} still open after the restart`);
    }
    // Agents whose delete was cut are settled now.
    for (const a of agents) if (a.deleted === 'maybe') a.deleted = a.fatal === 'JUMP_CLIENT_DELETED' ? 'acked' : 'no';
  };

  try {
    for (let i = 1; i <= o.iterations; i++) {
      const runMs = Math.floor(rnd() * maxRunMs);
      let killed = false;
      let inFlight: Promise<void> = Promise.resolve();
      let busy = false;
      const driver = (async () => {
        while (!killed) {
          busy = true;
          inFlight = operation();
          await inFlight;
          busy = false;
          await new Promise((r) => setTimeout(r, Math.floor(rnd() * 30)));
        }
      })();
      await new Promise((r) => setTimeout(r, runMs));
      if (busy) stats.killedMidOperation++;
      proc.child.kill('SIGKILL');
      killed = true;
      await proc.exited;
      for (const c of openSsh.splice(0)) c.end();
      for (const w of openRelays.splice(0)) w.terminate();
      log(`[crash] iteration ${i}: killed; restarting`);
      const startedAt = Date.now();
      const again = await startSiteProcess({ dataDir: site.dataDir, port: site.port });
      proc = again.proc;
      if (again.pin !== site.pin) throw new Error(`iteration ${i}: site identity changed after the restart`);
      log(`[crash] iteration ${i}: restarted; waiting for the cut operation`);
      await driver;
      await inFlight;
      log(`[crash] iteration ${i}: checking`);
      await checkAfterRestart(i, startedAt);
      stats.iterations = i;
      log(`[crash] iteration ${i}: killed after ${runMs} ms; ${live().length} agents back; ${JSON.stringify(stats.operations)}`);
    }
  } finally {
    await Promise.all(agents.map((a) => a.agent.stop()));
    for (const c of openSsh) c.end();
    for (const w of openRelays) w.terminate();
    proc.child.kill('SIGKILL');
  }
  return stats;
}
