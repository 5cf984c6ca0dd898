/**
 * The technician's console against a real site whose stored data holds hostile text (issue #12
 * item 1, console half): an endpoint reports a hostname that ends an ssh_config comment line and
 * adds `Match exec`, and terminal escapes (title change, screen clear, C1 CSI, bidi override) in
 * its statistics. The console must print none of it raw and write none of it into ssh_config.
 *
 * The hostile values reach the site two ways: an enrolled agent reports them (the site may refuse
 * or clean them once its own fix lands), and they are written straight into the site's SQLite
 * store while it is stopped, as an old or compromised site would hold them.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Agent } from '../../agent/agent.js';
import { cleanup, tempDir, waitFor } from '../helpers/processes.js';
import { createInstaller, fixtureStats, inProcessAgent, jump, listClients, startSiteProcess, startTestSite, type TestSite } from '../helpers/site.js';

const marks = tempDir('jump-hostile-');
const MARKER = join(marks, 'pwned');
/** 255 characters at most (the statistics schema). */
const HOSTNAME = `evil\nMatch exec "touch ${MARKER}"\n\u001b]0;owned\u0007\u001b[2J\u009b31m\u202etxt.exe`;
const TERM = 'x\u001b]2;title\u0007\u001b[2J\u001b[31mred\u009b0m\u202eevil\u2066\r\nforged line\u007f';
/** Raw characters no console output may contain. */
const RAW_UNSAFE = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\u2028\u2029]/;

let site: TestSite;
let agent: Agent;
let id: number;

beforeAll(async () => {
  site = await startTestSite();
  const inst = await createInstaller(site.api, {});
  agent = inProcessAgent(inst, { stats: async () => fixtureStats({ hostname: HOSTNAME, fqdn: TERM, os_name: TERM, cpu_model: TERM, console_user: TERM }) });
  // Enrolled is enough: a site that refuses the hostile statistics still lists the client.
  id = await waitFor(async () => (await listClients(site.api)).items[0]?.id, 20_000, 100, 'agent enrolled');
  await agent.stop();
  // Stop the site and write the hostile text into its store, as an old or malicious site holds it.
  site.proc.child.kill('SIGTERM');
  await site.proc.exited;
  const db = new Database(join(site.dataDir, 'site.db'));
  const stats = JSON.parse((db.prepare('SELECT stats FROM jump_clients WHERE id = ?').get(id) as { stats: string }).stats);
  Object.assign(stats, { hostname: HOSTNAME, fqdn: TERM, os_name: TERM, cpu_model: TERM, console_user: TERM });
  db.prepare('UPDATE jump_clients SET name = NULL, hostname = ?, console_user = ?, tag = ?, comments = ?, stats = ? WHERE id = ?').run(HOSTNAME, TERM, TERM, TERM, JSON.stringify(stats), id);
  db.close();
  const again = await startSiteProcess({ dataDir: site.dataDir, port: site.port });
  site.proc = again.proc;
});
afterAll(cleanup);

describe('a console against a site holding hostile endpoint text', () => {
  it('gets the hostile text from the site (the precondition of this file)', async () => {
    const r = await jump(site.consoleDir, ['clients', '--json']);
    expect(r.code).toBe(0);
    const item = JSON.parse(r.stdout).items.find((c: { id: number }) => c.id === id);
    expect(item.name).toBe(HOSTNAME); // the name falls back to the reported hostname
    expect(item.tag).toBe(TERM);
    // JSON output: valid, equal, and nothing raw (JSON.stringify leaves C1 and bidi controls raw).
    expect(r.stdout).not.toMatch(RAW_UNSAFE);
  });

  it('prints `jump clients` and `clients show` with no ESC, no control or bidi character and no forged line', async () => {
    for (const args of [['clients'], ['clients', 'show', String(id)], ['clients', 'list', '--search', 'evil']]) {
      const r = await jump(site.consoleDir, args);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).not.toContain('\u001b');
      expect(r.stdout).not.toMatch(RAW_UNSAFE);
      expect(r.stdout).toContain('\\x1b');
      expect(r.stdout).not.toMatch(/^(Match exec|forged line)/m);
    }
  });

  it('keeps the tab-separated `groups list` readable (the last guard keeps our own tabs)', async () => {
    const r = await jump(site.consoleDir, ['groups', 'list']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^user:admin\tpersonal$/m);
  });

  it('prints an error whose message echoes hostile text without raw controls', async () => {
    const r = await jump(site.consoleDir, ['clients', 'show', 'no such\u001b]0;t\u0007\u009b2J']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('JUMP_CLIENT_NOT_FOUND');
    expect(r.stderr.trimEnd()).not.toMatch(RAW_UNSAFE);
    expect(r.stderr).toContain('no such\\x1b]0;t\\x07\\x9b2J'); // the site echoed it; the console escaped it
    const j = await jump(site.consoleDir, ['clients', 'show', 'no such\u009b2J\u202e', '--json']);
    expect(j.stdout).not.toMatch(RAW_UNSAFE);
    expect(JSON.parse(j.stdout).error.code).toBe('JUMP_CLIENT_NOT_FOUND');
  });

  it('writes an ssh_config that ssh parses into exactly the expected Host block, running nothing', async () => {
    const r = await jump(site.consoleDir, ['ssh-config', '--write']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).not.toMatch(RAW_UNSAFE);
    const file = join(site.consoleDir, 'ssh_config');
    const text = readFileSync(file, 'utf8');
    expect(text).not.toMatch(/^\s*Match/im);
    const hostLines = text.split('\n').filter((l) => /^\s*Host\s/i.test(l));
    expect(hostLines).toEqual([expect.stringMatching(new RegExp(`^Host jump-${id}( [a-z0-9._-]+)?$`))]);
    for (const l of text.split('\n').filter(Boolean)) {
      expect(l).toMatch(/^(# [A-Za-z0-9 ._@:/()+,=-]*|Host [a-z0-9._ -]+|    (HostName|HostKeyAlias|ProxyCommand|UserKnownHostsFile|StrictHostKeyChecking|IdentityFile|IdentitiesOnly|User) .+)$/);
    }
    const g = execFileSync('ssh', ['-G', '-F', file, `jump-${id}`], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    expect(g).toContain(`\nhostname jump-${id}\n`);
    expect(g).toContain(`\nhostkeyalias jump-${id}\n`);
    expect(g).toMatch(/\nproxycommand .* proxy %h\n/);
    expect(g).not.toContain('touch');
    expect(existsSync(MARKER)).toBe(false);
    const known = readFileSync(join(site.consoleDir, 'known_hosts'), 'utf8');
    expect(known).toMatch(new RegExp(`^jump-${id} ssh-ed25519 [A-Za-z0-9+/]+=*\\n$`));
  });
});
