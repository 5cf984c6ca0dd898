/**
 * Issue #15 item 4: the authorization matrix. Roles (admin, technician, technician with
 * view-personal-groups) x jump groups (own personal, another's personal, shared member, shared
 * non-member) x actions (list, search, show, edit, delete, jump, tunnel, proxy, installer create,
 * sessions): every cell of authz-table.ts asserted against the API and against the `jump` CLI as
 * a real process, on one real site (`jump-site serve`) with real agents' connections.
 *
 * How an allowed Jump is told from a refused one without an SSH session: the jump clients here are
 * raw agents (test/helpers/raw-agent.ts) that answer every session_open with JUMP_INTERNAL_ERROR.
 * That answer means the site authorized the start, signed a ticket and asked the jump client: a
 * refused start never reaches it (PERMISSION_DENIED or JUMP_CLIENT_NOT_FOUND). At the end, the
 * sessions the site recorded are compared with the table: each user has a session of each kind
 * exactly where the table allows it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConsoleConfig } from '../../console/config.js';
import { SiteClient } from '../../console/http.js';
import { ephemeralKey, jumpIdentity } from '../../console/ssh.js';
import { JumpError } from '../../protocol/errors.js';
import type { ApiSessionDetail } from '../../protocol/api.js';
import { SITE_BIN, cleanup, run, tempDir } from '../helpers/processes.js';
import { seededRandom, testRuns, testSeed } from '../helpers/seed.js';
import { rawAgent, type RawAgent } from '../helpers/raw-agent.js';
import { probeCertificate } from '../../console/http.js';
import { apiToken, createInstaller, fixtureStats, jump, startSiteProcess, type InstallerInfo } from '../helpers/site.js';
import { ACTIONS, GROUPS, ROLES, authzCells, type Action, type Cell, type GroupKind, type Role } from './authz-table.js';

const PASSWORD = 'correct horse battery';
/** The user who plays each role; olga owns "another's personal" group and is the only member of Vault. */
const USER: Record<Role, string> = { admin: 'admin', technician: 'tina', 'technician + view-personal-groups': 'vic' };
const SHARED_MEMBER = 'Ops';
const SHARED_OTHER = 'Vault';

/** The jump group a cell's group kind is, for `role`. */
function groupOf(role: Role, g: GroupKind): string {
  switch (g) {
    case 'own personal':
      return `user:${USER[role]}`;
    case "another's personal":
      return 'user:olga';
    case 'shared, member':
      return SHARED_MEMBER;
    case 'shared, not a member':
      return SHARED_OTHER;
  }
}
const ALL_GROUPS = ['user:admin', 'user:tina', 'user:vic', 'user:olga', SHARED_MEMBER, SHARED_OTHER];

/** The site: its URL, pinned certificate, data dir, and the admin's API client. */
let site: { url: string; certPem: string; dataDir: string; api: SiteClient };
/** Per user: an API client with their token and a logged-in console config dir. */
const as: Record<string, { api: SiteClient; dir: string }> = {};
/** Per jump group: its installer, the online jump client in it, its search token, and a session the admin opened into it. */
const base: Record<string, { inst: InstallerInfo; victimInst: InstallerInfo; agent: RawAgent; id: number; token: string; session: string }> = {};
/** Per interface and cell: a jump client (offline) made to be deleted. */
const victims = new Map<string, number>();
const agents: RawAgent[] = [];

const codeOf = (err: unknown) => (err instanceof JumpError ? err.code : `not a JumpError: ${String(err)}`);
const slug = (s: string) => s.replace(/[^a-z]/gi, '').toLowerCase();

/** Runs `tasks` with at most `limit` at once. */
async function pool<T>(limit: number, tasks: (() => Promise<T>)[]): Promise<T[]> {
  const out: T[] = new Array(tasks.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, tasks.length) }, async () => {
      while (next < tasks.length) {
        const i = next++;
        out[i] = await tasks[i]();
      }
    }),
  );
  return out;
}

beforeAll(async () => {
  // Where the setup's time goes (printed: on a loaded CI machine, process starts dominate).
  const t0 = Date.now();
  const lap = (what: string) => console.log(`[authz-matrix] ${what} ready at ${Date.now() - t0} ms`);
  // Start limits high: this suite is about who may start, not how many at once.
  const s = await startSiteProcess({ extraArgs: ['--max-session-starts-per-user', '1000', '--max-session-starts-per-client', '1000', '--max-session-starts', '1000'] });
  const probe = await probeCertificate(s.url);
  /**
   * A console config dir logged in as `user` with `token`: what `jump login` stores (console/config.ts),
   * written here so each user logs in once (one password check on the site), not once per interface.
   */
  const consoleFor = (user: string, token: string) => {
    const dir = tempDir('jump-console-');
    new ConsoleConfig(dir).save(s.url, { user, token, cert_pem: probe.certPem, fingerprint: probe.fingerprint });
    return { api: new SiteClient(s.url, { certPem: probe.certPem, token }), dir };
  };
  // The bootstrap password must be changed first; the change answers with a fresh token.
  const boot = new SiteClient(s.url, { certPem: probe.certPem, token: await apiToken(s.url, probe.certPem, 'admin', s.password!) });
  const changed = await boot.request<{ token: string }>('POST', '/api/v1/me/password', { current_password: s.password, new_password: PASSWORD });
  as.admin = consoleFor('admin', changed.token);
  site = { url: s.url, certPem: probe.certPem, dataDir: s.dataDir, api: as.admin.api };
  lap('site');
  // The users are added at once (SQLite waits for its lock); two logins at once at most: the site
  // lets one address have 2 password checks in progress (site/auth.ts).
  await Promise.all(
    (
      [
        ['tina', []],
        ['vic', ['--view-personal-groups']],
        ['olga', []],
      ] as const
    ).map(async ([name, extra]) => {
      const r = await run(process.execPath, [SITE_BIN, 'user', 'add', name, '--password-stdin', '--data', site.dataDir, ...extra], { input: PASSWORD });
      if (r.code !== 0) throw new Error(`user add ${name}: ${r.stderr}`);
      if (name === 'olga') return; // she only owns a group
      as[name] = consoleFor(name, await apiToken(site.url, site.certPem, name, PASSWORD));
    }),
  );
  lap('users');
  for (const u of Object.values(as)) jumpIdentity(u.dir);
  for (const g of [SHARED_MEMBER, SHARED_OTHER]) await site.api.request('POST', '/api/v1/jump-groups', { name: g });
  for (const u of ['admin', 'tina', 'vic']) await site.api.request('POST', `/api/v1/jump-groups/${SHARED_MEMBER}/members`, { user: u });
  await site.api.request('POST', `/api/v1/jump-groups/${SHARED_OTHER}/members`, { user: 'olga' });

  let n = 0;
  for (const g of ALL_GROUPS) {
    const token = `mxq${n++}z`;
    const inst = await createInstaller(site.api, { jump_group: g, comments: token, max_uses: 1000 });
    const agent = await rawAgent(inst, 'refuse-internal', { stats: fixtureStats({ hostname: `host-${slug(g)}` }) });
    agents.push(agent);
    // A session the admin opened into it: what the `sessions` column looks for.
    const started = await site.api
      .request('POST', `/api/v1/jump-clients/${agent.clientId}/sessions`, { public_key: ephemeralKey().publicLine, kind: 'shell' })
      .catch(codeOf);
    expect(started).toBe('JUMP_INTERNAL_ERROR');
    const s = await site.api.request<{ items: ApiSessionDetail[] }>('GET', `/api/v1/sessions?client=${agent.clientId}`);
    expect(s.items).toHaveLength(1);
    // Victims come from an installer without the search token, so a search finds the one client.
    const victimInst = await createInstaller(site.api, { jump_group: g, max_uses: 1000 });
    base[g] = { inst, victimInst, agent, id: agent.clientId, token, session: s.items[0].id };
  }
  lap('base');
  // One jump client per (interface, cell) of the delete column, enrolled and left offline.
  await pool(
    8,
    ['api', 'cli'].flatMap((iface) =>
      ROLES.flatMap((role) =>
        GROUPS.map((g) => async () => {
          const v = await rawAgent(base[groupOf(role, g)].victimInst, 'ignore', { stats: fixtureStats({ hostname: `victim-${iface}-${slug(role)}-${slug(g)}` }) });
          v.close();
          victims.set(`${iface}|${role}|${g}`, v.clientId);
        }),
      ),
    ),
  );
  lap('victims');
}, 120_000);

afterAll(async () => {
  for (const a of agents) a.close();
  await cleanup();
});

/** The jump client a cell acts on. */
const target = (iface: string, c: Cell) => (c.action === 'delete' ? victims.get(`${iface}|${c.role}|${c.group}`)! : base[groupOf(c.role, c.group)].id);

/** What a refusal code means in the table's terms; JUMP_INTERNAL_ERROR from the raw agent means the start reached it. */
function outcome(code: string | null, hidden: string): string {
  if (code === null || code === 'JUMP_INTERNAL_ERROR') return 'Y';
  if (code === 'PERMISSION_DENIED') return 'D';
  if (code === hidden) return 'H';
  return `unexpected ${code}`;
}
const HIDDEN_CODE: Record<Action, string> = {
  list: '',
  search: '',
  show: 'JUMP_CLIENT_NOT_FOUND',
  edit: 'JUMP_CLIENT_NOT_FOUND',
  delete: 'JUMP_CLIENT_NOT_FOUND',
  jump: 'JUMP_CLIENT_NOT_FOUND',
  tunnel: 'JUMP_CLIENT_NOT_FOUND',
  proxy: 'JUMP_CLIENT_NOT_FOUND',
  installer: 'JUMP_GROUP_NOT_FOUND',
  sessions: 'JUMP_SESSION_NOT_FOUND',
};
const SESSION_KIND: Partial<Record<Action, string>> = { jump: 'shell', tunnel: 'tunnel', proxy: 'proxy' };

/** Does cell `c` through the API; returns its outcome (Y, D, H, or what went wrong). */
async function apiCell(c: Cell): Promise<string> {
  const user = USER[c.role];
  const { api } = as[user];
  const g = groupOf(c.role, c.group);
  const id = target('api', c);
  const code = (p: Promise<unknown>) => p.then(() => null, codeOf);
  switch (c.action) {
    case 'list': {
      const r = await api.request<{ items: { id: number }[] }>('GET', '/api/v1/jump-clients');
      return r.items.some((i) => i.id === id) ? 'Y' : 'H';
    }
    case 'search': {
      const r = await api.request<{ items: { id: number }[] }>('GET', `/api/v1/jump-clients?search=${base[g].token}`);
      if (r.items.some((i) => i.id !== id)) return `search found other clients: ${r.items.map((i) => i.id).join(',')}`;
      return r.items.length === 1 ? 'Y' : 'H';
    }
    case 'show':
      return outcome(await code(api.request('GET', `/api/v1/jump-clients/${id}`)), HIDDEN_CODE.show);
    case 'edit': {
      const tag = `api-${slug(c.role)}`;
      const got = outcome(await code(api.request('PATCH', `/api/v1/jump-clients/${id}`, { tag })), HIDDEN_CODE.edit);
      const after = await site.api.request<{ item: { tag: string } }>('GET', `/api/v1/jump-clients/${id}`);
      if ((after.item.tag === tag) !== (got === 'Y')) return `edit answered ${got} but the tag is ${after.item.tag}`;
      return got;
    }
    case 'delete':
      return outcome(await code(api.request('DELETE', `/api/v1/jump-clients/${id}`)), HIDDEN_CODE.delete);
    case 'jump':
    case 'tunnel':
    case 'proxy':
      return outcome(
        await code(api.request('POST', `/api/v1/jump-clients/${id}/sessions`, { public_key: ephemeralKey().publicLine, kind: SESSION_KIND[c.action] })),
        HIDDEN_CODE.jump,
      );
    case 'installer':
      return outcome(await code(api.request('POST', '/api/v1/installers', { jump_group: g })), HIDDEN_CODE.installer);
    case 'sessions': {
      const sid = base[g].session;
      const shown = outcome(await code(api.request('GET', `/api/v1/sessions/${sid}`)), HIDDEN_CODE.sessions);
      const listed = (await api.request<{ items: { id: string }[] }>('GET', `/api/v1/sessions?client=${base[g].id}`)).items.some((s) => s.id === sid);
      if (listed !== (shown === 'Y')) return `sessions: show says ${shown}, the list ${listed ? 'has' : 'lacks'} it`;
      return shown;
    }
  }
}

/** Runs `jump ARGS --json` as `user`: the JSON answer, or the error code. */
async function jumpJson(user: string, args: string[], tail: string[] = []): Promise<{ code: string | null; json: any }> { // eslint-disable-line @typescript-eslint/no-explicit-any
  const r = await jump(as[user].dir, [...args, '--json', ...tail]);
  let json: any = null; // eslint-disable-line @typescript-eslint/no-explicit-any
  try {
    json = JSON.parse(r.stdout);
  } catch {
    /* below */
  }
  if (r.code === 0) return { code: null, json };
  return { code: json?.error?.code ?? `exit ${r.code}: ${r.stderr.trim().slice(0, 200)}`, json };
}

/** Does cell `c` with the `jump` CLI; returns its outcome. `lists` holds each user's `jump clients --json`. */
async function cliCell(c: Cell, lists: Map<string, Promise<{ id: number }[]>>): Promise<string> {
  const user = USER[c.role];
  const g = groupOf(c.role, c.group);
  const id = String(target('cli', c));
  const h = HIDDEN_CODE[c.action];
  switch (c.action) {
    case 'list': {
      if (!lists.has(user)) lists.set(user, jumpJson(user, ['clients']).then((r) => (r.code ? Promise.reject(new Error(r.code)) : r.json.items)));
      return (await lists.get(user)!).some((i) => String(i.id) === id) ? 'Y' : 'H';
    }
    case 'search': {
      const r = await jumpJson(user, ['clients', '--search', base[g].token]);
      if (r.code) return `search failed: ${r.code}`;
      return r.json.items.length === 1 && String(r.json.items[0].id) === id ? 'Y' : r.json.items.length === 0 ? 'H' : `search found ${r.json.items.map((i: { id: number }) => i.id).join(',')}`;
    }
    case 'show':
      return outcome((await jumpJson(user, ['clients', 'show', id])).code, h);
    case 'edit': {
      const tag = `cli-${slug(c.role)}`;
      const r = await jumpJson(user, ['clients', 'edit', id, '--tag', tag]);
      if (!r.code && r.json.items?.[0]?.tag !== tag) return `edit answered ${JSON.stringify(r.json)}`;
      return outcome(r.code, h);
    }
    case 'delete':
      return outcome((await jumpJson(user, ['clients', 'delete', id, '--yes'])).code, h);
    case 'jump':
      return outcome((await jumpJson(user, ['jump', id], ['--', 'true'])).code, h);
    case 'tunnel':
      return outcome((await jumpJson(user, ['tunnel', id, '0:127.0.0.1:9'])).code, h);
    case 'proxy':
      return outcome((await jumpJson(user, ['proxy', id])).code, h);
    case 'installer':
      return outcome((await jumpJson(user, ['installer', 'create', '--jump-group', g])).code, h);
    case 'sessions':
      return outcome((await jumpJson(user, ['sessions', 'show', base[g].session])).code, h);
  }
}

/** Cells whose outcome differs from the table, as readable lines. */
function mismatches(cells: Cell[], got: string[]): string[] {
  return cells.flatMap((c, i) => (got[i] === c.expected ? [] : [`${c.role} / ${c.group} / ${c.action}: table ${c.expected}, got ${got[i]}`]));
}

/** Ids of the jump clients that still exist (as the admin sees them). */
async function existing(): Promise<Set<number>> {
  const r = await site.api.request<{ items: { id: number }[] }>('GET', '/api/v1/jump-clients?limit=100000');
  return new Set(r.items.map((i) => i.id));
}

/**
 * The cells the CLI pass runs: `perRow` actions of every (role, group) row, chosen by the seed so
 * that every action is covered about equally (npm test: 2 per row, 24 processes; test:long: all
 * 120). The API pass always runs every cell.
 */
function cliSubset(cells: Cell[], perRow: number, seed: number): Cell[] {
  if (perRow >= ACTIONS.length) return cells;
  const rnd = seededRandom(seed);
  const offset = Math.floor(rnd() * ACTIONS.length);
  const out: Cell[] = [];
  let row = 0;
  for (const role of ROLES) {
    for (const group of GROUPS) {
      for (let j = 0; j < perRow; j++) {
        const action = ACTIONS[(offset + row * perRow + j) % ACTIONS.length];
        out.push(cells.find((c) => c.role === role && c.group === group && c.action === action)!);
      }
      row++;
    }
  }
  return out;
}

describe('the authorization matrix (authz-table.ts)', () => {
  const cells = authzCells();
  const perRow = Math.min(ACTIONS.length, testRuns(2, ACTIONS.length));
  const cliCells = cliSubset(cells, perRow, testSeed('authz-matrix'));

  it(`holds in every one of its ${ROLES.length * GROUPS.length * ACTIONS.length} cells through the API`, async () => {
    const got: string[] = [];
    for (const c of cells) got.push(await apiCell(c));
    expect(mismatches(cells, got)).toEqual([]);
    const left = await existing();
    const wrongDeletes = cells
      .filter((c) => c.action === 'delete')
      .filter((c) => left.has(target('api', c)) === (c.expected === 'Y'))
      .map((c) => `${c.role} / ${c.group}: expected ${c.expected}, the victim ${left.has(target('api', c)) ? 'is still there' : 'is gone'}`);
    expect(wrongDeletes).toEqual([]);
  });

  it(`holds in ${perRow} cells of every row through the \`jump\` CLI (real processes; all ${ACTIONS.length} in test:long)`, async () => {
    const lists = new Map<string, Promise<{ id: number }[]>>();
    const got = await pool(
      4,
      cliCells.map((c) => () => cliCell(c, lists)),
    );
    expect(mismatches(cliCells, got)).toEqual([]);
    const left = await existing();
    const wrongDeletes = cliCells
      .filter((c) => c.action === 'delete')
      .filter((c) => left.has(target('cli', c)) === (c.expected === 'Y'))
      .map((c) => `${c.role} / ${c.group}: expected ${c.expected}, the victim ${left.has(target('cli', c)) ? 'is still there' : 'is gone'}`);
    expect(wrongDeletes).toEqual([]);
  });

  it('recorded a session of each kind by each user exactly where the table allows a start', async () => {
    const all = (await site.api.request<{ items: ApiSessionDetail[] }>('GET', '/api/v1/sessions?limit=10000')).items;
    const wrong: string[] = [];
    for (const role of ROLES) {
      for (const g of GROUPS) {
        const client = base[groupOf(role, g)].id;
        const kinds = new Set(all.filter((s) => s.client_id === client && s.user === USER[role]).map((s) => s.kind));
        // The API's jump is a shell, the CLI's `jump jump ID -- true` an exec; tunnel and proxy are themselves.
        const want = new Set<string>();
        for (const a of ['jump', 'tunnel', 'proxy'] as const) {
          if (cells.find((c) => c.role === role && c.group === g && c.action === a)!.expected !== 'Y') continue;
          // The API pass ran every cell; the CLI pass only its subset.
          want.add(a === 'jump' ? 'shell' : a);
          if (a === 'jump' && cliCells.some((c) => c.role === role && c.group === g && c.action === a)) want.add('exec');
        }
        if (role === 'admin') want.add('shell'); // the setup's session
        const show = (s: Set<string>) => [...s].sort().join(',');
        if (show(kinds) !== show(want)) wrong.push(`${role} / ${g}: sessions of kinds [${show(kinds)}], table allows [${show(want)}]`);
      }
    }
    expect(wrong).toEqual([]);
  });
});
