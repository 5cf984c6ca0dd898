/**
 * Issue #14, the console as a sysadmin meets it: logging in again without flags, Ctrl-C (exit 130,
 * nothing left behind), --timeout against a hung site, `jump jump` without a terminal, exit codes
 * like ssh's, busy local ports, EPIPE, and errors that name the site and the fix. Every test
 * drives the built `jump` as a real process (a PTY where a terminal matters) against a real site.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ApiInstaller } from '../../protocol/api.js';
import { CONSOLE_BIN, SITE_BIN, cleanup, run, start, tempDir, waitFor } from '../helpers/processes.js';
import { createInstaller, jump, listClients, login, startAgentProcess, startTestSite, type TestSite } from '../helpers/site.js';
import { consoleOnTty } from '../helpers/tty.js';

let site: TestSite;
beforeAll(async () => {
  site = await startTestSite();
  const added = await run(process.execPath, [SITE_BIN, 'user', 'add', 'tech', '--password-stdin', '--data', site.dataDir], { input: 'tech password 123' });
  expect(added.code, added.stderr).toBe(0);
});
afterAll(cleanup);

/** `jump ARGS` on a pseudo-terminal (test/helpers/tty.ts); `steps` are [prompt, what to type] ('\x03' is Ctrl-C). */
const onTty = (dir: string, args: string[], steps: [RegExp, string][]) => consoleOnTty(args, steps, { dir });

/** A TCP port something else is listening on. */
async function busyPort(): Promise<{ server: Server; port: number }> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return { server, port: (server.address() as { port: number }).port };
}

describe('item 1: jump login defaults to the current site and user', () => {
  it('logs in again with no --site and no --user after the token was revoked, as the hint says', async () => {
    const dir = tempDir();
    await login(site, dir, 'tech', 'tech password 123');
    expect((await jump(dir, ['logout'])).code).toBe(0);
    // After logout there is no current login; a fresh login then a server-side revoke keeps it current.
    await login(site, dir, 'tech', 'tech password 123');
    const cfg = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
    cfg.sites[site.url].token = 'jst_revoked_or_expired';
    writeFileSync(join(dir, 'config.json'), JSON.stringify(cfg));
    const denied = await jump(dir, ['clients']);
    expect(denied.code).toBe(1);
    expect(denied.stderr).toContain(`UNAUTHENTICATED`);
    expect(denied.stderr).toContain(`Site: ${site.url}. Fix: jump login --site ${site.url}`);
    const again = await jump(dir, ['login', '--password-stdin'], 'tech password 123');
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toContain(`Logged in to ${site.url} as tech`);
    expect((await jump(dir, ['clients'])).code).toBe(0);
  });

  it('with no login at all, says to give --site (VALIDATION_FAILED naming --site)', async () => {
    const r = await jump(tempDir(), ['login', '--password-stdin'], 'x');
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^VALIDATION_FAILED: --site: .*Fix: jump login --site https:\/\/HOST:PORT/);
  });
});

describe('item 7: errors name the site and the fix', () => {
  it('CONSOLE_NOT_LOGGED_IN names the site asked for and the exact login command', async () => {
    const r = await jump(tempDir(), ['clients', '--site', site.url]);
    expect(r.code).toBe(1);
    expect(r.stderr.trim()).toBe(`CONSOLE_NOT_LOGGED_IN: Not logged in to the site. Site: ${site.url}. Fix: jump login --site ${site.url}`);
  });

  it('reads --site host:port as https://host:port, at login and after', async () => {
    const dir = tempDir();
    const hostPort = site.url.replace(/^https:\/\//, '');
    const r = await jump(dir, ['login', '--site', hostPort, '--password-stdin'], site.adminPassword);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(`Logged in to ${site.url}`);
    expect((await jump(dir, ['clients', '--site', hostPort])).code).toBe(0);
  });

  it('a validation error names the field in its text, without the generic preamble', async () => {
    const r = await jump(site.consoleDir, ['clients', '--site', 'http://example.com']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^VALIDATION_FAILED: --site: "http:\/\/example.com" is not a site address\. Fix: /);
    expect(r.stderr).not.toContain('A field has an invalid value');
  });
});

describe('item 2: Ctrl-C', () => {
  it('at the login password prompt exits 130 and stores nothing', async () => {
    const dir = tempDir();
    const r = await onTty(dir, ['login', '--site', site.url, '--fingerprint', site.fingerprint], [[/Password for admin: /, '\x03']]);
    expect(r.code, r.output).toBe(130);
    expect((await jump(dir, ['clients'])).stderr).toContain('CONSOLE_NOT_LOGGED_IN');
  });

  it('at the passwd prompt exits 130', async () => {
    const dir = tempDir();
    await login(site, dir, 'admin', site.adminPassword);
    const r = await onTty(dir, ['passwd'], [[/Current password: /, 'typed'], [/New password: /, '\x03']]);
    expect(r.code, r.output).toBe(130);
    expect((await jump(dir, ['clients'])).code).toBe(0);
  });

  it('during installer create --platform removes the partial file and revokes the installer whose KEY_INFO was never shown', async () => {
    // A package whose payload takes a while to compress, so the interrupt lands mid-write.
    const pkg = tempDir('pkg-');
    writeFileSync(join(pkg, 'jump-client'), randomBytes(48 * 1024 * 1024));
    mkdirSync(join(pkg, 'lib'));
    writeFileSync(join(pkg, 'init-script'), '#!/bin/sh\n');
    writeFileSync(join(pkg, 'uninstall'), '#!/bin/sh\n');
    writeFileSync(join(pkg, 'bin-stub.sh'), '#!/bin/sh\n# @@NAME@@ @@OFFSET@@\nexit 0\n');
    const outDir = tempDir('out-');
    const p = start(process.execPath, [CONSOLE_BIN, 'installer', 'create', '--tag', 'ctrl-c', '--platform', 'linux-x64', '--out', outDir, '--package-dir', pkg], {
      env: { JUMP_CONFIG_DIR: site.consoleDir },
    });
    await waitFor(() => readdirSync(outDir).some((f) => f.includes('.partial-')), 20_000, 5, 'the partial file');
    p.child.kill('SIGINT');
    const { code } = await p.exited;
    expect(code, p.stderr()).toBe(130);
    expect(p.stdout()).not.toContain('KEY_INFO');
    expect(readdirSync(outDir)).toEqual([]);
    const list = JSON.parse((await jump(site.consoleDir, ['installer', 'list', '--json'])).stdout) as { items: ApiInstaller[] };
    const mine = list.items.filter((i) => i.tag === 'ctrl-c');
    expect(mine).toHaveLength(1);
    expect(mine[0].revoked_at).not.toBeNull();
    expect(p.stderr()).toContain(`installer ${mine[0].uid} was revoked`);
  });
});

describe('item 3: no silent waits', () => {
  it('gives up on a hung site after --timeout, saying what it waits for after 2 s', async () => {
    site.proc.child.kill('SIGSTOP');
    try {
      const t0 = Date.now();
      const r = await jump(site.consoleDir, ['--timeout', '3s', 'clients']);
      const took = Date.now() - t0;
      expect(r.code).toBe(1);
      expect(r.stderr).toContain(`waiting for ${site.url} ...`);
      expect(r.stderr).toContain(`SITE_UNREACHABLE`);
      expect(r.stderr).toContain(`No answer from ${site.url} within 3s (--timeout)`);
      expect(took).toBeGreaterThanOrEqual(2_900);
      expect(took).toBeLessThan(10_000);
      // The leaf form and login take it too; a 1s timeout gives up before the notice.
      const l = await jump(tempDir(), ['login', '--site', site.url, '--password-stdin', '--timeout', '1s'], 'x');
      expect(l.code).toBe(1);
      expect(l.stderr).toContain('within 1s (--timeout)');
      expect(l.stderr).not.toContain('waiting for');
    } finally {
      site.proc.child.kill('SIGCONT');
    }
  });

  it('refuses a bad --timeout as a usage error', async () => {
    const r = await jump(site.consoleDir, ['clients', '--timeout', 'soon']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--timeout takes');
  });

  it('jump jump without a terminal on stdin and no command refuses at once (exit 2)', async () => {
    const r = await jump(site.consoleDir, ['jump', '1']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('give a command after --');
  });
});

describe('item 4: catalog errors, never a stack', () => {
  it('jump tunnel on a busy local port: LOCAL_PORT_IN_USE naming the port', async () => {
    const { server, port } = await busyPort();
    try {
      const r = await jump(site.consoleDir, ['tunnel', '1', `${port}:127.0.0.1:22`]);
      expect(r.code).toBe(1);
      expect(r.stderr.trim()).toBe(`LOCAL_PORT_IN_USE: The local port of the tunnel is already in use by another program. (127.0.0.1:${port}). Fix: choose another LOCALPORT, or 0 for a free one.`);
    } finally {
      server.close();
    }
  });

  it('--json into a reader that exits early (EPIPE) exits quietly', () => {
    // `true` is gone long before node has started, so every write meets a closed pipe.
    const script = `"${process.execPath}" "${CONSOLE_BIN}" installer list --json 2>"$ERR" | true; echo "\${PIPESTATUS[0]}"`;
    const errFile = join(tempDir(), 'stderr');
    const status = execFileSync('bash', ['-c', script], { env: { ...process.env, JUMP_CONFIG_DIR: site.consoleDir, ERR: errFile }, encoding: 'utf8' });
    expect(readFileSync(errFile, 'utf8')).toBe('');
    expect(status.trim()).toBe('0');
  });
});

describe('items 6 and 7 with a jump client: exit codes like ssh, the remote shell, offline since', () => {
  it('255 for its own failures, the remote status otherwise; words joined for the remote shell; offline since when', async () => {
    const nf = await jump(site.consoleDir, ['jump', '99999', '--', 'true']);
    expect(nf.code).toBe(255);
    expect(nf.stderr).toContain('JUMP_CLIENT_NOT_FOUND');

    const inst = await createInstaller(site.api, { tag: 'session-cli' });
    const agent = startAgentProcess(inst);
    const c = await waitFor(async () => (await listClients(site.api, 'tag=session-cli')).items.find((x) => x.status === 'online'));
    const both = await jump(site.consoleDir, ['jump', String(c.id), '--', 'echo a; echo b']);
    expect(both.code, both.stderr).toBe(0);
    expect(both.stdout).toBe('a\nb\n');
    const words = await jump(site.consoleDir, ['jump', String(c.id), '--', 'echo', 'x', '&&', 'exit', '3']);
    expect(words.stdout).toBe('x\n');
    expect(words.code).toBe(3);

    agent.proc.child.kill('SIGTERM');
    await agent.proc.exited;
    await waitFor(async () => (await listClients(site.api, 'tag=session-cli')).items[0].status === 'offline');
    const off = await jump(site.consoleDir, ['jump', String(c.id), '--', 'true']);
    expect(off.code).toBe(255);
    expect(off.stderr).toMatch(/JUMP_CLIENT_OFFLINE: The jump client is offline\. \(client=jump-\d+ ".*", offline since \d{4}-\d\d-\d\dT/);
    expect(off.stderr).toContain(`Fix: on the endpoint, check that the jump client runs (\`jump-client status\`) and can reach ${site.url}.`);
  });
});
