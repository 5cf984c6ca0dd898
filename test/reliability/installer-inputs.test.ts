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
import { existsSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { cleanup, tempDir } from '../helpers/processes.js';
import { listClients, startTestSite } from '../helpers/site.js';
import { testRuns, testSeed } from '../helpers/seed.js';
import {
  IS_ROOT,
  ROOT_LOG,
  SKIP_REASON,
  asUser,
  damageCases,
  damaged,
  damagedBinProperty,
  deleteClients,
  enrollFromInstall,
  expectDamagedRefused,
  expectRefusedBatch,
  expectNothingLeft,
  expectRefused,
  installDirProperty,
  installer,
  jcFieldsProperty,
  mkdirOwned,
  optDir,
  payloadFor,
  removeOptDirs,
  requestedOf,
  run,
  setUp,
  siteRefusalCase,
  SITE_REFUSALS,
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
    const t0 = Date.now();
    const site = await startTestSite();
    if (process.env.JCII_TIMING) console.log(`[timing] site ${Date.now() - t0} ms`);
    ctx = await setUp(site);
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
      for (const [what, to] of cases) symlinkSync(to, join(scratch, `link ${what}`));
      await expectRefusedBatch(
        ctx,
        [scratch],
        cases.map(([what]) => ({
          what,
          who: 'user',
          args: ['--install-dir', join(scratch, `link ${what}`)],
          want: { exit: 2, code: 'INSTALL_DIR_EXISTS', field: '--install-dir', fix: [new RegExp(`--install-dir: .*/link ${what} exists\\.`), /choose another path/], log: userLog() },
        })),
      );
      expect(existsSync(join(scratch, 'nothing-here'))).toBe(false);
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
      await expectRefusedBatch(ctx, [scratch], cases.map(([what, dir, code, fix]) => ({ what, who: 'user', args: ['--install-dir', dir], want: { exit: 2, code, field: '--install-dir', fix, log: userLog() } })));
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
        ['unknown (root)', 'root', ['--install-dir', join(opt, 'jc'), '--user', 'no-such-user-jcii'], 'INSTALL_USER_UNKNOWN', [/--user: no user "no-such-user-jcii"\./, /create the user first.*or name an existing one/], ROOT_LOG],
        ['metacharacters (root)', 'root', ['--install-dir', join(opt, 'jc'), '--user', `$(touch ${ctx.marker});x`], 'INSTALL_USER_UNKNOWN', /--user: no user "\$\(touch .*\);x"/, ROOT_LOG],
        ['root itself', 'root', ['--install-dir', join(opt, 'jc'), '--user', 'root'], 'INSTALL_USER_NOT_ALLOWED', /--user: "root" is root; name an unprivileged user/, ROOT_LOG],
        ['uid 0 by number', 'root', ['--install-dir', join(opt, 'jc'), '--user', '0'], 'INSTALL_USER_UNKNOWN', /--user: no user "0"/, ROOT_LOG],
        ['unknown (user mode)', 'user', ['--install-dir', join(scratch, 'jc'), '--user', 'no-such-user-jcii'], 'INSTALL_USER_UNKNOWN', /--user: no user "no-such-user-jcii"/, userLog()],
        ['another user (user mode)', 'user', ['--install-dir', join(scratch, 'jc'), '--user', ctx.other.name], 'INSTALL_USER_NOT_ALLOWED', new RegExp(`--user: only root can install a jump client that runs as another user \\("${ctx.other.name}"\\); run the installer as root, or as ${ctx.other.name}`), userLog()],
      ];
      await expectRefusedBatch(
        ctx,
        [scratch, opt],
        cases.map(([what, who, args, code, fix, log]) => ({ what, who, args, want: { exit: 2, code, field: '--user', fix, log }, users: code === 'INSTALL_USER_UNKNOWN' ? [args[args.indexOf('--user') + 1]] : [] })),
      );
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
      await expectRefusedBatch(
        ctx,
        [scratch],
        over.map(([flag, value, fix]) => ({ what: `${flag} ${JSON.stringify(value.slice(0, 20))}`, who: 'user', args: ['--install-dir', dir, flag, value], want: { exit: 2, code: 'VALIDATION_FAILED', field: flag, fix, log: userLog() } })),
      );
      // --silent: the same refusal, nothing printed; the log names it.
      const before = snapshot(ctx, [scratch]);
      const silent = await installer(ctx, 'user', ['--silent', '--install-dir', dir, '--jc-comments', 'y'.repeat(2000)]);
      expect(silent).toMatchObject({ code: 2, stdout: '', stderr: '' });
      expect(readFileSync(userLog(), 'utf8').trimEnd().split('\n').pop()).toMatch(/VALIDATION_FAILED: .*--jc-comments: must be at most 1024 characters/);
      expectNothingLeft(ctx, before, '--silent');
      rmSync(scratch, { recursive: true, force: true });
    });

    it(`property: generated --jc-comments/--jc-name/--jc-tag are refused naming the flag, or stored and returned by the site byte for byte; never run by a shell (${testRuns(3, 150)} runs)`, async () => {
      const counts = await jcFieldsProperty(ctx, testRuns(3, 150), seed);
      console.log(`[installer-inputs] --jc-* property: ${counts.accepted} accepted, ${counts.refused} refused`);
    });

    it(`property: generated --install-dir paths are refused naming --install-dir, or installed exactly where they resolve, and init-script and uninstall work there (${testRuns(3, 200)} runs)`, async () => {
      const counts = await installDirProperty(ctx, testRuns(3, 200), seed);
      console.log(`[installer-inputs] --install-dir property: ${counts.accepted} accepted, ${counts.refused} refused`);
    });
  });

  describe('installers the site refuses: expired, revoked, used up', () => {
    it('expired by the stamp (the endpoint\'s clock is past it): the install itself fails with INSTALLER_EXPIRED, exit 3, nothing left', async () => {
      // A real installer's payload with its stamped expiry in the past (what an endpoint sees once
      // the validity has run out: the site refuses a validity under 10 minutes).
      const { dir: payload } = await payloadFor(ctx, { valid_for_ms: 3_600_000 }, (st) => ({ ...st, expires_at: new Date(Date.now() - 60_000).toISOString() }));
      const scratch = userScratch(ctx);
      const before = snapshot(ctx, [scratch]);
      const r = await installer(ctx, 'user', ['--install-dir', join(scratch, 'jc')], { payload });
      expectRefused(r, { exit: 3, code: 'INSTALLER_EXPIRED', field: null, fix: [/It expired at /, /Create a new installer/], log: userLog() }, 'expired stamp');
      expectNothingLeft(ctx, before, 'expired stamp');
      rmSync(scratch, { recursive: true, force: true });
    });

    for (const code of SITE_REFUSALS) {
      it(`${code}: refused by the install itself (the site preflight; SITE_REFUSAL_CHECKED_AT), nothing enrolled, nothing left`, async () => {
        await siteRefusalCase(ctx, code, userScratch(ctx));
      });
    }
  });

  describe('a damaged .bin', () => {
    it('cut short or with a byte flipped, in the check line, the stub and the payload: exit 3 "damaged" (or a shell syntax error inside line 1), nothing unpacked or run, nothing left', async () => {
      const work = tempDir('jcii-damaged-');
      const target = join(optDir(), 'jc');
      const cases = damageCases(ctx.bin).filter((c) => c.short || process.env.JUMP_TEST_LONG === '1');
      for (const c of cases) await expectDamagedRefused(ctx, damaged(ctx.bin, work, c.how), target, c.expect, c.what);
      console.log(`[installer-inputs] damaged .bin: ${cases.length} fixed cases`);
    });

    it(`property: cut at, or a byte flipped at, a random place is refused (past line 1: by the checksum; inside it, in test:long: refused or whole) (${testRuns(3, 300)} runs)`, async () => {
      const counts = await damagedBinProperty(ctx, testRuns(3, 300), seed);
      console.log(`[installer-inputs] damaged .bin property: ${counts.refused} refused, ${counts.installed} flips in line 1 that left it whole installed whole`);
    });
  });
});
