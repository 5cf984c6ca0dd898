/**
 * Jump: sessions into a real agent through the site, with SSH end to end. OpenSSH's own ssh, scp
 * and sftp through `jump proxy`; PTY; exit statuses; port forwarding; recordings; and every Jump
 * error of the seeds, produced for real.
 */
import { createServer } from 'node:http';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import ssh2 from 'ssh2';
import type { Agent } from '../../agent/agent.js';
import { connectSsh, ephemeralKey, openSession } from '../../console/ssh.js';
import { AGENT_BIN, CONSOLE_BIN, SITE_BIN, cleanup, run, start, tempDir, waitFor, type Proc } from '../helpers/processes.js';
import { rawAgent, type RawAgent } from '../helpers/raw-agent.js';
import { createInstaller, inProcessAgent, jump, listClients, login, startAgentProcess, startTestSite, type ClientJson, type TestSite } from '../helpers/site.js';

let site: TestSite;
let agent: { proc: Proc; configDir: string };
let client: ClientJson;
const others: Agent[] = [];
const raws: RawAgent[] = [];

beforeAll(async () => {
  // High per-user/per-client start limits: the JUMP_SERVER_BUSY test below fills the site-wide 20
  // from one technician into one client (hostile-endpoint.test.ts tests the per-user/client limits).
  site = await startTestSite({
    extraArgs: ['--session-connect-timeout', '1s', '--max-session-starts-per-user', '100', '--max-session-starts-per-client', '100'],
  });
  const inst = await createInstaller(site.api, { tag: 'jump' });
  agent = startAgentProcess(inst);
  // Online and past its first statistics, so it has its real name (the hostname).
  client = await waitFor(async () => (await listClients(site.api, 'tag=jump')).items.find((c) => c.status === 'online' && c.hostname));
  await jump(site.consoleDir, ['clients', 'edit', String(client.id), '--name', 'jump-target']);
  client = { ...client, name: 'jump-target' };
  const cfg = await jump(site.consoleDir, ['ssh-config', '--write']);
  expect(cfg.code).toBe(0);
});
afterAll(async () => {
  for (const r of raws) r.close();
  await Promise.all(others.map((a) => a.stop()));
  await cleanup();
});

const sshConfig = () => join(site.consoleDir, 'ssh_config');
const host = () => `jump-${client.id}`;
const jumpCmd = (args: string[], input?: string) => jump(site.consoleDir, args, input);

describe('jump jump', () => {
  for (const status of [0, 1, 42]) {
    it(`returns the remote exit status ${status} as its own`, async () => {
      const r = await jumpCmd(['jump', String(client.id), '--', `echo out; echo err >&2; exit ${status}`]);
      expect(r.code).toBe(status);
      expect(r.stdout).toBe('out\n');
      expect(r.stderr).toBe('err\n');
    });
  }

  it('joins the words with spaces for the remote shell, like ssh (quote for the remote side)', async () => {
    const r = await jumpCmd(['jump', client.name, '--', 'printf', "'%s|'", "'a b'", `"it's"`, "'$HOME'", "';'"]);
    expect(r.stdout).toBe("a b|it's|$HOME|;|");
  });

  it('records the session: technician, client, bytes, exit status, and the Last Access Date', async () => {
    await jumpCmd(['jump', String(client.id), '--', 'exit 5']);
    const list = JSON.parse((await jumpCmd(['sessions', '--client', String(client.id), '--json'])).stdout).items;
    const s = await waitFor(async () => {
      const r = JSON.parse((await jumpCmd(['sessions', '--client', String(client.id), '--json'])).stdout).items[0];
      return r.exit_status === 5 && r.ended_at ? r : null;
    }, 20_000, 200, 'exit status 5 recorded');
    expect(list.length).toBeGreaterThan(0);
    expect(s).toMatchObject({ user: 'admin', kind: 'exec', client_id: client.id });
    expect(s.bytes_to_client).toBeGreaterThan(0);
    expect(s.bytes_from_client).toBeGreaterThan(0);
    const c = (await site.api.request<{ item: ClientJson }>('GET', `/api/v1/jump-clients/${client.id}`)).item;
    expect(Date.now() - Date.parse(String(c.last_access))).toBeLessThan(60_000);
  });
});

describe('a shell with a real PTY', () => {
  it('has a /dev/pts terminal whose size follows window changes, and is recorded as asciicast v2', async () => {
    const key = ephemeralKey();
    const { info, stream } = await openSession(site.api, String(client.id), 'shell', key.publicLine);
    const conn = await connectSsh(stream, info.host_key, key.privatePem);
    let output = '';
    const ch = await new Promise<ssh2.ClientChannel>((resolve, reject) =>
      conn.shell({ term: 'xterm', cols: 100, rows: 30 }, (err, c) => (err ? reject(err) : resolve(c))),
    );
    ch.on('data', (d: Buffer) => (output += d.toString()));
    ch.write('tty; stty size\n');
    await waitFor(() => /\/dev\/pts\/\d+/.test(output) && output.includes('30 100'), 10_000, 50, 'tty and size').catch((err: Error) => {
      throw new Error(`${err.message}; the shell printed: ${JSON.stringify(output.slice(-500))} (a slow login shell rc file of the agent's user, e.g. a stuck pyenv rehash lock, shows as nothing but the echo)`);
    });
    ch.setWindow(40, 120, 0, 0);
    ch.write('stty size; exit 3\n');
    const code = await new Promise<number>((resolve) => ch.on('exit', (c: number) => resolve(c)));
    expect(code).toBe(3);
    expect(output).toContain('40 120');
    conn.end();

    const rec = await waitFor(async () => {
      try {
        const text = (await run(process.execPath, [CONSOLE_BIN, 'sessions', 'show', info.session_id, '--recording'], { env: { JUMP_CONFIG_DIR: site.consoleDir } })).stdout;
        return text.includes('40 120') ? text : null;
      } catch {
        return null;
      }
    });
    const lines = rec.trim().split('\n').map((l) => JSON.parse(l));
    expect(lines[0]).toMatchObject({ version: 2, width: 100, height: 30 });
    expect(typeof lines[0].timestamp).toBe('number');
    let last = 0;
    for (const e of lines.slice(1)) {
      expect(e).toHaveLength(3);
      expect(['o', 'r']).toContain(e[1]);
      expect(e[0]).toBeGreaterThanOrEqual(last);
      last = e[0];
    }
    expect(lines.some((e) => e[1] === 'r' && e[2] === '120x40')).toBe(true);
    expect(lines.filter((e) => e[1] === 'o').map((e) => e[2]).join('')).toMatch(/\/dev\/pts\/\d+/);
  });
});

describe('OpenSSH through jump proxy', () => {
  it('ssh runs a command with strict host key checking and the known_hosts jump ssh-config wrote', async () => {
    const r = await run('ssh', ['-F', sshConfig(), host(), 'echo hello from $(hostname); exit 7']);
    expect(r.code).toBe(7);
    expect(r.stdout.trim()).toMatch(/^hello from /);
  });

  it('works with ProxyCommand="jump proxy %n" written by hand', async () => {
    const proxy = `env JUMP_CONFIG_DIR=${site.consoleDir} ${process.execPath} ${CONSOLE_BIN} proxy %n`;
    const r = await run('ssh', [
      '-F', '/dev/null',
      '-o', `ProxyCommand=${proxy}`,
      '-o', `UserKnownHostsFile=${join(site.consoleDir, 'known_hosts')}`,
      '-o', 'StrictHostKeyChecking=yes',
      '-o', 'IdentitiesOnly=yes',
      '-i', join(site.consoleDir, 'id_ed25519'),
      host(), 'true',
    ]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
  });

  it('refuses a jump client whose host key is not the one in known_hosts', async () => {
    const bad = join(tempDir(), 'known_hosts');
    writeFileSync(bad, `${host()} ${ephemeralKey().publicLine}\n`);
    const r = await run('ssh', ['-F', sshConfig(), '-o', `UserKnownHostsFile=${bad}`, host(), 'true']);
    expect(r.code).toBe(255);
    expect(r.stderr).toMatch(/host key|HOST IDENTIFICATION/i);
  });

  it('scp copies a file both ways, byte for byte', async () => {
    const dir = tempDir();
    const src = join(dir, 'src.bin');
    writeFileSync(src, Buffer.from(Array.from({ length: 3 * 1024 * 1024 }, (_, i) => (i * 7919) % 256)));
    const remote = join(dir, 'remote.bin');
    expect((await run('scp', ['-F', sshConfig(), src, `${host()}:${remote}`])).code).toBe(0);
    expect(readFileSync(remote).equals(readFileSync(src))).toBe(true);
    const back = join(dir, 'back.bin');
    expect((await run('scp', ['-F', sshConfig(), `${host()}:${remote}`, back])).code).toBe(0);
    expect(readFileSync(back).equals(readFileSync(src))).toBe(true);
  });

  it('sftp lists, puts and gets with the run-as user’s permissions', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'a.txt'), 'sftp works\n');
    const batch = `put ${join(dir, 'a.txt')} ${join(dir, 'b.txt')}\nls ${dir}\nget ${join(dir, 'b.txt')} ${join(dir, 'c.txt')}\n`;
    const r = await run('sftp', ['-F', sshConfig(), '-b', '-', host()], { input: batch });
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('b.txt');
    expect(readFileSync(join(dir, 'c.txt'), 'utf8')).toBe('sftp works\n');

    // The console shows the session's SFTP file log and prints it.
    const id = await waitFor(async () => {
      const items = JSON.parse((await jumpCmd(['sessions', '--json'])).stdout).items as { id: string; file_log?: boolean }[];
      return items.find((x) => x.file_log)?.id ?? null;
    });
    expect((await jumpCmd(['sessions', 'show', id])).stdout).toMatch(/SFTP file log[\s│|]+yes/);
    const log = await waitFor(async () => {
      const text = (await jumpCmd(['sessions', 'show', id, '--file-log'])).stdout;
      return text.includes(join(dir, 'b.txt')) ? text : null;
    });
    for (const line of log.trim().split('\n')) expect(() => JSON.parse(line)).not.toThrow();
  });
});

describe('port forwarding', () => {
  it('jump tunnel reaches an HTTP server on the endpoint; a target outside the allowed set is refused', async () => {
    const server = createServer((_q, res) => res.end('behind the endpoint'));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    const port = (server.address() as { port: number }).port;
    try {
      const t = start(process.execPath, [CONSOLE_BIN, 'tunnel', String(client.id), `0:127.0.0.1:${port}`, '--json'], { env: { JUMP_CONFIG_DIR: site.consoleDir } });
      const local = await waitFor(() => {
        const m = /"local_port": (\d+)/.exec(t.stdout());
        return m ? Number(m[1]) : null;
      });
      const body = await (await fetch(`http://127.0.0.1:${local}/`)).text();
      expect(body).toBe('behind the endpoint');
      t.child.kill('SIGTERM');

      const refused = start(process.execPath, [CONSOLE_BIN, 'tunnel', String(client.id), '0:192.0.2.10:80', '--json'], { env: { JUMP_CONFIG_DIR: site.consoleDir } });
      const local2 = await waitFor(() => {
        const m = /"local_port": (\d+)/.exec(refused.stdout());
        return m ? Number(m[1]) : null;
      });
      await expect(fetch(`http://127.0.0.1:${local2}/`)).rejects.toThrow();
      await waitFor(() => refused.stderr().includes('JUMP_FORWARD_REFUSED'));
      refused.child.kill('SIGTERM');
      // The agent's log is written asynchronously: wait for the line rather than read it once.
      await waitFor(() => readFileSync(join(agent.configDir, 'agent.log'), 'utf8').includes('port forward refused') || null, 5_000, 100, 'agent log line');
    } finally {
      server.close();
    }
  });

  it('ssh -W through the proxy is refused for a public address', async () => {
    const r = await run('ssh', ['-F', sshConfig(), '-o', 'ExitOnForwardFailure=yes', '-W', '192.0.2.10:80', host()]);
    expect(r.code).toBe(255);
  });
});

describe('idle sessions', () => {
  it('ends a session with no traffic after --session-idle-timeout and records why', async () => {
    const idle = await startTestSite({ extraArgs: ['--session-idle-timeout', '1s'] });
    const inst = await createInstaller(idle.api, { tag: 'idle' });
    startAgentProcess(inst);
    const c = await waitFor(async () => (await listClients(idle.api, 'tag=idle')).items.find((x) => x.status === 'online'));
    const key = ephemeralKey();
    const { info, stream } = await openSession(idle.api, String(c.id), 'tunnel', key.publicLine);
    const conn = await connectSsh(stream, info.host_key, key.privatePem);
    const closed = new Promise<void>((r) => conn.on('close', () => r()));
    await closed; // nothing is sent: the site ends it
    const s = await waitFor(async () => {
      const r = await idle.api.request<{ item: { end_reason: string | null } }>('GET', `/api/v1/sessions/${info.session_id}`);
      return r.item.end_reason ? r.item : null;
    });
    expect(s.end_reason).toBe('idle timeout');
  });
});

describe('Jump errors (seeds appendix)', () => {
  const key = () => ephemeralKey().publicLine;
  const startVia = (ref: string | number) => site.api.request('POST', `/api/v1/jump-clients/${ref}/sessions`, { public_key: key(), kind: 'exec' });

  it('JUMP_CLIENT_NOT_FOUND for a deleted client, and for one the technician may not see', async () => {
    const inst = await createInstaller(site.api, { tag: 'gone' });
    others.push(inProcessAgent(inst));
    const c = await waitFor(async () => (await listClients(site.api, 'tag=gone')).items[0]);
    await jumpCmd(['clients', 'delete', '--yes', String(c.id)]);
    const r = await jumpCmd(['jump', String(c.id), '--', 'true']);
    expect(r.code).toBe(255); // jump's own failure, as ssh
    expect(r.stderr).toContain('JUMP_CLIENT_NOT_FOUND');

    // A technician outside the jump group of a live client gets the same answer as for a missing one.
    const added = await run(process.execPath, [SITE_BIN, 'user', 'add', 'outsider', '--password-stdin', '--data', site.dataDir], { input: 'correct horse battery' });
    expect(added.code).toBe(0);
    const outsider = tempDir('outsider-');
    await login(site, outsider, 'outsider', 'correct horse battery');
    const hidden = await jump(outsider, ['jump', String(client.id), '--', 'true']);
    expect(hidden.code).toBe(255);
    expect(hidden.stderr).toContain('JUMP_CLIENT_NOT_FOUND');
  });

  it('JUMP_CLIENT_OFFLINE for a stopped agent', async () => {
    const inst = await createInstaller(site.api, { tag: 'stopped' });
    const a = startAgentProcess(inst);
    const c = await waitFor(async () => (await listClients(site.api, 'tag=stopped')).items.find((x) => x.status === 'online'));
    a.proc.child.kill('SIGTERM');
    await a.proc.exited;
    await waitFor(async () => (await listClients(site.api, 'tag=stopped')).items[0].status === 'offline');
    expect((await jumpCmd(['jump', String(c.id), '--', 'true'])).stderr).toContain('JUMP_CLIENT_OFFLINE');
  });

  it('JUMP_CLIENT_UNINSTALLED after `jump-client uninstall`, and the item stays listed', async () => {
    const inst = await createInstaller(site.api, { tag: 'uninstalled' });
    const a = startAgentProcess(inst);
    const c = await waitFor(async () => (await listClients(site.api, 'tag=uninstalled')).items.find((x) => x.status === 'online' && x.hostname));
    a.proc.child.kill('SIGTERM');
    await a.proc.exited;
    const u = await run(process.execPath, [AGENT_BIN, 'uninstall', '--config', a.configDir]);
    expect(u.code).toBe(0);
    expect(u.stdout).toContain('the site shows it as uninstalled');
    const listed = (await listClients(site.api, 'tag=uninstalled')).items[0];
    expect(listed).toMatchObject({ id: c.id, status: 'uninstalled', hostname: c.hostname });
    expect((await jumpCmd(['jump', String(c.id), '--', 'true'])).stderr).toContain('JUMP_CLIENT_UNINSTALLED');
    // Safe to run twice.
    expect((await run(process.execPath, [AGENT_BIN, 'uninstall', '--config', a.configDir])).code).toBe(0);
  });

  it('JUMP_CLIENT_DISABLED while the local user has disabled it, and allowed again after enable', async () => {
    const inst = await createInstaller(site.api, { tag: 'disabled' });
    const a = startAgentProcess(inst);
    const c = await waitFor(async () => (await listClients(site.api, 'tag=disabled')).items.find((x) => x.status === 'online'));
    expect((await run(process.execPath, [AGENT_BIN, 'disable', '--config', a.configDir])).code).toBe(0);
    expect((await jumpCmd(['jump', String(c.id), '--', 'true'])).stderr).toContain('JUMP_CLIENT_DISABLED');
    expect((await run(process.execPath, [AGENT_BIN, 'enable', '--config', a.configDir])).code).toBe(0);
    expect((await jumpCmd(['jump', String(c.id), '--', 'true'])).code).toBe(0);
  });

  it('JUMP_VERSION_MISMATCH for a jump client of another version', async () => {
    const inst = await createInstaller(site.api, { tag: 'old' });
    const old = inProcessAgent(inst, { agentVersion: '0.0.9' });
    others.push(old);
    const c = await waitFor(async () => (await listClients(site.api, 'tag=old')).items.find((x) => x.status === 'online'));
    await expect(startVia(c.id)).rejects.toMatchObject({ code: 'JUMP_VERSION_MISMATCH' });
  });

  it('JUMP_CONNECT_TIMEOUT when the jump client does not answer', async () => {
    const r = await rawAgent(await createInstaller(site.api), 'ignore');
    raws.push(r);
    await expect(startVia(r.clientId)).rejects.toMatchObject({ code: 'JUMP_CONNECT_TIMEOUT' });
  });

  it('JUMP_INTERNAL_TIMEOUT when it accepts but never attaches its session socket', async () => {
    const r = await rawAgent(await createInstaller(site.api), 'accept-and-stall');
    raws.push(r);
    await expect(startVia(r.clientId)).rejects.toMatchObject({ code: 'JUMP_INTERNAL_TIMEOUT' });
  });

  it('JUMP_INTERNAL_ERROR when the jump client fails to make the session', async () => {
    const r = await rawAgent(await createInstaller(site.api), 'refuse-internal');
    raws.push(r);
    await expect(startVia(r.clientId)).rejects.toMatchObject({ code: 'JUMP_INTERNAL_ERROR' });
  });

  it('JUMP_ACTIVE_NOT_CONNECTED when it disconnects during the start', async () => {
    const r = await rawAgent(await createInstaller(site.api), 'disconnect');
    await expect(startVia(r.clientId)).rejects.toMatchObject({ code: 'JUMP_ACTIVE_NOT_CONNECTED' });
  });

  it('JUMP_SERVER_BUSY for the 21st simultaneous start, at once; nothing hangs and Jump still works', async () => {
    const r = await rawAgent(await createInstaller(site.api), 'ignore');
    raws.push(r);
    const t0 = Date.now();
    const results = await Promise.allSettled(
      Array.from({ length: 21 }, () =>
        startVia(r.clientId).catch((e) => {
          throw Object.assign(e, { at: Date.now() - t0 });
        }),
      ),
    );
    const codes = results.map((x) => (x.status === 'rejected' ? (x.reason as { code: string }).code : 'ok'));
    expect(codes.filter((c) => c === 'JUMP_SERVER_BUSY')).toHaveLength(1);
    expect(codes.filter((c) => c === 'JUMP_CONNECT_TIMEOUT')).toHaveLength(20);
    const busy = results.find((x) => x.status === 'rejected' && (x.reason as { code: string }).code === 'JUMP_SERVER_BUSY') as PromiseRejectedResult;
    expect(busy.reason.at).toBeLessThan(1000); // answered before the others timed out
    expect((await jumpCmd(['jump', String(client.id), '--', 'true'])).code).toBe(0);
  });

  it('JUMP_TICKET_INVALID when SSH offers a key other than the ticket’s (the relay alone cannot open a shell)', async () => {
    const ticketKey = ephemeralKey();
    const otherKey = ephemeralKey();
    const { info, stream } = await openSession(site.api, String(client.id), 'shell', ticketKey.publicLine);
    await expect(connectSsh(stream, info.host_key, otherKey.privatePem)).rejects.toMatchObject({ code: 'JUMP_TICKET_INVALID' });
  });

  it('JUMP_TICKET_INVALID when the ticket has expired before SSH authenticates', async () => {
    const short = await startTestSite({ extraArgs: ['--ticket-ttl', '1ms'] });
    const inst = await createInstaller(short.api, { tag: 'ttl' });
    startAgentProcess(inst);
    const c = await waitFor(async () => (await listClients(short.api, 'tag=ttl')).items.find((x) => x.status === 'online'));
    const r = await jump(short.consoleDir, ['jump', String(c.id), '--', 'true']);
    expect(r.code).toBe(255);
    expect(r.stderr).toContain('JUMP_TICKET_INVALID');
  });
});
