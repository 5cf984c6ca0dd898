/**
 * A copy of an enrolled jump client on another machine (a cloned disk or image) tells the site and
 * stops (issue #16, item 5; agent/config.ts identityFromConfig, site/agent-gateway.ts): the site
 * records the report on the jump client (`clone_report`, `jump clients show`), answers
 * JUMP_CLIENT_CLONED, and the original keeps its connection, neither replaced nor quarantined.
 * Real site, real `jump-client run` processes, real config dirs; the hostile cases by raw agents.
 */
import Database from 'better-sqlite3';
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as nodeMachineId from 'node-machine-id';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ApiJumpClient } from '../../protocol/api.js';
import { AGENT_BIN, cleanup, readJsonLines, start, tempDir, waitFor } from '../helpers/processes.js';
import { rawAgent } from '../helpers/raw-agent.js';
import { createInstaller, jump, listClients, startAgentProcess, startTestSite, type TestSite } from '../helpers/site.js';

const EXIT_REFUSED = 3;
const machineIdSync: () => string =
  nodeMachineId.machineIdSync ?? (nodeMachineId as unknown as { default: typeof nodeMachineId }).default.machineIdSync;

let site: TestSite;
beforeAll(async () => {
  site = await startTestSite();
});
afterAll(cleanup);

const show = async (id: number) => (await site.api.request<{ item: ApiJumpClient }>('GET', `/api/v1/jump-clients/${id}`)).item;

describe('a cloned jump client reports itself', () => {
  it('a copy of an enrolled config on another machine: exit 3 with JUMP_CLIENT_CLONED, recorded on the jump client, the original stays online', async () => {
    const inst = await createInstaller(site.api, { tag: 'cloned' });
    const original = startAgentProcess(inst);
    const c = await waitFor(async () => (await listClients(site.api, 'tag=cloned')).items.find((x) => x.status === 'online'));
    // The copy: the original's config as a disk image holds it, its key made on "another machine";
    // it runs with this machine's own id (no --machine-id override).
    // The identity is agent.json and agent.key: copied one by one (the running original rewrites
    // agent.json through a temp file, which a whole-dir copy can catch half way).
    const cloneDir = join(tempDir('jump-clone-'), 'cfg');
    mkdirSync(cloneDir, { recursive: true, mode: 0o700 });
    for (const f of ['agent.json', 'agent.key']) copyFileSync(join(original.configDir, f), join(cloneDir, f));
    const conf = JSON.parse(readFileSync(join(cloneDir, 'agent.json'), 'utf8')) as Record<string, unknown>;
    expect(conf.client_id).toBe(c.id);
    expect(conf.key_info).toBeUndefined();
    conf.key_machine_id = 'the-machine-the-image-was-taken-on';
    delete conf.machine_id;
    writeFileSync(join(cloneDir, 'agent.json'), JSON.stringify(conf));

    const copy = start(process.execPath, [AGENT_BIN, 'run', '--config', cloneDir, '--backoff-base', '200', '--backoff-cap', '1000']);
    const { code } = await copy.exited;
    expect(code, copy.stderr()).toBe(EXIT_REFUSED);
    expect(copy.stderr()).toMatch(/made on another machine \(machine id the-machine-the-image-was-taken-on; this one is [0-9a-f]+\)/);
    expect(copy.stderr()).toContain('JUMP_CLIENT_CLONED');
    expect(readJsonLines(join(cloneDir, 'agent.log')).some((l) => l.code === 'JUMP_CLIENT_CLONED')).toBe(true);

    const after = await show(c.id);
    expect(after.clone_report).toMatchObject({ machine_id: machineIdSync(), public_ip: '127.0.0.1', count: 1 });
    expect(after.status).toBe('online');
    expect(after.quarantined).toBe(false);
    // The original was never disconnected: its process still runs, and the site kept one record.
    expect(original.proc.child.exitCode).toBeNull();
    expect((await listClients(site.api, 'tag=cloned')).items.map((x) => x.id)).toEqual([c.id]);
    const shown = await jump(site.consoleDir, ['clients', 'show', String(c.id)]);
    const flat = shown.stdout.replace(/[│\s]+/g, ' '); // the details table wraps long values
    expect(flat).toMatch(/Clone Reported [0-9-]+ [0-9:]+ UTC: a copy on machine id [0-9a-f]+ from 127\.0\.0\.1 stopped \(1 report\)/);
    const db = new Database(join(site.dataDir, 'site.db'), { readonly: true });
    const audited = db.prepare('SELECT detail FROM audit_log WHERE action = ? AND target = ?').all('jump_client.clone_reported', `jump_client:${c.id}`) as { detail: string }[];
    db.close();
    expect(audited).toHaveLength(1);
    expect(audited[0].detail).toContain('the-machine-the-image-was-taken-on');
  });

  it('attack: a stranger claiming to be a copy of someone\'s jump client (without its key) is refused AGENT_AUTH_FAILED and nothing is recorded', async () => {
    const inst = await createInstaller(site.api, { tag: 'victim' });
    const victim = await rawAgent(inst, 'ignore');
    try {
      await expect(rawAgent(inst, 'ignore', { clientId: victim.clientId, clone: { key_machine_id: 'x' }, machineId: 'attacker' })).rejects.toThrow('AGENT_AUTH_FAILED');
      expect((await show(victim.clientId)).clone_report).toBeNull();
      // With the copied key, the report is recorded and refused, and the holder of the key stays connected.
      await expect(rawAgent(inst, 'ignore', { key: victim.key, clientId: victim.clientId, clone: { key_machine_id: 'image' }, machineId: 'copy-1' })).rejects.toThrow('JUMP_CLIENT_CLONED');
      await expect(rawAgent(inst, 'ignore', { key: victim.key, clientId: victim.clientId, clone: { key_machine_id: 'image' }, machineId: 'copy-2' })).rejects.toThrow('JUMP_CLIENT_CLONED');
      const v = await show(victim.clientId);
      expect(v.clone_report).toMatchObject({ machine_id: 'copy-2', count: 2 });
      // Counted each time, audited once an hour at most: a report loop cannot fill the audit log.
      const db = new Database(join(site.dataDir, 'site.db'), { readonly: true });
      const audited = db.prepare('SELECT COUNT(*) AS n FROM audit_log WHERE action = ? AND target = ?').get('jump_client.clone_reported', `jump_client:${victim.clientId}`) as { n: number };
      db.close();
      expect(audited.n).toBe(1);
      expect(v.status).toBe('online');
      expect(v.quarantined).toBe(false);
      expect(victim.ws.readyState).toBe(victim.ws.OPEN);
    } finally {
      victim.close();
    }
  });
});
