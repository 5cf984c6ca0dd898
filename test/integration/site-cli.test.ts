/**
 * `jump-site` as a sysadmin meets it (issue #14 items 4, 5, 6, 10): a busy port, `user add` in the
 * wrong directory, usage exit codes, and the human banner on a terminal without JSON log lines.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { SITE_BIN, cleanup, run, tempDir, waitFor } from '../helpers/processes.js';

const siteCli = (args: string[], opts: { input?: string; cwd?: string } = {}) => run(process.execPath, [SITE_BIN, ...args], opts);

afterAll(cleanup);

async function busyPort(): Promise<{ server: Server; port: number }> {
  const server = createServer();
  await new Promise<void>((res) => server.listen(0, '127.0.0.1', res));
  return { server, port: (server.address() as { port: number }).port };
}

describe('jump-site serve on a busy port', () => {
  it('fails with SITE_ADDRESS_IN_USE naming the port, no stack, and leaves no data dir behind', async () => {
    const { server, port } = await busyPort();
    try {
      const parent = tempDir();
      const data = join(parent, 'new-data');
      const r = await siteCli(['serve', '--listen', `127.0.0.1:${port}`, '--data', data]);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(new RegExp(`^SITE_ADDRESS_IN_USE: .*127\\.0\\.0\\.1:${port} \\(EADDRINUSE\\)`));
      expect(r.stderr).not.toMatch(/\n\s+at /);
      expect(r.stderr).not.toContain('sonic boom');
      expect(existsSync(data)).toBe(false);
      expect(readdirSync(parent)).toEqual([]);
    } finally {
      server.close();
    }
  });
});

describe('jump-site user in the wrong directory', () => {
  it('refuses to create a new empty store, naming the directory and --data', async () => {
    const cwd = tempDir();
    const r = await siteCli(['user', 'add', 'bob', '--password-stdin'], { input: 'long enough password', cwd });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('SITE_DATA_NOT_FOUND');
    expect(r.stderr).toContain('--data');
    expect(r.stderr).toContain(join(cwd, 'jump-site-data'));
    expect(r.stdout).not.toContain('Added');
    expect(readdirSync(cwd)).toEqual([]);
    for (const sub of [['list'], ['remove', 'bob'], ['set', 'bob', '--role', 'admin']]) {
      const s = await siteCli(['user', ...sub, '--data', join(cwd, 'nope')]);
      expect(s.code).toBe(1);
      expect(s.stderr).toContain('SITE_DATA_NOT_FOUND');
    }
    expect(readdirSync(cwd)).toEqual([]);
  });
});

describe('jump-site exit codes', () => {
  it('exits 2 on usage errors and lists the exit codes in --help', async () => {
    expect((await siteCli(['serve', '--bogus'])).code).toBe(2);
    expect((await siteCli(['sreve'])).code).toBe(2);
    // A usage error is one line (plus a suggestion) and where the help is, not a help dump (issue #14 item 9).
    for (const args of [['serve', '--bogus'], ['sreve'], ['user', 'add']]) {
      const e = await siteCli(args);
      expect(e.stderr.trim().split('\n').length, e.stderr).toBeLessThanOrEqual(3);
      expect(e.stderr).toContain("(see 'jump-site <command> --help')");
    }
    expect((await siteCli(['user', 'add'])).code).toBe(2);
    expect((await siteCli(['serve', '--listen', 'nowhere', '--data', tempDir()])).code).toBe(2);
    expect((await siteCli(['serve', '--tls-cert', 'x.pem', '--data', tempDir()])).code).toBe(2);
    for (const args of [['--help'], ['serve', '--help'], ['user', 'add', '--help']]) {
      const h = await siteCli(args);
      expect(h.code).toBe(0);
      expect(h.stdout).toMatch(/Exit codes:\n\s+0\s+success\n\s+1\s+failure.*\n\s+2\s+usage/);
    }
  });
});

describe('jump-site serve on a terminal', () => {
  it('prints the human banner without JSON log lines mixed in; the log goes to DATA/site.log', async () => {
    const pty = await import('node-pty');
    const { server, port } = await busyPort();
    await new Promise((res) => server.close(res));
    const data = join(tempDir(), 'data');
    const p = pty.spawn(process.execPath, [SITE_BIN, 'serve', '--listen', `127.0.0.1:${port}`, '--data', data], { cols: 120, rows: 40, env: process.env as Record<string, string> });
    let out = '';
    p.onData((d) => (out += d));
    const exited = new Promise<number>((res) => p.onExit((e) => res(e.exitCode)));
    try {
      await waitFor(() => out.includes('Bootstrap admin'), 20_000, 50, 'the banner');
      await waitFor(() => existsSync(join(data, 'site.log')) && readFileSync(join(data, 'site.log'), 'utf8').includes('"level"'), 10_000, 50, 'the log file');
      await new Promise((r) => setTimeout(r, 300));
      expect(out).toContain(`Log:              ${join(data, 'site.log')}`);
      expect(out).not.toContain('{"level"');
    } finally {
      p.kill('SIGTERM');
      await exited;
    }
    expect(out).not.toContain('{"level"');
  });
});
