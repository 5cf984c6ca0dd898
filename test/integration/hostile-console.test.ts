/**
 * The technician's console against a hostile site (issue #12 item 1, console half; round 2): an
 * endpoint reports a hostname that ends an ssh_config comment line and adds `Match exec`, terminal
 * escapes (title change, screen clear, C1 CSI, bidi override) in its statistics, and a hostname that
 * is a real host name (`github.com`). The console must print none of it raw and write none of it
 * into ssh_config, nor let it take a real host name there.
 *
 * Our site now cleans agent-reported text at the edge and again on output, so it can no longer
 * serve hostile text. An old or compromised site can: this file runs a real HTTPS server that
 * impersonates one. It answers on its own self-signed certificate (the console pins it with
 * --fingerprint), forwards each request to a real site (a real agent enrolled there, real tokens,
 * real error echoes) and puts the hostile strings back into every jump client row and every
 * error message of the JSON it returns, and adds a client row named `github.com`.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { request as httpsRequest, createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import selfsigned from 'selfsigned';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { certFingerprint } from '../../console/http.js';
import { cleanup, tempDir, waitFor } from '../helpers/processes.js';
import { createInstaller, fixtureStats, inProcessAgent, jump, listClients, startTestSite, type TestSite } from '../helpers/site.js';

const marks = tempDir('jump-hostile-');
const MARKER = join(marks, 'pwned');
/** 255 characters at most (the statistics schema). */
const HOSTNAME = `evil\nMatch exec "touch ${MARKER}"\n\u001b]0;owned\u0007\u001b[2J\u009b31m\u202etxt.exe`;
const TERM = 'x\u001b]2;title\u0007\u001b[2J\u001b[31mred\u009b0m\u202eevil\u2066\r\nforged line\u007f';
/** Raw characters no console output may contain. */
const RAW_UNSAFE = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\u2028\u2029]/;
/** The id of the extra row the hostile site adds: a client whose reported hostname is `github.com`. */
const GITHUB_ID = 7;

let site: TestSite;
let hostile: Server;
let hostileUrl: string;
let id: number;
const consoleDir = tempDir('jump-console-hostile-');

/** The hostile strings put back into a jump client row (list item, `item`, or its stats). */
function poison(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(poison);
  if (!value || typeof value !== 'object') return value;
  const o = Object.fromEntries(Object.entries(value).map(([k, v]) => [k, poison(v)])) as Record<string, unknown>;
  if ('hostname' in o) {
    for (const k of ['fqdn', 'os_name', 'cpu_model', 'console_user', 'tag', 'comments']) if (k in o) o[k] = TERM;
    o.hostname = HOSTNAME;
    if ('name' in o) o.name = HOSTNAME; // the name falls back to the reported hostname
  }
  if (typeof o.message === 'string') o.message += ` ${TERM}`;
  return o;
}

/** The JSON body an old or compromised site returns for `path`, made from the real site's. */
function hostileBody(path: string, body: unknown): unknown {
  const out = poison(body) as Record<string, unknown>;
  if (path.startsWith('/api/v1/jump-clients') && Array.isArray(out.items) && out.items.length) {
    const first = out.items[0] as Record<string, unknown>;
    out.items = [...out.items, { ...first, id: GITHUB_ID, name: 'github.com', hostname: 'github.com', tag: '', comments: '' }];
  }
  return out;
}

beforeAll(async () => {
  site = await startTestSite();
  const inst = await createInstaller(site.api, {});
  const agent = inProcessAgent(inst, { stats: async () => fixtureStats({ hostname: HOSTNAME, fqdn: TERM, os_name: TERM, cpu_model: TERM, console_user: TERM }) });
  id = await waitFor(async () => (await listClients(site.api)).items[0]?.id, 20_000, 100, 'agent enrolled');
  await agent.stop();
  expect(id).not.toBe(GITHUB_ID);
  const pems = await selfsigned.generate([{ name: 'commonName', value: 'jump.example' }], { keyType: 'ec', algorithm: 'sha256' });
  hostile = createServer({ key: pems.private, cert: pems.cert }, (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const headers: Record<string, string> = {};
      for (const h of ['authorization', 'content-type', 'accept']) if (typeof req.headers[h] === 'string') headers[h] = req.headers[h] as string;
      const up = httpsRequest(new URL(req.url ?? '/', site.url), { method: req.method, headers, rejectUnauthorized: false }, (ur) => {
        const got: Buffer[] = [];
        ur.on('data', (c: Buffer) => got.push(c));
        ur.on('end', () => {
          let text = Buffer.concat(got).toString('utf8');
          const type = String(ur.headers['content-type'] ?? 'application/octet-stream');
          if (type.includes('json')) text = JSON.stringify(hostileBody(new URL(req.url ?? '/', 'https://x').pathname, JSON.parse(text)));
          res.writeHead(ur.statusCode ?? 502, { 'content-type': type });
          res.end(text);
        });
      });
      up.on('error', () => res.destroy());
      up.end(Buffer.concat(chunks));
    });
  });
  await new Promise<void>((resolve) => hostile.listen(0, '127.0.0.1', resolve));
  hostileUrl = `https://127.0.0.1:${(hostile.address() as AddressInfo).port}`;
  const r = await jump(consoleDir, ['login', '--site', hostileUrl, '--fingerprint', certFingerprint(pems.cert), '--password-stdin'], site.adminPassword);
  if (r.code !== 0) throw new Error(`login to the hostile site failed: ${r.stderr}`);
});
afterAll(async () => {
  hostile?.closeAllConnections();
  await new Promise((resolve) => (hostile ? hostile.close(resolve) : resolve(undefined)));
  await cleanup();
});

describe('a console against a hostile site serving hostile endpoint text', () => {
  it('gets the hostile text from the site (the precondition of this file)', async () => {
    const r = await jump(consoleDir, ['clients', '--json']);
    expect(r.code).toBe(0);
    const item = JSON.parse(r.stdout).items.find((c: { id: number }) => c.id === id);
    // Through the console's own parse of the site's JSON: the raw hostile text, not a cleaned copy.
    expect(item.name).toBe(HOSTNAME); // the name falls back to the reported hostname
    expect(item.hostname).toBe(HOSTNAME);
    expect(item.tag).toBe(TERM);
    expect(JSON.parse(r.stdout).items.map((c: { name: string }) => c.name)).toContain('github.com');
    const show = await jump(consoleDir, ['clients', 'show', String(id), '--json']);
    expect(JSON.parse(show.stdout).item.stats.console_user).toBe(TERM);
    // JSON output: valid, equal, and nothing raw (JSON.stringify leaves C1 and bidi controls raw).
    expect(r.stdout).not.toMatch(RAW_UNSAFE);
  });

  it('prints `jump clients` and `clients show` with no ESC, no control or bidi character and no forged line', async () => {
    for (const args of [['clients'], ['clients', 'show', String(id)], ['clients', 'list', '--search', 'evil']]) {
      const r = await jump(consoleDir, args);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).not.toContain('\u001b');
      expect(r.stdout).not.toMatch(RAW_UNSAFE);
      expect(r.stdout).toContain('\\x1b');
      expect(r.stdout).not.toMatch(/^(Match exec|forged line)/m);
    }
  });

  it('keeps `groups list` readable: aligned columns, no raw control character', async () => {
    const r = await jump(consoleDir, ['groups', 'list']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^NAME\s+KIND\s+MEMBERS$/m);
    expect(r.stdout).toMatch(/^user:admin\s+personal$/m);
    expect(r.stdout).not.toMatch(RAW_UNSAFE);
  });

  it('prints an error whose message echoes hostile text without raw controls', async () => {
    const r = await jump(consoleDir, ['clients', 'show', 'no such\u001b]0;t\u0007\u009b2J']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('JUMP_CLIENT_NOT_FOUND');
    expect(r.stderr.trimEnd()).not.toMatch(RAW_UNSAFE);
    expect(r.stderr).toContain('no such\\x1b]0;t\\x07\\x9b2J'); // the site echoed it; the console escaped it
    const j = await jump(consoleDir, ['clients', 'show', 'no such\u009b2J\u202e', '--json']);
    expect(j.stdout).not.toMatch(RAW_UNSAFE);
    expect(JSON.parse(j.stdout).error.code).toBe('JUMP_CLIENT_NOT_FOUND');
  });

  it('writes an ssh_config that ssh parses into exactly the expected Host block, running nothing', async () => {
    const r = await jump(consoleDir, ['ssh-config', '--write']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).not.toMatch(RAW_UNSAFE);
    const file = join(consoleDir, 'ssh_config');
    const text = readFileSync(file, 'utf8');
    expect(text).not.toMatch(/^\s*Match/im);
    const hostLines = text.split('\n').filter((l) => /^\s*Host\s/i.test(l));
    // One alias per client, from its id; none from the name (`github.com`, or the hostile hostname).
    expect(hostLines.sort()).toEqual([`Host jump-${id}`, `Host jump-${GITHUB_ID}`].sort());
    for (const l of text.split('\n').filter(Boolean)) {
      expect(l).toMatch(/^(# [A-Za-z0-9 ._@:/()+,=-]*|Host [a-z0-9._ -]+|    (HostName|HostKeyAlias|ProxyCommand|UserKnownHostsFile|StrictHostKeyChecking|IdentityFile|IdentitiesOnly|User) .+)$/);
    }
    const g = execFileSync('ssh', ['-G', '-F', file, `jump-${id}`], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    expect(g).toContain(`\nhostname jump-${id}\n`);
    expect(g).toContain(`\nhostkeyalias jump-${id}\n`);
    expect(g).toMatch(/\nproxycommand .* proxy %h\n/);
    expect(g).not.toContain('touch');
    expect(existsSync(MARKER)).toBe(false);
    const known = readFileSync(join(consoleDir, 'known_hosts'), 'utf8');
    expect(known.split('\n').filter(Boolean).sort()).toEqual([id, GITHUB_ID].map((n) => expect.stringMatching(new RegExp(`^jump-${n} ssh-ed25519 [A-Za-z0-9+/]+=*$`))));
  });

  it('gives the client that reports github.com no Host alias: `ssh -G github.com` does not go through the jump proxy', async () => {
    // With `Include <config dir>/ssh_config` in ~/.ssh/config (docs/jump.md), an alias `github.com`
    // would send `ssh github.com` and `git push` to that endpoint, trusting its key.
    const file = join(consoleDir, 'ssh_config');
    expect((await jump(consoleDir, ['ssh-config', '--write'])).code).toBe(0);
    expect(readFileSync(file, 'utf8')).toContain('# github.com ('); // the row is there, as a comment
    const g = execFileSync('ssh', ['-G', '-F', file, 'github.com'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    expect(g).toContain('\nhostname github.com\n');
    expect(g).not.toMatch(/\nproxycommand |\nhostkeyalias /);
    expect(g).not.toContain(join(consoleDir, 'known_hosts'));
    // jump-7 is the github.com client's own alias, by id.
    expect(execFileSync('ssh', ['-G', '-F', file, `jump-${GITHUB_ID}`], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] })).toContain(`\nhostkeyalias jump-${GITHUB_ID}\n`);
  });
});
