/**
 * What a hostile endpoint or an installer-key holder can do to the site (security issue #12, items
 * 1 site half, 2, 3, 4 site half, 12, 14, 15), each attacked for real: raw agents that speak the
 * protocol with hostile values, a real agent process for the session kinds, raw WebSockets.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type ssh2 from 'ssh2';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SiteClient } from '../../console/http.js';
import { connectSsh, ephemeralKey, openSession } from '../../console/ssh.js';
import { SITE_BIN, cleanup, run, tempDir, waitFor } from '../helpers/processes.js';
import { rawAgent, type RawAgent } from '../helpers/raw-agent.js';
import { apiToken, createInstaller, fixtureStats, jump, listClients, startAgentProcess, startTestSite, type ClientJson, type TestSite } from '../helpers/site.js';

let site: TestSite;
let tech: SiteClient;
const raws: RawAgent[] = [];

/** Any character a terminal, a log line or an ssh_config would act on. */
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u200b\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069\ufeff]/;

function allStrings(v: unknown, out: string[] = []): string[] {
  if (typeof v === 'string') out.push(v);
  else if (Array.isArray(v)) for (const x of v) allStrings(x, out);
  else if (v && typeof v === 'object') for (const x of Object.values(v)) allStrings(x, out);
  return out;
}

async function raw(inst: Parameters<typeof rawAgent>[0], behaviour: Parameters<typeof rawAgent>[1] = 'ignore', opts: Parameters<typeof rawAgent>[2] = {}) {
  const r = await rawAgent(inst, behaviour, opts);
  raws.push(r);
  return r;
}

/** The error code a raw agent's handshake is refused with (and the site's message). */
async function refused(p: Promise<RawAgent>): Promise<{ code: string; message: string }> {
  try {
    raws.push(await p);
  } catch (err) {
    return { code: (err as Error).message, message: (err as { message_text?: string }).message_text ?? '' };
  }
  throw new Error('the handshake was not refused');
}

const getClient = (api: SiteClient, id: number) => api.request<{ item: ClientJson }>('GET', `/api/v1/jump-clients/${id}`).then((r) => r.item);

beforeAll(async () => {
  site = await startTestSite();
  const add = await run(process.execPath, [SITE_BIN, 'user', 'add', 'tess', '--password-stdin', '--data', site.dataDir], { input: 'correct horse battery' });
  expect(add.code).toBe(0);
  tech = new SiteClient(site.url, { certPem: site.certPem, token: await apiToken(site.url, site.certPem, 'tess', 'correct horse battery') });
  await site.api.request('POST', '/api/v1/jump-groups', { name: 'Tess Team' });
  await site.api.request('POST', '/api/v1/jump-groups/Tess Team/members', { user: 'tess' });
  await site.api.request('POST', '/api/v1/jump-groups', { name: 'Admins Only' });
});
afterAll(async () => {
  for (const r of raws) r.close();
  await cleanup();
});

describe('item 1: agent-reported text', () => {
  it('cleans newlines, ESC sequences, C1 and bidi controls from every statistic: the API returns only printable text', async () => {
    const inst = await createInstaller(site.api, { tag: 'hostile-stats' });
    const hostile = 'host\nMatch exec "touch /tmp/pwned"';
    const r = await raw(inst, 'ignore', {
      stats: fixtureStats({
        hostname: hostile,
        fqdn: 'x\x1b]0;owned\x07.example',
        os_name: '\x1b[2J\x1b[31mDebian',
        os_version: '12\r\nHost *',
        cpu_model: 'cpu\u202eevil\u2066',
        console_user: 'root\u009b31m',
        domain: 'a\u200fb\u0000',
        workgroup: 'WG\x7f',
        private_ips: ['10.0.0.1\nProxyCommand x'],
        agent_version: '0.1.0\x1b[0m',
      }),
    });
    const item = await waitFor(async () => {
      const c = await getClient(site.api, r.clientId);
      return c.hostname ? c : null;
    });
    expect(item.hostname).toContain('Match exec');
    for (const s of allStrings(item)) expect(s, JSON.stringify(s)).not.toMatch(UNSAFE);
    const list = await listClients(site.api, 'tag=hostile-stats');
    for (const s of allStrings(list)) expect(s, JSON.stringify(s)).not.toMatch(UNSAFE);
    // A later change (a delta) is cleaned too.
    r.ws.send(JSON.stringify({ t: 'stats', full: false, stats: { hostname: 'again\x1b[1A\n' } }));
    const again = await waitFor(async () => {
      const c = await getClient(site.api, r.clientId);
      return c.hostname?.startsWith('again') ? c : null;
    });
    expect(again.hostname).not.toMatch(UNSAFE);
  });

  it('refuses requested fields with control or bidi characters with VALIDATION_FAILED naming the flag, and enrolls nothing', async () => {
    const inst = await createInstaller(site.api, { tag: 'hostile-name', allow_override: ['name', 'comments'] });
    const bad = await refused(rawAgent(inst, 'ignore', { requested: { name: 'box\nHost *' } }));
    expect(bad.code).toBe('VALIDATION_FAILED');
    expect(bad.message).toContain('--jc-name');
    const bidi = await refused(rawAgent(inst, 'ignore', { requested: { comments: 'fine\u202etxt.exe' } }));
    expect(bidi.code).toBe('VALIDATION_FAILED');
    expect(bidi.message).toContain('--jc-comments');
    expect((await listClients(site.api, 'tag=hostile-name')).items).toEqual([]);
  });
});

describe('item 2: installer keys and jump groups', () => {
  it('makes installers that allow no overrides and a finite number of uses by default', async () => {
    const inst = await tech.request<{ uid: string }>('POST', '/api/v1/installers', {});
    const shown = await tech.request<{ item: { allow_override: string[]; max_uses: number | null } }>('GET', `/api/v1/installers/${inst.uid}`);
    expect(shown.item.allow_override).toEqual([]);
    expect(shown.item.max_uses).toBe(100);
  });

  it("refuses a technician's installer key enrolling into user:admin or a shared group its creator is not in", async () => {
    const inst = await tech.request<{ uid: string; key_info: string; site_url: string; site_pin: string }>('POST', '/api/v1/installers', {
      tag: 'tess-inst',
      allow_override: ['jump_group', 'name'],
    });
    for (const group of ['user:admin', 'Admins Only']) {
      const r = await refused(rawAgent(inst, 'ignore', { requested: { jump_group: group, name: 'innocent-printer' } }));
      expect(r.code).toBe('JUMP_GROUP_NOT_FOUND');
    }
    const all = await listClients(site.api, 'tag=tess-inst');
    expect(all.items).toEqual([]);
    // A group the creator may use is fine.
    const ok = await raw(inst, 'ignore', { requested: { jump_group: 'Tess Team' } });
    expect((await getClient(site.api, ok.clientId)).jump_group).toBe('Tess Team');
  });
});

describe("item 2: an installer lends only the groups its creator may use today", () => {
  it('refuses enrollment into the fixed group once the creator is removed from it, and every enrollment once the creator is deleted', async () => {
    const add = await run(process.execPath, [SITE_BIN, 'user', 'add', 'rita', '--password-stdin', '--data', site.dataDir], { input: 'rita horse battery' });
    expect(add.code).toBe(0);
    const rita = new SiteClient(site.url, { certPem: site.certPem, token: await apiToken(site.url, site.certPem, 'rita', 'rita horse battery') });
    await site.api.request('POST', '/api/v1/jump-groups', { name: 'Shared G' });
    await site.api.request('POST', '/api/v1/jump-groups/Shared G/members', { user: 'rita' });
    type Inst = { uid: string; key_info: string; site_url: string; site_pin: string };
    // No overrides at all: the group is the one fixed at creation.
    const shared = await rita.request<Inst>('POST', '/api/v1/installers', { jump_group: 'Shared G', tag: 'rita-shared' });
    const personal = await rita.request<Inst>('POST', '/api/v1/installers', { tag: 'rita-personal' });
    const before = await raw(shared);
    expect((await getClient(site.api, before.clientId)).jump_group).toBe('Shared G');
    await site.api.request('DELETE', '/api/v1/jump-groups/Shared G/members/rita');
    expect((await refused(rawAgent(shared, 'ignore'))).code).toBe('JUMP_GROUP_NOT_FOUND');
    // Her personal group still works until she is deleted.
    await raw(personal);
    const rm = await run(process.execPath, [SITE_BIN, 'user', 'remove', 'rita', '--data', site.dataDir]);
    expect(rm.code).toBe(0);
    expect((await refused(rawAgent(personal, 'ignore'))).code).toBe('INSTALLER_REVOKED');
    expect((await refused(rawAgent(shared, 'ignore'))).code).toBe('INSTALLER_REVOKED');
    expect((await listClients(site.api, 'tag=rita-shared')).items).toHaveLength(1);
    expect((await listClients(site.api, 'tag=rita-personal')).items).toHaveLength(1);
  });
});

describe('item 3: a machine id match from another installer', () => {
  it('flags the newcomer duplicate_of the existing client and deletes nothing; the real agent still connects', async () => {
    const victimInst = await createInstaller(site.api, { tag: 'victim' });
    const victim = await raw(victimInst, 'ignore', { machineId: 'victim-machine-id' });
    victim.close(); // offline, as a laptop at night
    await waitFor(async () => (await getClient(site.api, victim.clientId)).status === 'offline');

    const attackerInst = await tech.request<{ uid: string; key_info: string; site_url: string; site_pin: string }>('POST', '/api/v1/installers', { tag: 'attacker' });
    const attacker = await raw(attackerInst, 'ignore', { machineId: 'victim-machine-id' });
    expect((await getClient(site.api, attacker.clientId)).duplicate_of).toBe(victim.clientId);
    expect((await getClient(site.api, victim.clientId)).status).toBe('offline'); // still there

    // The real agent comes back with its key: welcome, not JUMP_CLIENT_DELETED.
    const back = await raw(victimInst, 'ignore', { key: victim.key, clientId: victim.clientId, machineId: 'victim-machine-id' });
    expect(back.clientId).toBe(victim.clientId);
  });
});

describe('item 4: one identity on two live connections', () => {
  it('quarantines the client, refuses both connections and Jumps into it until an admin releases it', async () => {
    const inst = await createInstaller(site.api, { tag: 'cloned-key' });
    const first = await raw(inst, 'accept-and-stall');
    const copy = await refused(rawAgent(inst, 'ignore', { key: first.key, clientId: first.clientId }));
    expect(copy.code).toBe('JUMP_CLIENT_QUARANTINED');
    // The first connection is refused too: no "newest wins".
    await first.closed;
    expect(first.errors).toContain('JUMP_CLIENT_QUARANTINED');

    // Offline is written in the store's next batch: wait for it.
    const item = await waitFor(async () => {
      const c = await getClient(site.api, first.clientId);
      return c.status === 'offline' ? c : null;
    });
    expect(item).toMatchObject({ quarantined: true, status: 'offline' });
    expect(item.quarantine_reason).toMatch(/two live connections/);
    expect(typeof item.quarantined_at).toBe('string');
    await expect(
      site.api.request('POST', `/api/v1/jump-clients/${first.clientId}/sessions`, { public_key: ephemeralKey().publicLine, kind: 'exec' }),
    ).rejects.toMatchObject({ code: 'JUMP_CLIENT_QUARANTINED' });
    // Either copy coming back alone is still refused.
    expect((await refused(rawAgent(inst, 'ignore', { key: first.key, clientId: first.clientId }))).code).toBe('JUMP_CLIENT_QUARANTINED');
    // Nor does the copy get around the quarantine by enrolling again with the key (review finding).
    expect((await refused(rawAgent(inst, 'ignore', { key: first.key }))).code).toBe('JUMP_CLIENT_QUARANTINED');

    // A technician may not release; an admin may.
    await expect(tech.request('POST', `/api/v1/jump-clients/${first.clientId}/release`, {})).rejects.toMatchObject({ code: expect.stringMatching(/PERMISSION_DENIED|JUMP_CLIENT_NOT_FOUND/) });
    // `jump clients show` says what to do; the admin does it with `jump clients release`.
    const shown = await jump(site.consoleDir, ['clients', 'show', String(first.clientId)]);
    expect(shown.stdout).toMatch(/quarantined/i);
    const released = await jump(site.consoleDir, ['clients', 'release', String(first.clientId), '--json']);
    expect(released.code, released.stderr).toBe(0);
    expect((JSON.parse(released.stdout) as { item: ClientJson }).item.quarantined).toBe(false);
    // Releasing again names the field: it is no longer quarantined.
    const twice = await jump(site.consoleDir, ['clients', 'release', String(first.clientId)]);
    expect(twice.code).toBe(1);
    expect(twice.stderr).toMatch(/^VALIDATION_FAILED: id: jump client \d+ is not quarantined/m);
    const again = await raw(inst, 'ignore', { key: first.key, clientId: first.clientId });
    expect(again.clientId).toBe(first.clientId);
  });
});

describe('item 4: a half-open previous connection', () => {
  it('is replaced, not quarantined, when it does not answer the ping', async () => {
    const inst = await createInstaller(site.api, { tag: 'half-open-key' });
    const first = await raw(inst);
    // Half-open: the first connection reads nothing more (so it cannot answer a ping).
    (first.ws as unknown as { _socket: import('node:net').Socket })._socket.pause();
    const second = await raw(inst, 'ignore', { key: first.key, clientId: first.clientId });
    expect(second.clientId).toBe(first.clientId);
    const item = await getClient(site.api, first.clientId);
    expect(item).toMatchObject({ quarantined: false, status: 'online' });
  });
});

describe('item 12: the session kind is signed and enforced, every PTY recorded', () => {
  let clientId: number;
  beforeAll(async () => {
    const inst = await createInstaller(site.api, { tag: 'kinds' });
    startAgentProcess(inst);
    clientId = (await waitFor(async () => (await listClients(site.api, 'tag=kinds')).items.find((c) => c.status === 'online'))).id;
  });

  async function sshSession(kind: 'exec' | 'shell' | 'tunnel' | 'sftp' | 'proxy') {
    const key = ephemeralKey();
    const { info, stream } = await openSession(site.api, String(clientId), kind, key.publicLine);
    const conn = await connectSsh(stream, info.host_key, key.privatePem);
    return { info, conn };
  }

  it('refuses a shell request and sftp in a session asked for as a command (exec)', async () => {
    const { conn } = await sshSession('exec');
    const shellErr = await new Promise<Error | undefined>((resolve) => conn.shell((err) => resolve(err)));
    expect(shellErr).toBeInstanceOf(Error);
    const sftpErr = await new Promise<Error | undefined>((resolve) => conn.sftp((err) => resolve(err)));
    expect(sftpErr).toBeInstanceOf(Error);
    // What the kind allows still works.
    const out = await new Promise<string>((resolve, reject) =>
      conn.exec('echo allowed', (err, ch) => {
        if (err) return reject(err);
        let s = '';
        ch.on('data', (d: Buffer) => (s += d));
        ch.on('close', () => resolve(s));
      }),
    );
    expect(out.trim()).toBe('allowed');
    conn.end();
  });

  it('refuses a command in a session asked for as a tunnel', async () => {
    const { conn } = await sshSession('tunnel');
    const err = await new Promise<Error | undefined>((resolve) => conn.exec('id', (e) => resolve(e)));
    expect(err).toBeInstanceOf(Error);
    conn.end();
  });

  it('logs which files an sftp session opened, wrote, renamed and removed; an sftp session cannot exec', async () => {
    const { info, conn } = await sshSession('sftp');
    expect(await new Promise<Error | undefined>((resolve) => conn.exec('id', (e) => resolve(e)))).toBeInstanceOf(Error);
    const sftp = await new Promise<ssh2.SFTPWrapper>((resolve, reject) => conn.sftp((err, s) => (err ? reject(err) : resolve(s))));
    const dir = tempDir('jump-sftp-');
    const file = join(dir, 'note\u202e.txt');
    await new Promise<void>((resolve, reject) => sftp.writeFile(file, 'secret plans', (err) => (err ? reject(err) : resolve())));
    await new Promise<void>((resolve, reject) => sftp.rename(file, join(dir, 'moved.txt'), (err) => (err ? reject(err) : resolve())));
    await new Promise<void>((resolve, reject) => sftp.unlink(join(dir, 'moved.txt'), (err) => (err ? reject(err) : resolve())));
    conn.end();
    const log = await waitFor(async () => {
      const s = await site.api.request<{ item: { file_log: boolean } }>('GET', `/api/v1/sessions/${info.session_id}`);
      if (!s.item.file_log) return null;
      const text = readFileSync(join(site.dataDir, 'recordings', `${info.session_id}.sftp.jsonl`), 'utf8');
      return text.includes('remove') ? text : null;
    });
    const ops = log.trim().split('\n').map((l) => JSON.parse(l) as [number, string, string, string | null]);
    const cleaned = join(dir, 'note\ufffd.txt'); // the bidi override in the name is cleaned
    expect(ops).toContainEqual([expect.any(Number), 'open', cleaned, 'w+create+trunc']);
    expect(ops).toContainEqual([expect.any(Number), 'rename', cleaned, join(dir, 'moved.txt')]);
    expect(ops).toContainEqual([expect.any(Number), 'remove', join(dir, 'moved.txt'), null]);
    expect(log).not.toContain('secret plans');
  });

  it('records a command run with a PTY (exec + pty-req)', async () => {
    const { info, conn } = await sshSession('exec');
    await new Promise<void>((resolve, reject) =>
      conn.exec('echo recorded-$((6*7))', { pty: { term: 'xterm', cols: 80, rows: 24 } } as ssh2.ExecOptions, (err, ch) => {
        if (err) return reject(err);
        ch.resume();
        ch.on('close', () => resolve());
      }),
    );
    conn.end();
    const rec = await waitFor(async () => {
      const s = await site.api.request<{ item: { recording: boolean } }>('GET', `/api/v1/sessions/${info.session_id}`);
      if (!s.item.recording) return null;
      const text = readFileSync(join(site.dataDir, 'recordings', `${info.session_id}.cast`), 'utf8');
      return text.includes('recorded-42') ? text : null;
    });
    expect(JSON.parse(rec.split('\n')[0])).toMatchObject({ version: 2, width: 80, height: 24 });
  });

  it('keeps every command line, records a command without a PTY, and keeps a proxy session\'s terminal recording and its SFTP file log (OpenSSH extensions included)', async () => {
    const { info, conn } = await sshSession('proxy');
    const execOut = (cmd: string, pty: boolean) =>
      new Promise<void>((resolve, reject) =>
        conn.exec(cmd, (pty ? { pty: { term: 'xterm', cols: 80, rows: 24 } } : {}) as ssh2.ExecOptions, (err, ch) => {
          if (err) return reject(err);
          ch.resume();
          ch.stderr.resume();
          ch.on('close', () => resolve());
        }),
      );
    await execOut('echo plain-$((6*7)) >&2; echo quiet-$((7*7))', false);
    await execOut('echo withpty-$((6*7))', true);
    const sftp = await new Promise<ssh2.SFTPWrapper>((resolve, reject) => conn.sftp((err, s) => (err ? reject(err) : resolve(s))));
    const dir = tempDir('jump-sftp-ext-');
    const cb = (resolve: () => void, reject: (e: Error) => void) => (err?: Error | null) => (err ? reject(err) : resolve());
    await new Promise<void>((resolve, reject) => sftp.writeFile(join(dir, 'a.txt'), 'data', cb(resolve, reject)));
    await new Promise<void>((resolve, reject) => sftp.ext_openssh_rename(join(dir, 'a.txt'), join(dir, 'b.txt'), cb(resolve, reject)));
    await new Promise<void>((resolve, reject) => sftp.ext_openssh_hardlink(join(dir, 'b.txt'), join(dir, 'c.txt'), cb(resolve, reject)));
    const handle = await new Promise<Buffer>((resolve, reject) => sftp.open(join(dir, 'c.txt'), 'r', (err, h) => (err ? reject(err) : resolve(h))));
    await new Promise<void>((resolve, reject) => sftp.fchmod(handle, 0o600, cb(resolve, reject)));
    await new Promise<void>((resolve, reject) => sftp.close(handle, cb(resolve, reject)));
    conn.end();
    type Item = { recording: boolean; file_log: boolean; commands: string[] };
    const item = await waitFor(async () => {
      const s = (await site.api.request<{ item: Item }>('GET', `/api/v1/sessions/${info.session_id}`)).item;
      if (!s.recording || !s.file_log || s.commands.length < 2) return null;
      const log = await site.api.requestText('GET', `/api/v1/sessions/${info.session_id}/recording?part=file_log`);
      const cast = await site.api.requestText('GET', `/api/v1/sessions/${info.session_id}/recording?part=terminal`);
      return log.includes('fsetstat') && cast.includes('withpty-42') && cast.includes('plain-42') ? { s, log, cast } : null;
    });
    expect(item.s.commands).toEqual(['echo plain-$((6*7)) >&2; echo quiet-$((7*7))', 'echo withpty-$((6*7))']);
    expect(item.cast).toContain('quiet-49');
    const ops = item.log.trim().split('\n').map((l) => JSON.parse(l) as [number, string, string, string | null]);
    expect(ops).toContainEqual([expect.any(Number), 'posix-rename', join(dir, 'a.txt'), join(dir, 'b.txt')]);
    expect(ops).toContainEqual([expect.any(Number), 'hardlink', join(dir, 'b.txt'), join(dir, 'c.txt')]);
    expect(ops).toContainEqual([expect.any(Number), 'fsetstat', expect.stringMatching(/^handle:[0-9a-f]+$/), null]);
    // The default download is still the terminal recording.
    expect(await site.api.requestText('GET', `/api/v1/sessions/${info.session_id}/recording`)).toBe(item.cast);
  });
});

describe('item 14: the agent session socket before authentication', () => {
  it('refuses an upgrade without the session id and token headers, before any WebSocket frame', async () => {
    const url = site.url.replace(/^https/, 'wss') + '/agent/v1/session';
    for (const headers of [{}, { 'x-jump-session-id': 'A'.repeat(22), 'x-jump-session-token': 'B'.repeat(43) }]) {
      const ws = new WebSocket(url, { rejectUnauthorized: false, headers, maxPayload: 2 * 1024 * 1024 });
      const outcome = await new Promise<string>((resolve) => {
        ws.once('open', () => {
          // The old site accepted this and buffered up to 1 MiB frames from a stranger.
          ws.send(Buffer.alloc(1024 * 1024));
          resolve('open');
        });
        ws.once('unexpected-response', (_req, res) => resolve(`http ${res.statusCode}`));
        ws.once('error', (err) => resolve(`error ${err.message}`));
      });
      ws.terminate();
      expect(outcome).toBe('http 404');
    }
  });
});

describe('item 15: session starts in progress', () => {
  const start = (api: SiteClient, id: number) =>
    api.request('POST', `/api/v1/jump-clients/${id}/sessions`, { public_key: ephemeralKey().publicLine, kind: 'exec' }).catch((e: unknown) => e);

  it('limits one jump client to 2 and one technician to 4 starts in progress (JUMP_STARTS_IN_PROGRESS)', async () => {
    const inst = await createInstaller(site.api, { tag: 'stall' });
    const [a, b, c] = [await raw(inst, 'accept-and-stall'), await raw(inst, 'accept-and-stall'), await raw(inst, 'accept-and-stall')];
    // Two stalled starts into a (the agent accepts and never attaches).
    const stalled = [start(site.api, a.clientId), start(site.api, a.clientId)];
    await new Promise((r) => setTimeout(r, 500));
    expect(await start(site.api, a.clientId)).toMatchObject({ code: 'JUMP_STARTS_IN_PROGRESS' });
    stalled.push(start(site.api, b.clientId), start(site.api, b.clientId));
    await new Promise((r) => setTimeout(r, 500));
    // Four in progress for the admin: a fifth, into another client, is refused.
    expect(await start(site.api, c.clientId)).toMatchObject({ code: 'JUMP_STARTS_IN_PROGRESS' });
    // Another technician is not held up by them (c is in Tess's view only if visible: use her group).
    const mine = await tech.request<{ key_info: string; site_url: string; site_pin: string }>('POST', '/api/v1/installers', { tag: 'tess-stall' });
    const d = await raw(mine, 'accept-and-stall');
    const hers = start(tech, d.clientId);
    const early = await Promise.race([hers, new Promise((r) => setTimeout(() => r('still starting'), 1_000))]);
    expect(early).toBe('still starting');
    void stalled;
  });
});
