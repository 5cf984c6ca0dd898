/**
 * Issue #15 item 6, installer inputs (docs/reliability.md section 6): `--install-dir`, `--user`,
 * the `--jc-*` fields, installers the site refuses, and damaged `.bin` files. Each bad input is a
 * clear error naming the field and the fix, a non-zero exit, and nothing left behind; good inputs
 * are stored byte for byte; nothing is ever run by a shell. Property runs: a few here, many in
 * test/long/installer-inputs.test.ts (seed printed; JUMP_TEST_SEED / JUMP_TEST_RUNS replay).
 *
 * Needs root (CI runs as root): it makes test users, installs in service mode and mounts tmpfs.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { cleanup, tempDir } from '../helpers/processes.js';
import { jump, listClients, startTestSite } from '../helpers/site.js';
import { testRuns, testSeed } from '../helpers/seed.js';
import {
  IS_ROOT,
  ROOT_LOG,
  SKIP_REASON,
  asUser,
  binLayout,
  createBin,
  damaged,
  damagedBinProperty,
  deleteClients,
  enrollFromInstall,
  expectDamagedRefused,
  expectInstallerRefused,
  expectNothingLeft,
  expectRefused,
  giveTo,
  installDirProperty,
  installer,
  jcFieldsProperty,
  mkdirOwned,
  optDir,
  removeOptDirs,
  run,
  requestedOf,
  setUp,
  snapshot,
  tearDown,
  userScratch,
  type Ctx,
} from './installer-inputs-shared.js';

if (SKIP_REASON) console.warn(`SKIPPED test/reliability/installer-inputs.test.ts: ${SKIP_REASON}`);

let ctx: Ctx;
const userLog = () => join(ctx.user.home, '.jump-client-install.log');

/** Can this container mount (tmpfs, read-only remount)? Said out loud when not. */
async function canMount(): Promise<string | null> {
  const d = tempDir('jcii-mountprobe-');
  const r = await run('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', d]);
  if (r.code !== 0) return `mount is not permitted in this container (${r.stderr.trim()})`;
  await run('umount', [d]);
  return null;
}

describe.runIf(IS_ROOT)(`installer inputs${SKIP_REASON ? ` (SKIPPED: ${SKIP_REASON})` : ''}`, () => {
  const seed = testSeed('installer-inputs');

  beforeAll(async () => {
    ctx = await setUp(await startTestSite());
  }, 120_000);

  afterEach(async () => {
    await removeOptDirs();
  });

  afterAll(async () => {
    await tearDown();
    await cleanup();
  });

  describe('--install-dir', () => {
    it('spaces and every shell metacharacter through the real .bin (dash): installed at exactly that path; init-script start, status, stop and uninstall work there; nothing is run by a shell', async () => {
      const scratch = userScratch(ctx);
      const dir = join(scratch, `jc dir $(touch ${ctx.marker.replaceAll('/', '_')}) ; | & \`id\` * ~ %s {a,b} 日本 🦀`);
      const comments = `first line $(touch ${ctx.marker})\n\`touch ${ctx.marker}\`; touch ${ctx.marker} | cat && x 'single' "double" \\ %s`;
      const inst = await installer(ctx, 'user', ['--install-dir', dir, '--jc-comments', comments, '--jc-tag', 'metachar dir'], { via: 'bin', shell: 'dash' });
      expect(inst.code, inst.stderr).toBe(0);
      expect(inst.stdout).toContain(`Jump client installed in ${dir} (user mode`);
      expect(readdirSync(scratch)).toEqual([dir.split('/').pop()]); // exactly there, no staging dir
      expect(readdirSync(ctx.tmpForBin)).toEqual([]);
      const started = await asUser(ctx, [join(dir, 'init-script'), 'start']);
      expect(started.code, started.stderr).toBe(0);
      const listed = (await listClients(ctx.site.api)).items.find((c) => c.tag === 'metachar dir');
      expect(listed?.comments).toBe(comments);
      expect((await asUser(ctx, [join(dir, 'init-script'), 'status'])).code).toBe(0);
      expect((await asUser(ctx, [join(dir, 'init-script'), 'stop'])).code).toBe(0);
      const un = await asUser(ctx, [join(dir, 'uninstall')]);
      expect(un.code, un.stderr).toBe(0);
      expect(readdirSync(scratch)).toEqual([]);
      expect(existsSync(ctx.marker)).toBe(false);
      await deleteClients(ctx, [listed!.id]);
      rmSync(scratch, { recursive: true, force: true });
    });

    it('`..`: resolved before anything is checked, and the install goes where the summary says; `..` out to a place the user cannot write, or (service mode) into a user\'s home, is refused', async () => {
      const scratch = userScratch(ctx);
      const r = await installer(ctx, 'user', ['--install-dir', `${scratch}/a/../b/./../jc`]);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toContain(`Jump client installed in ${scratch}/jc (user mode`);
      expect(readdirSync(scratch)).toEqual(['jc']);
      expect((await asUser(ctx, [join(scratch, 'jc', 'uninstall')])).code).toBe(0);

      const before = snapshot(ctx, [scratch, '/etc']);
      const out = await installer(ctx, 'user', ['--install-dir', `${scratch}/../../../etc/jc`]);
      expectRefused(out, { exit: 2, code: 'INSTALL_DIR_UNWRITABLE', field: '--install-dir', fix: [/--install-dir: \/etc is not writable by jcii\w+\./, /Choose a location you may write to/], log: userLog() }, 'user to /etc');
      expectNothingLeft(ctx, before, 'user to /etc');

      const opt = optDir();
      const before2 = snapshot(ctx, [opt, scratch]);
      const intoHome = await installer(ctx, 'root', ['--install-dir', `${opt}/../..${scratch}/jc`, '--user', ctx.user.name]);
      expectRefused(intoHome, { exit: 2, code: 'INSTALL_DIR_UNSAFE', field: '--install-dir', fix: new RegExp(`--install-dir: ${ctx.user.home} is owned by uid ${ctx.user.uid}.*--install-dir /opt/jumpclient`), log: ROOT_LOG }, 'service .. into home');
      expectNothingLeft(ctx, before2, 'service .. into home');
      rmSync(scratch, { recursive: true, force: true });
    });

    it('a symlink at the path (to a dir, to a file, dangling) is refused, never followed: what it points at is untouched and a dangling one stays dangling', async () => {
      const scratch = userScratch(ctx);
      const targetDir = mkdirOwned(join(scratch, 'real-dir'), ctx.user, 0o700);
      const targetFile = join(scratch, 'real-file');
      writeFileSync(targetFile, 'keep me\n');
      execFileSync('chown', [`${ctx.user.name}:`, targetFile]);
      const cases: [string, string][] = [
        ['to a dir', targetDir],
        ['to a file', targetFile],
        ['dangling', join(scratch, 'nothing-here')],
      ];
      for (const [what, to] of cases) {
        const link = join(scratch, `link ${what}`);
        symlinkSync(to, link);
        const before = snapshot(ctx, [scratch]);
        const r = await installer(ctx, 'user', ['--install-dir', link]);
        expectRefused(r, { exit: 2, code: 'INSTALL_DIR_EXISTS', field: '--install-dir', fix: [/--install-dir: .* exists\./, /choose another path/], log: userLog() }, what);
        expectNothingLeft(ctx, before, what);
        expect(existsSync(join(scratch, 'nothing-here')), what).toBe(false);
      }
      // A symlinked parent is fine: the install goes into the link's target.
      const viaLink = join(scratch, 'link to a dir', 'jc');
      const ok = await installer(ctx, 'user', ['--install-dir', viaLink]);
      expect(ok.code, ok.stderr).toBe(0);
      expect(existsSync(join(targetDir, 'jc', 'install.conf'))).toBe(true);
      expect((await asUser(ctx, [join(viaLink, 'uninstall')])).code).toBe(0);
      expect(readdirSync(targetDir)).toEqual([]);
      rmSync(scratch, { recursive: true, force: true });
    });

    it('an existing path (a non-empty dir, a file, a file as the parent, a missing parent, an empty value) is refused naming --install-dir; the existing content is untouched', async () => {
      const scratch = userScratch(ctx);
      const full = mkdirOwned(join(scratch, 'full'), ctx.user);
      writeFileSync(join(full, 'data.txt'), 'precious\n');
      const file = join(scratch, 'file');
      writeFileSync(file, 'x');
      execFileSync('chown', ['-R', `${ctx.user.name}:`, scratch]);
      const cases: [string, string, string, RegExp | RegExp[]][] = [
        ['non-empty dir', full, 'INSTALL_DIR_EXISTS', [/--install-dir: .*\/full exists\./, /choose another path, or run the uninstall script/]],
        ['a file', file, 'INSTALL_DIR_EXISTS', /--install-dir: .*\/file exists/],
        ['a file as the parent', join(file, 'jc'), 'INSTALL_DIR_UNWRITABLE', /--install-dir: .*\/file does not exist or is not a directory/],
        ['a missing parent', join(scratch, 'no', 'jc'), 'INSTALL_DIR_UNWRITABLE', /--install-dir: .*\/no does not exist or is not a directory/],
        ['an empty value', '', 'VALIDATION_FAILED', /--install-dir: give a path \(it is empty\)/],
        ['a last part too long for the staging dir beside it', join(scratch, 'L'.repeat(245)), 'VALIDATION_FAILED', /--install-dir: "L{20}..." is 245 bytes long, longer than 239 bytes .*choose a shorter path/],
        ['a part longer than a file system takes', join(scratch, '日'.repeat(90), 'jc'), 'VALIDATION_FAILED', /--install-dir: ".*" is 270 bytes long, longer than 255 bytes, the most a file system takes in one name; choose a shorter path/],
      ];
      for (const [what, dir, code, fix] of cases) {
        const before = snapshot(ctx, [scratch]);
        const r = await installer(ctx, 'user', ['--install-dir', dir]);
        expectRefused(r, { exit: 2, code, field: '--install-dir', fix, log: userLog() }, what);
        expectNothingLeft(ctx, before, what);
      }
      expect(readFileSync(join(full, 'data.txt'), 'utf8')).toBe('precious\n');
      rmSync(scratch, { recursive: true, force: true });
    });

    it('a read-only mount (tmpfs remounted ro, and a read-only bind mount of the user\'s own dir) is refused before anything is written; a full file system fails mid-copy and is rolled back', async (t) => {
      const why = await canMount();
      if (why) {
        console.warn(`SKIPPED read-only mount cases: ${why}`);
        t.skip();
        return;
      }
      // Service mode: a root-owned tmpfs, remounted read-only.
      const ro = mkdirOwned(join(optDir(), 'ro'), null);
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m,mode=0755', 'tmpfs', ro]);
      execFileSync('mount', ['-o', 'remount,ro', ro]);
      let before = snapshot(ctx, [ro]);
      const r = await installer(ctx, 'root', ['--install-dir', join(ro, 'jc'), '--user', ctx.user.name]);
      expectRefused(r, { exit: 2, code: 'INSTALL_DIR_UNWRITABLE', field: '--install-dir', fix: [/--install-dir: .*\/ro is not writable by root\./, /Choose a location you may write to/], log: ROOT_LOG }, 'service, ro tmpfs');
      expectNothingLeft(ctx, before, 'service, ro tmpfs');

      // User mode: the user's own dir, bind-mounted read-only onto another of theirs.
      const scratch = userScratch(ctx);
      const src = mkdirOwned(join(scratch, 'src'), ctx.user);
      const view = mkdirOwned(join(scratch, 'view'), ctx.user);
      execFileSync('mount', ['--bind', src, view]);
      try {
        execFileSync('mount', ['-o', 'remount,bind,ro', view]);
        before = snapshot(ctx, [scratch]);
        const u = await installer(ctx, 'user', ['--install-dir', join(view, 'jc')]);
        expectRefused(u, { exit: 2, code: 'INSTALL_DIR_UNWRITABLE', field: '--install-dir', fix: /--install-dir: .*\/view is not writable by jcii/, log: userLog() }, 'user, ro bind');
        expectNothingLeft(ctx, before, 'user, ro bind');
      } finally {
        execFileSync('umount', [view]);
      }
      rmSync(scratch, { recursive: true, force: true });

      // A file system with too little room (1 MiB): the copy fails half way; rolled back (exit 1),
      // no staging dir, no install dir, no cron entry.
      const full = mkdirOwned(join(optDir(), 'full'), null);
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m,mode=0755', 'tmpfs', full]);
      before = snapshot(ctx, [full]);
      const f = await installer(ctx, 'root', ['--install-dir', join(full, 'jc'), '--user', ctx.user.name]);
      expectRefused(f, { exit: 1, code: 'INSTALL_FAILED', field: null, fix: [/rolled back/, /ENOSPC/], log: ROOT_LOG }, 'full fs');
      expectNothingLeft(ctx, before, 'full fs');
      expect(readdirSync(full)).toEqual([]);
    });
  });

  describe('--user', () => {
    it('unknown, root itself, another user (from user mode), or with shell metacharacters: refused naming --user and the fix; no user is created', async () => {
      const scratch = userScratch(ctx);
      const opt = optDir();
      const cases: [string, 'root' | 'user', string[], string, RegExp | RegExp[], string][] = [
        ['unknown (root)', 'root', ['--install-dir', join(opt, 'jc'), '--user', 'no-such-user-jcii'], 'INSTALL_USER_UNKNOWN', [/--user: no user "no-such-user-jcii"\./, /Create the user first or name an existing one/], ROOT_LOG],
        ['metacharacters (root)', 'root', ['--install-dir', join(opt, 'jc'), '--user', `$(touch ${ctx.marker});x`], 'INSTALL_USER_UNKNOWN', /--user: no user "\$\(touch .*\);x"/, ROOT_LOG],
        ['root itself', 'root', ['--install-dir', join(opt, 'jc'), '--user', 'root'], 'INSTALL_USER_NOT_ALLOWED', /--user: "root" is root; name an unprivileged user/, ROOT_LOG],
        ['uid 0 by number', 'root', ['--install-dir', join(opt, 'jc'), '--user', '0'], 'INSTALL_USER_UNKNOWN', /--user: no user "0"/, ROOT_LOG],
        ['unknown (user mode)', 'user', ['--install-dir', join(scratch, 'jc'), '--user', 'no-such-user-jcii'], 'INSTALL_USER_UNKNOWN', /--user: no user "no-such-user-jcii"/, userLog()],
        ['another user (user mode)', 'user', ['--install-dir', join(scratch, 'jc'), '--user', ctx.other.name], 'INSTALL_USER_NOT_ALLOWED', new RegExp(`--user: only root can install a jump client that runs as another user \\("${ctx.other.name}"\\); run the installer as root, or as ${ctx.other.name}`), userLog()],
      ];
      for (const [what, who, args, code, fix, log] of cases) {
        const before = snapshot(ctx, [scratch, opt]);
        const r = await installer(ctx, who, args);
        expectRefused(r, { exit: 2, code, field: '--user', fix, log }, what);
        expectNothingLeft(ctx, before, what, [args[args.indexOf('--user') + 1]]);
      }
      rmSync(scratch, { recursive: true, force: true });
    });

    it('service mode, a --user with no rights to the install dir: installed, since the agent is root\'s and the user only runs Jump sessions (in its home); the user can read nothing there', async () => {
      const locked = mkdirOwned(join(optDir(), 'locked'), null, 0o700);
      const dir = join(locked, 'jc');
      const r = await installer(ctx, 'root', ['--install-dir', dir, '--user', ctx.user.name]);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toContain(`service mode, Jump sessions run as ${ctx.user.name}`);
      const peek = await asUser(ctx, ['ls', dir]);
      expect(peek.code).not.toBe(0);
      expect(peek.stderr).toMatch(/Permission denied/);
      const un = await run(join(dir, 'uninstall'), []);
      expect(un.code, un.stderr).toBe(0);
      expect(readdirSync(locked)).toEqual([]);
    });
  });

  describe('--jc-* fields', () => {
    it('at each limit accepted and stored byte for byte on the site (1024-character comments with newlines and metacharacters, 128-character name, 64-character tag and jump group); one over refused naming the flag', async () => {
      const m = ctx.marker;
      const comments = `$(touch ${m})\n\`touch ${m}\`\t; touch ${m} | x 'q' "dq" \\ 🦀 `.padEnd(1022, '.') + '\n\n';
      expect(comments.length).toBe(1024);
      const name = `n$(touch ${m})🦀`.padEnd(128, 'é');
      const tag = `t;|&\`x\` "q" 'q'`.padEnd(64, '$');
      const scratch = userScratch(ctx);
      const dir = join(scratch, 'jc');
      const ok = await installer(ctx, 'user', ['--install-dir', dir, '--jc-comments', comments, '--jc-name', name, '--jc-tag', tag, '--jc-jump-group', ctx.group64]);
      expect(ok.code, ok.stderr).toBe(0);
      expect(requestedOf(dir)).toEqual({ comments, name, tag, jump_group: ctx.group64 });
      const client = await enrollFromInstall(ctx, dir);
      expect({ comments: client.comments, name: client.name, tag: client.tag, jump_group: client.jump_group }).toEqual({ comments, name, tag, jump_group: ctx.group64 });
      await deleteClients(ctx, [client.id]);
      rmSync(dir, { recursive: true, force: true });

      const over: [string, string, RegExp][] = [
        ['--jc-comments', comments + 'x', /--jc-comments: must be at most 1024 characters/],
        ['--jc-comments', 'y'.repeat(2000), /--jc-comments: must be at most 1024 characters/],
        ['--jc-comments', '🦀'.repeat(513), /--jc-comments: must be at most 1024 characters/], // 1026 UTF-16 units
        ['--jc-comments', 'carriage\rreturn', /--jc-comments: must not contain control characters.*tab and line feed are allowed/],
        ['--jc-name', name + 'x', /--jc-name: must be at most 128 characters/],
        ['--jc-name', '', /--jc-name: must not be empty/],
        ['--jc-name', 'two\nlines', /--jc-name: must not contain control characters/],
        ['--jc-tag', tag + 'x', /--jc-tag: must be at most 64 characters/],
        ['--jc-tag', 'right-to-left \u202e override', /--jc-tag: must not contain control characters, bidi overrides/],
        ['--jc-jump-group', `user:${'u'.repeat(64)}x`, /--jc-jump-group: is too long/],
        ['--jc-jump-group', '', /--jc-jump-group: must not be empty/],
        ['--jc-jump-group', 'esc\u001b[2J', /--jc-jump-group: must not contain control characters/],
      ];
      for (const [flag, value, fix] of over) {
        const before = snapshot(ctx, [scratch]);
        const r = await installer(ctx, 'user', ['--install-dir', dir, flag, value]);
        expectRefused(r, { exit: 2, code: 'VALIDATION_FAILED', field: flag, fix, log: userLog() }, `${flag} ${JSON.stringify(value.slice(0, 20))}`);
        expectNothingLeft(ctx, before, flag);
      }
      // --silent: the same refusal, nothing printed; the log names it.
      const before = snapshot(ctx, [scratch]);
      const silent = await installer(ctx, 'user', ['--silent', '--install-dir', dir, '--jc-comments', 'y'.repeat(2000)]);
      expect(silent).toMatchObject({ code: 2, stdout: '', stderr: '' });
      expect(readFileSync(userLog(), 'utf8').trimEnd().split('\n').pop()).toMatch(/VALIDATION_FAILED: .*--jc-comments: must be at most 1024 characters/);
      expectNothingLeft(ctx, before, '--silent');
      rmSync(scratch, { recursive: true, force: true });
    });

    it(`property: generated --jc-comments/--jc-name/--jc-tag are refused naming the flag, or stored and returned by the site byte for byte; never run by a shell (${testRuns(6, 150)} runs)`, async () => {
      const counts = await jcFieldsProperty(ctx, testRuns(6, 150), seed);
      console.log(`[installer-inputs] --jc-* property: ${counts.accepted} accepted, ${counts.refused} refused`);
    });

    it(`property: generated --install-dir paths are refused naming --install-dir, or installed exactly where they resolve, and init-script and uninstall work there (${testRuns(8, 200)} runs)`, async () => {
      const counts = await installDirProperty(ctx, testRuns(8, 200), seed);
      console.log(`[installer-inputs] --install-dir property: ${counts.accepted} accepted, ${counts.refused} refused`);
    });
  });

  describe('installers the site refuses: expired, revoked, used up', () => {
    it('expired by the stamp (the endpoint\'s clock is past it): the install itself fails with INSTALLER_EXPIRED, exit 3, nothing left', async () => {
      // The same payload with the stamped expiry in the past (what an endpoint sees once the
      // validity has run out: `jump installer create` refuses a validity under 10 minutes).
      const payload = tempDir('jcii-expired-');
      execFileSync('cp', ['-a', `${ctx.payloadUser}/.`, payload]);
      const stampFile = join(payload, 'installer.json');
      const stamp = JSON.parse(readFileSync(stampFile, 'utf8')) as Record<string, unknown>;
      writeFileSync(stampFile, JSON.stringify({ ...stamp, expires_at: new Date(Date.now() - 60_000).toISOString() }));
      execFileSync('chown', ['-R', `${ctx.user.name}:`, payload]);
      const scratch = userScratch(ctx);
      const before = snapshot(ctx, [scratch]);
      const r = await asUser(ctx, [join(payload, 'jump-client'), 'install', '--install-dir', join(scratch, 'jc')]);
      expectRefused(r, { exit: 3, code: 'INSTALLER_EXPIRED', field: null, fix: [/It expired at /, /Create a new installer/], log: userLog() }, 'expired stamp');
      expectNothingLeft(ctx, before, 'expired stamp');
      rmSync(scratch, { recursive: true, force: true });
    });

    it('expired on the site, revoked, used up: refused with the code (see SITE_REFUSAL_CHECKED_AT: today at the first start), nothing enrolled, nothing left after uninstall', async () => {
      const scratch = userScratch(ctx);
      // Expired on the site (the stamped copy still looks valid).
      const exp = await createBin(ctx.site, ['--valid-for', '1d']);
      const db = new Database(join(ctx.site.dataDir, 'site.db'));
      db.prepare('UPDATE installers SET expires_at = ? WHERE uid = ?').run(Date.now() - 1000, exp.uid);
      db.close();
      await expectInstallerRefused(ctx, giveTo(exp.path, ctx.user, 'expired.bin'), 'INSTALLER_EXPIRED', join(scratch, 'expired'));

      const rev = await createBin(ctx.site, ['--valid-for', '1d']);
      const revoked = await jump(ctx.site.consoleDir, ['installer', 'revoke', rev.uid]);
      expect(revoked.code, revoked.stderr).toBe(0);
      await expectInstallerRefused(ctx, giveTo(rev.path, ctx.user, 'revoked.bin'), 'INSTALLER_REVOKED', join(scratch, 'revoked'));

      // Used up: --max-uses 1, the first install enrolls, the second is refused.
      const once = await createBin(ctx.site, ['--valid-for', '1d', '--max-uses', '1']);
      const onceBin = giveTo(once.path, ctx.user, 'once.bin');
      const first = join(scratch, 'first');
      expect((await installer(ctx, 'user', ['--install-dir', first], { bin: onceBin })).code).toBe(0);
      const enrolled = await enrollFromInstall(ctx, first);
      await expectInstallerRefused(ctx, onceBin, 'INSTALLER_USED_UP', join(scratch, 'second'));
      await deleteClients(ctx, [enrolled.id]);
      rmSync(scratch, { recursive: true, force: true });
    });
  });

  describe('a damaged .bin', () => {
    it('cut short or with a byte flipped, in the stub and in the payload: exit 3 "damaged", nothing unpacked or run, nothing left', async () => {
      const { checkEnd, payload, size } = binLayout(ctx.bin);
      const work = tempDir('jcii-damaged-');
      const target = join(optDir(), 'jc');
      const head = readFileSync(ctx.bin).subarray(0, payload).toString('latin1');
      const at = (s: string) => {
        const i = head.indexOf(s, checkEnd);
        expect(i, s).toBeGreaterThan(0);
        return i;
      };
      // Past line 1 (the check) the checksum covers everything: exit 3 with the message.
      const strict: [string, { cutAt?: number; flipAt?: number; mask?: number }][] = [
        ['cut right after the check line', { cutAt: checkEnd + 1 }],
        ['cut inside the stub', { cutAt: Math.floor((checkEnd + payload) / 2) }],
        ['cut at the end of the stub (no payload)', { cutAt: payload }],
        ['cut 100 bytes into the payload', { cutAt: payload + 100 }],
        ['cut in the middle of the payload', { cutAt: Math.floor((payload + size) / 2) }],
        ['cut one byte short', { cutAt: size - 1 }],
        ['a digit of the payload offset flipped', { flipAt: at('offset=') + 7 }],
        ['the tar command changed', { flipAt: at('tar -xzf') + 1 }],
        ['the install command changed', { flipAt: at('" install "$@"') + 3, mask: 0x20 }],
        ['a comment changed', { flipAt: at('# Jump Client installer') + 3 }],
        ['the gzip magic flipped', { flipAt: payload }],
        ['a byte in the middle of the payload', { flipAt: Math.floor((payload + size) / 2), mask: 0x80 }],
        ['the gzip trailer (CRC) flipped', { flipAt: size - 6 }],
        ['the last byte flipped', { flipAt: size - 1 }],
      ];
      for (const [what, how] of strict) await expectDamagedRefused(ctx, damaged(ctx.bin, work, how), target, true, what);
      // Line 1 is the check itself, one compound command: cut anywhere inside it (from its first
      // byte), it is a syntax error (exit 2) and runs nothing; its checksum changed is refused as damaged.
      const line1 = head.slice(0, checkEnd);
      const hashAt = line1.search(/[0-9a-f]{64}/);
      const loose: [string, { cutAt?: number; flipAt?: number; mask?: number }][] = [
        ['cut after the first byte', { cutAt: 1 }],
        ['cut inside the check (before the checksum)', { cutAt: 30 }],
        ['cut inside the checksum', { cutAt: hashAt + 10 }],
        ['cut after the checksum', { cutAt: checkEnd - 5 }],
        ['cut right before the end of the check line', { cutAt: checkEnd }],
        ['the || of the check changed', { flipAt: line1.indexOf('] ||') + 2 }],
        ['a hex digit of the checksum changed', { flipAt: hashAt + 20 }],
      ];
      for (const [what, how] of loose) await expectDamagedRefused(ctx, damaged(ctx.bin, work, how), target, what.includes('checksum changed') || what.includes('end of the check line'), what);
    });

    it(`property: cut at, or a byte flipped at, a random place past line 1 is refused by the checksum (${testRuns(6, 200)} runs)`, async () => {
      const n = await damagedBinProperty(ctx, testRuns(6, 200), seed);
      console.log(`[installer-inputs] damaged .bin property: ${n} damaged files refused`);
    });

    it('the intact .bin still installs (the checks above are not refusing everything)', async () => {
      const dir = join(optDir(), 'jc');
      const r = await installer(ctx, 'root', ['--install-dir', dir, '--user', ctx.user.name], { via: 'bin' });
      expect(r.code, r.stderr).toBe(0);
      expect(statSync(join(dir, 'install.conf')).isFile()).toBe(true);
      expect((await run(join(dir, 'uninstall'), [])).code).toBe(0);
      expect(existsSync(dir)).toBe(false);
      expect(readdirSync(ctx.tmpForBin)).toEqual([]);
    });
  });
});
