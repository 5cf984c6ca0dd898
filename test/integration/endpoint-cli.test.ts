/**
 * `jump-client` as a sysadmin meets it (issue #14 items 4, 6, 10): exit codes against the table,
 * no "sonic boom is not ready yet" leak, `uninstall --timeout` as a duration, and
 * `disable`/`enable --install-dir` like start/stop/status.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { AgentConfig } from '../../agent/config.js';
import { AGENT_BIN, cleanup, run, tempDir } from '../helpers/processes.js';
import { foreignPin } from '../helpers/site.js';

const agentCli = (args: string[]) => run(process.execPath, [AGENT_BIN, ...args]);

afterAll(cleanup);

describe('jump-client exit codes', () => {
  it('exits 2 on usage errors, 4 (LSB "unknown") for status, and lists the codes in --help', async () => {
    expect((await agentCli(['bogus'])).code).toBe(2);
    expect((await agentCli(['run'])).code).toBe(2); // --config missing
    expect((await agentCli(['start', '--bogus'])).code).toBe(2);
    expect((await agentCli(['uninstall', '--bogus'])).code).toBe(2);
    expect((await agentCli(['status', '--bogus'])).code).toBe(4);
    // A usage error is one line and where the help is, not a help dump (issue #14 item 9).
    for (const args of [['bogus'], ['start', '--bogus'], ['status', '--bogus']]) {
      const e = await agentCli(args);
      expect(e.stderr.trim().split('\n').length, e.stderr).toBeLessThanOrEqual(3);
      expect(e.stderr).toContain("(see 'jump-client <command> --help')");
    }
    for (const args of [['--help'], ['run', '--help'], ['status', '--help']]) {
      const h = await agentCli(args);
      expect(h.code).toBe(0);
      expect(h.stdout).toMatch(/Exit codes:\n\s+0\s+success\n\s+1\s+failure.*\n\s+2\s+usage/);
      expect(h.stdout).toContain('4 unknown');
    }
  });

  it('a bad --jc-* value at run exits 1 with its message and no "sonic boom is not ready yet"', async () => {
    const r = await agentCli(['run', '--config', join(tempDir(), 'c'), '--site', 'https://127.0.0.1:1', '--jc-tag', 'x'.repeat(300)]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('--jc-tag');
    expect(r.stderr).not.toContain('sonic boom');
  });
});

describe('jump-client uninstall --timeout', () => {
  it('takes a duration like every other flag, and a bare number as milliseconds', async () => {
    const none = join(tempDir(), 'none');
    expect((await agentCli(['uninstall', '--config', none, '--timeout', '2s'])).code).toBe(0);
    expect((await agentCli(['uninstall', '--config', none, '--timeout', '1500'])).code).toBe(0);
    const bad = await agentCli(['uninstall', '--config', none, '--timeout', '5x']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--timeout takes a duration such as 15s');
  });
});

describe('jump-client uninstall with its site unreachable', () => {
  it('says what it waits for and for how long, then that the site could not be told (no silent wait)', async () => {
    const dir = join(tempDir(), 'config');
    new AgentConfig(dir).update({ site_url: 'https://127.0.0.1:1', site_pin: foreignPin(), client_id: 5 });
    const r = await agentCli(['uninstall', '--config', dir, '--timeout', '4s']);
    expect(r.code).toBe(0);
    expect(r.stderr).toContain('telling the site (https://127.0.0.1:1) this jump client is uninstalled; waiting up to 4s ...');
    expect(r.stderr).toContain('the site could not be told');
  });
});

describe('jump-client disable/enable', () => {
  function fakeInstall(): string {
    const dir = tempDir();
    writeFileSync(join(dir, 'install.conf'), 'mode=user\nrun_as=nobody\ninstaller=x\nversion=0\n');
    mkdirSync(join(dir, 'config'), { mode: 0o700 });
    new AgentConfig(join(dir, 'config')).update({ site_url: 'https://127.0.0.1:1' });
    return dir;
  }
  const disabled = (dir: string) => JSON.parse(readFileSync(join(dir, 'config', 'agent.json'), 'utf8')).disabled;

  it('take --install-dir, as start/stop/status do, or --config; exactly one', async () => {
    const dir = fakeInstall();
    const d = await agentCli(['disable', '--install-dir', dir]);
    expect(d.code, d.stderr).toBe(0);
    expect(disabled(dir)).toBe(true);
    expect((await agentCli(['enable', '--config', join(dir, 'config')])).code).toBe(0);
    expect(disabled(dir)).toBe(false);
    expect((await agentCli(['disable'])).code).toBe(2);
    expect((await agentCli(['disable', '--install-dir', dir, '--config', join(dir, 'config')])).code).toBe(2);
    const notInstall = await agentCli(['disable', '--install-dir', tempDir()]);
    expect(notInstall.code).toBe(1);
    expect(notInstall.stderr).toContain('is not a jump client install dir');
  });
});
