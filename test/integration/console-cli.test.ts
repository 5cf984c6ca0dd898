/**
 * The `jump` console and `jump-site` CLIs as a person or a script uses them: login and TLS
 * pinning, exit codes, machine output, user management, and private files.
 */
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SITE_BIN, cleanup, run, tempDir } from '../helpers/processes.js';
import { jump, login, startSiteProcess, startTestSite, type TestSite } from '../helpers/site.js';
import { consoleOnTty } from '../helpers/tty.js';

let site: TestSite;
beforeAll(async () => {
  site = await startTestSite();
});
afterAll(cleanup);

const siteCli = (args: string[], input?: string) => run(process.execPath, [SITE_BIN, ...args], { input });

describe('jump login', () => {
  it('trusts on first use, says so, and keeps the token in a 0600 file', async () => {
    const dir = tempDir();
    const r = await jump(dir, ['login', '--site', site.url, '--password-stdin'], site.adminPassword);
    expect(r.code).toBe(0);
    expect(r.stderr).toContain(site.fingerprint);
    expect(r.stderr).toMatch(/trusting it on first use/i);
    const file = join(dir, 'config.json');
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(readFileSync(file, 'utf8')).toContain('jst_');
  });

  it('accepts the right --fingerprint silently and refuses a wrong one before sending the password', async () => {
    const ok = tempDir();
    const r1 = await jump(ok, ['login', '--site', site.url, '--fingerprint', site.fingerprint.toLowerCase(), '--password-stdin'], site.adminPassword);
    expect(r1.code).toBe(0);
    expect(r1.stderr).toBe('');
    const bad = tempDir();
    const wrong = 'SHA256:' + '00:'.repeat(31) + '00';
    const r2 = await jump(bad, ['login', '--site', site.url, '--fingerprint', wrong, '--password-stdin'], site.adminPassword);
    expect(r2.code).toBe(1);
    expect(r2.stderr).toContain('SITE_CERT_MISMATCH');
    expect(await jump(bad, ['clients']).then((r) => r.stderr)).toContain('CONSOLE_NOT_LOGGED_IN');
  });

  it('on a terminal, asks yes/no showing the fingerprint before the password; "no" sends nothing (SITE_CERT_NOT_TRUSTED)', async () => {
    /** `jump login` on a pseudo-terminal (test/helpers/tty.ts), answering each prompt in turn. */
    const onTty = (dir: string, answers: [RegExp, string][]) => consoleOnTty(['login', '--site', site.url, '--user', 'admin'], answers, { dir });
    const no = tempDir();
    const r1 = await onTty(no, [[/\(yes\/no\)\? /, 'no']]);
    expect(r1.code).toBe(1);
    expect(r1.output).toContain(site.fingerprint);
    expect(r1.output).toContain('SITE_CERT_NOT_TRUSTED');
    expect(r1.output).not.toContain('Password for');
    expect((await jump(no, ['clients'])).stderr).toContain('CONSOLE_NOT_LOGGED_IN');
    const yes = tempDir();
    const r2 = await onTty(yes, [
      [/\(yes\/no\)\? /, 'yes'],
      [/Password for admin: /, site.adminPassword],
    ]);
    expect(r2.code, r2.output).toBe(0);
    expect(r2.output).toContain('Logged in to');
    // The pin is kept: the next login on the terminal asks nothing but the password.
    const r3 = await onTty(yes, [[/Password for admin: /, site.adminPassword]]);
    expect(r3.code, r3.output).toBe(0);
    expect(r3.output).not.toContain('yes/no');
  });

  it('refuses a wrong password with LOGIN_FAILED', async () => {
    const r = await jump(tempDir(), ['login', '--site', site.url, '--password-stdin'], 'not the password');
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('LOGIN_FAILED');
  });

  it('refuses a site whose certificate changed since login, naming both fingerprints (SITE_CERT_MISMATCH)', async () => {
    const first = await startSiteProcess();
    const dir = tempDir();
    await login(first, dir, 'admin', first.password!);
    first.proc.child.kill('SIGKILL');
    await first.proc.exited;
    const second = await startSiteProcess({ port: first.port }); // another data dir: another certificate
    const r = await jump(dir, ['clients']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('SITE_CERT_MISMATCH');
    expect(r.stderr).toContain(first.fingerprint);
    expect(r.stderr).toContain(second.fingerprint);
  });

  it('does not re-trust a changed certificate at login: refused with both fingerprints, the password never reaches the new site, --fingerprint accepts it', async () => {
    const a = await startSiteProcess();
    const dir = tempDir();
    await login(a, dir, 'admin', a.password!);
    a.proc.child.kill('SIGKILL');
    await a.proc.exited;
    // B answers on A's URL with its own certificate. Typing B's own admin password makes any
    // leak visible: had it been sent, B would have issued a token and audited the login.
    const b = await startSiteProcess({ port: a.port });
    const bLogins = () => {
      const db = new Database(join(b.dataDir, 'site.db'), { readonly: true, fileMustExist: true });
      try {
        const tokens = (db.prepare('SELECT count(*) AS n FROM api_tokens').get() as { n: number }).n;
        const audits = (db.prepare("SELECT count(*) AS n FROM audit_log WHERE action = 'user.login'").get() as { n: number }).n;
        return tokens + audits;
      } finally {
        db.close();
      }
    };
    for (const args of [[], ['--json']]) {
      const r = await jump(dir, ['login', '--site', a.url, '--password-stdin', ...args], b.password!);
      expect(r.code).toBe(1);
      const text = args.length ? JSON.parse(r.stdout).error.message : r.stderr;
      expect(args.length ? JSON.parse(r.stdout).error.code : r.stderr).toContain('SITE_CERT_MISMATCH');
      expect(text).toContain(a.fingerprint);
      expect(text).toContain(b.fingerprint);
      expect(r.stderr).not.toMatch(/trusting it on first use/i);
    }
    expect(bLogins()).toBe(0);
    // The pin is still A's: a plain `jump clients` is refused too.
    expect(readFileSync(join(dir, 'config.json'), 'utf8')).toContain(a.fingerprint);
    expect((await jump(dir, ['clients'])).stderr).toContain('SITE_CERT_MISMATCH');
    // A wrong --fingerprint is refused the same way; the right one replaces the pin.
    const wrong = await jump(dir, ['login', '--site', a.url, '--fingerprint', a.fingerprint, '--password-stdin'], b.password!);
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toContain(b.fingerprint);
    expect(bLogins()).toBe(0);
    const ok = await jump(dir, ['login', '--site', a.url, '--fingerprint', b.fingerprint, '--password-stdin'], b.password!);
    expect(ok.code).toBe(0);
    expect(ok.stderr).toContain(a.fingerprint); // "Replacing the pinned certificate ..."
    expect(bLogins()).toBeGreaterThan(0);
    // B's admin still has B's bootstrap password, which B makes us change first
    // (PASSWORD_CHANGE_REQUIRED); the token B issued is good for that.
    const blocked = await jump(dir, ['whoami']);
    expect(blocked.code).toBe(1);
    expect(blocked.stderr).toContain('PASSWORD_CHANGE_REQUIRED');
    const changed = await jump(dir, ['passwd', '--password-stdin'], `${b.password}\nB admin new password\n`);
    expect(changed.code, changed.stderr).toBe(0);
    // Logging out keeps the pin: B's certificate, not "first use" again.
    expect((await jump(dir, ['logout'])).code).toBe(0);
    const again = await jump(dir, ['login', '--site', a.url, '--password-stdin'], 'B admin new password');
    expect(again.code).toBe(0);
    expect(again.stderr).toBe('');
    expect((await jump(dir, ['whoami'])).code).toBe(0);
  });
});

describe('exit codes and output', () => {
  it('exits 2 on a usage error', async () => {
    const r = await jump(site.consoleDir, ['clients', '--no-such-flag']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('unknown option');
  });

  it('prints errors as JSON on stdout with --json and exits 1', async () => {
    const r = await jump(site.consoleDir, ['clients', 'show', '424242', '--json']);
    expect(r.code).toBe(1);
    expect(JSON.parse(r.stdout)).toEqual({ error: { code: 'JUMP_CLIENT_NOT_FOUND', message: expect.stringContaining('424242') } });
  });

  it('creates an installer with --json giving uid, key_info, site_url, site_pin and expires_at', async () => {
    const r = await jump(site.consoleDir, ['installer', 'create', '--valid-for', '7d', '--tag', 'T', '--json']);
    expect(r.code).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(j).toMatchObject({ site_url: site.url, site_pin: site.pin, tag: 'T' });
    expect(j.key_info).toMatch(/^[a-z0-9]{47}$/);
    expect(j.uid).toMatch(/^[0-9a-f]{16}$/);
    const days = (Date.parse(j.expires_at) - Date.now()) / 86_400_000;
    expect(days).toBeGreaterThan(6.99);
    expect(days).toBeLessThan(7.01);
    // The key is shown once: listing never includes it.
    const list = await jump(site.consoleDir, ['installer', 'list', '--json']);
    expect(list.stdout).not.toContain(j.key_info);
  });

  it('refuses a validity outside 10m..365d', async () => {
    for (const v of ['5m', '366d', 'soon']) {
      const r = await jump(site.consoleDir, ['installer', 'create', '--valid-for', v]);
      expect(r.code).toBe(2);
      expect(r.stderr).toContain('--valid-for');
    }
  });

  it('takes --site and --json after a top-level command', async () => {
    const r = await jump(site.consoleDir, ['whoami', '--site', site.url, '--json']);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout).user.name).toBe('admin');
  });
});

describe('jump-site user', () => {
  it('adds a user beside the running site, who can log in and change their password', async () => {
    const add = await siteCli(['user', 'add', 'carla', '--password-stdin', '--data', site.dataDir, '--json'], 'first password!');
    expect(add.code).toBe(0);
    expect(JSON.parse(add.stdout)).toMatchObject({ name: 'carla', role: 'technician' });
    const dir = tempDir();
    await login(site, dir, 'carla', 'first password!');
    const pw = await jump(dir, ['passwd', '--password-stdin'], 'first password!\nsecond password!\n');
    expect(pw.code).toBe(0);
    // The change ends the old token; the console keeps the fresh one the site answers, and the new password works.
    expect((await jump(dir, ['whoami'])).code).toBe(0);
    await login(site, dir, 'carla', 'second password!');
  });

  it('refuses bad names, short passwords and duplicates, naming the field', async () => {
    const bad = await siteCli(['user', 'add', 'no spaces', '--password-stdin', '--data', site.dataDir], 'long enough pw');
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/VALIDATION_FAILED.*name/);
    const short = await siteCli(['user', 'add', 'shorty', '--password-stdin', '--data', site.dataDir], 'short');
    expect(short.stderr).toMatch(/VALIDATION_FAILED.*password/);
    const dup = await siteCli(['user', 'add', 'admin', '--password-stdin', '--data', site.dataDir], 'long enough pw');
    expect(dup.stderr).toContain('USER_EXISTS');
  });

  it('keeps the site keys and store private (0600) and the data dir 0700', () => {
    for (const f of ['site-identity.key', 'tls.key', 'site.db', 'site.db-wal']) expect(statSync(join(site.dataDir, f)).mode & 0o777).toBe(0o600);
    expect(statSync(site.dataDir).mode & 0o777).toBe(0o700);
  });

  it('refuses a malformed --listen with a usage error', async () => {
    const r = await siteCli(['serve', '--listen', 'nowhere', '--data', tempDir()]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('--listen');
  });
});
