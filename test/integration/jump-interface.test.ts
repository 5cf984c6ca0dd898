/**
 * The Jump interface through the `jump` console: search over the seeds' 11 fields, edit limits,
 * multi-delete that revokes connected agents, and personal jump group permissions.
 */
import Database from 'better-sqlite3';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Agent } from '../../agent/agent.js';
import { SEARCH_FIELDS } from '../../protocol/fields.js';
import { SITE_BIN, cleanup, run, tempDir, waitFor } from '../helpers/processes.js';
import {
  createInstaller,
  fixtureStats,
  inProcessAgent,
  jump,
  listClients,
  login,
  startAgentProcess,
  startTestSite,
  type ClientJson,
  type TestSite,
} from '../helpers/site.js';

let site: TestSite;
const agents: Agent[] = [];
beforeAll(async () => {
  site = await startTestSite();
});
afterAll(async () => {
  await Promise.all(agents.map((a) => a.stop()));
  await cleanup();
});

async function jumpJson(args: string[], dir = site.consoleDir) {
  const r = await jump(dir, [...args, '--json']);
  return { ...r, json: JSON.parse(r.stdout || 'null') };
}

describe('search', () => {
  let alpha: ClientJson;
  let beta: ClientJson;

  beforeAll(async () => {
    const g = await jump(site.consoleDir, ['groups', 'create', 'Search Group']);
    expect(g.code).toBe(0);
    const inst = await createInstaller(site.api, { jump_group: 'Search Group', allow_override: ['name', 'tag', 'comments'] });
    // Two in-process agents with chosen statistics and source addresses (the site sees the
    // source address as the public IP).
    const a = inProcessAgent(inst, {
      localAddress: '127.0.0.11',
      requested: { name: 'alpha-box', tag: 'alpha-tag', comments: 'Alex laptop' },
      stats: async () =>
        fixtureStats({ hostname: 'alpha-host', private_ips: ['10.11.0.5'], console_user: 'alexc', domain: 'alphacorp.test', workgroup: 'ALPHAWG' }),
    });
    const b = inProcessAgent(inst, {
      localAddress: '127.0.0.12',
      requested: { name: 'beta-box', tag: 'beta-tag', comments: 'Jose laptop' },
      stats: async () =>
        fixtureStats({ hostname: 'beta-host', private_ips: ['10.22.0.6'], console_user: 'josed', domain: 'betacorp.test', workgroup: 'BETAWG' }),
    });
    agents.push(a, b);
    await waitFor(async () => {
      const items = (await listClients(site.api, 'group=Search%20Group')).items;
      return items.length === 2 && items.every((c) => c.status === 'online' && c.hostname);
    });
    // beta goes offline so Status differs; alpha gets a Last Access Date (set by jumps, later).
    await b.stop();
    await waitFor(async () => (await listClients(site.api, 'group=Search%20Group')).summary.offline === 1);
    const items = (await listClients(site.api, 'group=Search%20Group')).items;
    alpha = items.find((c) => c.name === 'alpha-box')!;
    beta = items.find((c) => c.name === 'beta-box')!;
    const db = new Database(join(site.dataDir, 'site.db'));
    db.prepare('UPDATE jump_clients SET last_access_at = ? WHERE id = ?').run(Date.UTC(2026, 2, 14, 9, 26), alpha.id);
    db.close();
  });

  const cases: [string, string, 'alpha' | 'beta' | 'both'][] = [
    ['comments', 'alex LAPTOP', 'alpha'],
    ['console_user', 'josed', 'beta'],
    ['domain', 'alphacorp', 'alpha'],
    ['jump_method', 'jump client', 'both'],
    ['last_access', '2026-03-14', 'alpha'],
    ['name', 'beta-b', 'beta'],
    ['private_ip', '10.11.0', 'alpha'],
    ['public_ip', '127.0.0.12', 'beta'],
    ['status', 'offline', 'beta'],
    ['tag', 'alpha-t', 'alpha'],
    ['workgroup', 'betawg', 'beta'],
  ];

  it('covers every search field of the seeds', () => {
    expect(cases.map((c) => c[0]).sort()).toEqual([...SEARCH_FIELDS].sort());
  });

  for (const [field, text, expected] of cases) {
    it(`finds by ${field}`, async () => {
      const r = await jumpJson(['clients', '--search', text, '--field', field, '--group', 'Search Group']);
      expect(r.code).toBe(0);
      const ids = (r.json.items as ClientJson[]).map((c) => c.id).sort();
      const want = expected === 'both' ? [alpha.id, beta.id].sort() : [expected === 'alpha' ? alpha.id : beta.id];
      expect(ids).toEqual(want);
    });
  }

  it('searches all fields by default and treats % and _ literally', async () => {
    expect((await jumpJson(['clients', '--search', 'ALPHAWG'])).json.items.map((c: ClientJson) => c.id)).toEqual([alpha.id]);
    expect((await jumpJson(['clients', '--search', '%'])).json.items).toEqual([]);
  });

  it('refuses an unknown search field with the field named', async () => {
    const r = await jump(site.consoleDir, ['clients', '--search', 'x', '--field', 'colour']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/VALIDATION_FAILED.*colour/);
  });

  it('prints the grouped table and the seeds totals line', async () => {
    const r = await jump(site.consoleDir, ['clients', '--group', 'Search Group']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('Jump Group: Search Group');
    expect(r.stdout).toContain('Tag: alpha-tag');
    expect(r.stdout).toMatch(/Hostname\/IP.*Comments.*Status.*Last Connected/);
    const wide = await jump(site.consoleDir, ['clients', '--group', 'Search Group', '-o', 'wide']);
    expect(wide.stdout).toMatch(/Hostname\/IP.*Jump Method.*Comments.*Group.*Tag.*Status.*Last Connected/);
    expect(r.stdout).toContain('2 Jump Items total. 2 Jump Clients total. 1 online. 1 offline. 0 passive.');
  });
});

describe('edit', () => {
  let id: number;
  beforeAll(async () => {
    const inst = await createInstaller(site.api, { tag: 'to-edit' });
    agents.push(inProcessAgent(inst));
    id = (await waitFor(async () => (await listClients(site.api, 'tag=to-edit')).items[0])).id;
  });

  it('accepts the limits exactly: name 128, tag 64, comments 1024 characters', async () => {
    const r = await jumpJson(['clients', 'edit', String(id), '--name', 'n'.repeat(128), '--tag', 't'.repeat(64), '--comments', 'c'.repeat(1024)]);
    expect(r.code).toBe(0);
    expect(r.json.items[0]).toMatchObject({ name: 'n'.repeat(128), tag: 't'.repeat(64), comments: 'c'.repeat(1024) });
  });

  for (const [flag, field, len] of [
    ['--name', 'name', 129],
    ['--tag', 'tag', 65],
    ['--comments', 'comments', 1025],
  ] as const) {
    it(`refuses ${field} of ${len} characters, naming the field, and changes nothing`, async () => {
      const before = (await site.api.request<{ item: ClientJson }>('GET', `/api/v1/jump-clients/${id}`)).item;
      // A valid change to another field rides along; it must not be saved either.
      const other = flag === '--comments' ? ['--tag', 'not-saved'] : ['--comments', 'not saved'];
      const r = await jump(site.consoleDir, ['clients', 'edit', String(id), flag, 'x'.repeat(len), ...other]);
      expect(r.code).toBe(1);
      expect(r.stderr).toContain('VALIDATION_FAILED');
      expect(r.stderr).toContain(field);
      const after = (await site.api.request<{ item: ClientJson }>('GET', `/api/v1/jump-clients/${id}`)).item;
      expect({ ...after, last_connected: null }).toEqual({ ...before, last_connected: null });
    });
  }

  it('an empty tag returns the client to the top level of its jump group', async () => {
    await jumpJson(['clients', 'edit', String(id), '--tag', '']);
    const c = (await site.api.request<{ item: ClientJson }>('GET', `/api/v1/jump-clients/${id}`)).item;
    expect(c.tag).toBe('');
  });

  it('moves a client to another jump group and refuses an unknown one', async () => {
    await jump(site.consoleDir, ['groups', 'create', 'Moved Here']);
    expect((await jumpJson(['clients', 'edit', String(id), '--jump-group', 'Moved Here'])).json.items[0].jump_group).toBe('Moved Here');
    const r = await jump(site.consoleDir, ['clients', 'edit', String(id), '--jump-group', 'Nowhere']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('JUMP_GROUP_NOT_FOUND');
  });
});

describe('delete', () => {
  it('deletes several clients at once; connected agents are told, disconnect, and are refused afterwards', async () => {
    const inst = await createInstaller(site.api, { tag: 'to-delete' });
    const a1 = startAgentProcess(inst);
    const a2 = startAgentProcess(inst);
    await waitFor(async () => (await listClients(site.api, 'tag=to-delete')).summary.online === 2);
    const ids = (await listClients(site.api, 'tag=to-delete')).items.map((c) => String(c.id));
    const r = await jumpJson(['clients', 'delete', '--yes', ...ids]);
    expect(r.code).toBe(0);
    expect(r.json.deleted.map(String).sort()).toEqual(ids.sort());
    for (const a of [a1, a2]) {
      const { code } = await a.proc.exited;
      expect(code).toBe(3);
      expect(a.proc.stderr()).toContain('JUMP_CLIENT_DELETED');
    }
    expect((await listClients(site.api, 'tag=to-delete')).items).toEqual([]);
    // Its next connect is refused with the same code.
    const again = startAgentProcess(inst, { configDir: a1.configDir });
    expect((await again.proc.exited).code).toBe(3);
    expect(again.proc.stderr()).toContain('JUMP_CLIENT_DELETED');
  });

  it('deletes nothing when one of the ids does not exist', async () => {
    const inst = await createInstaller(site.api, { tag: 'keep-me' });
    agents.push(inProcessAgent(inst));
    const c = await waitFor(async () => (await listClients(site.api, 'tag=keep-me')).items[0]);
    const r = await jump(site.consoleDir, ['clients', 'delete', '--yes', String(c.id), '999999']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('JUMP_CLIENT_NOT_FOUND');
    expect((await listClients(site.api, 'tag=keep-me')).items).toHaveLength(1);
  });
});

describe('personal jump groups', () => {
  it("keeps a technician out of another user's personal group unless granted", async () => {
    for (const name of ['tina', 'tom']) {
      const r = await run(process.execPath, [SITE_BIN, 'user', 'add', name, '--password-stdin', '--data', site.dataDir], { input: 'correct horse battery' });
      expect(r.code).toBe(0);
    }
    const tina = tempDir('tina-');
    const tom = tempDir('tom-');
    await login(site, tina, 'tina', 'correct horse battery');
    await login(site, tom, 'tom', 'correct horse battery');
    // Tom creates an installer into his personal group (the default).
    const inst = (await jumpJson(['installer', 'create'], tom)).json;
    expect(inst.jump_group).toBe('user:tom');
    agents.push(inProcessAgent(inst));
    const c = await waitFor(async () => (await jumpJson(['clients'], tom)).json.items[0] as ClientJson | undefined);

    expect((await jumpJson(['clients'], tina)).json.items).toEqual([]);
    for (const args of [
      ['clients', 'show', String(c.id)],
      ['clients', 'edit', String(c.id), '--comments', 'tina was here'],
      ['clients', 'delete', '--yes', String(c.id)],
    ]) {
      const r = await jump(tina, args);
      expect(r.code).toBe(1);
      expect(r.stderr).toContain('JUMP_CLIENT_NOT_FOUND');
    }
    // Nor may she put an installer or a client into his group; the answer does not tell that it exists.
    expect((await jump(tina, ['installer', 'create', '--jump-group', 'user:tom'])).stderr).toContain('JUMP_GROUP_NOT_FOUND');

    const grant = await run(process.execPath, [SITE_BIN, 'user', 'set', 'tina', '--view-personal-groups', 'on', '--data', site.dataDir]);
    expect(grant.code).toBe(0);
    expect((await jumpJson(['clients', '--group', 'user:tom'], tina)).json.items.map((x: ClientJson) => x.id)).toEqual([c.id]);
    // Viewing is not using (security issue #12 item 16): she sees his client but may not change it.
    const edit = await jump(tina, ['clients', 'edit', String(c.id), '--comments', 'granted']);
    expect(edit.code).toBe(1);
    expect(edit.stderr).toContain('PERMISSION_DENIED');
    expect((await jump(tina, ['clients', 'show', String(c.id)])).code).toBe(0);
  });

  it('shows shared groups to their members only', async () => {
    await run(process.execPath, [SITE_BIN, 'user', 'add', 'sam', '--password-stdin', '--data', site.dataDir], { input: 'correct horse battery' });
    const sam = tempDir('sam-');
    await login(site, sam, 'sam', 'correct horse battery');
    await jump(site.consoleDir, ['groups', 'create', 'Ops']);
    const inst = await createInstaller(site.api, { jump_group: 'Ops', tag: 'ops' });
    agents.push(inProcessAgent(inst));
    await waitFor(async () => (await listClients(site.api, 'tag=ops')).items.length === 1);
    expect((await jumpJson(['clients', '--tag', 'ops'], sam)).json.items).toEqual([]);
    expect((await jump(sam, ['groups', 'create', 'Mine'])).stderr).toContain('PERMISSION_DENIED');
    expect((await jump(site.consoleDir, ['groups', 'add-member', 'Ops', 'sam'])).code).toBe(0);
    expect((await jumpJson(['clients', '--tag', 'ops'], sam)).json.items).toHaveLength(1);
  });
});
