/**
 * Issue #15 item 6, installer inputs: shared by test/reliability/installer-inputs.test.ts (bounded
 * runs, in `npm test`) and test/long/installer-inputs.test.ts (many more property runs).
 *
 * Everything runs the real programs: a real site, `jump installer create --platform linux-x64`'s
 * real `bomgar-scc-<uid>.bin`, and its payload's packaged `jump-client install` (what the .bin's
 * stub runs; `node dist/agent/main.js install` cannot stand in for it, since `install` reads the
 * stamped installer.json beside its own executable, which for dist/ is node's directory). User mode
 * runs as a test user made here (useradd); service mode as root, in /opt/jcii-* dirs removed after
 * each test, with any cron entry it made.
 *
 * "Nothing left behind" (`snapshot` / `expectNothingLeft`): no new or changed entry in the watched
 * dirs (the target's parent: no install dir, no staging dir), no temp dir of the .bin, no cron.d
 * entry, no systemd unit, no init.d script, no new user or group, no jump-client process, and the
 * shell-injection marker file never created.
 */
import { execFileSync, spawn } from 'node:child_process';
import { chmodSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'vitest';
import Database from 'better-sqlite3';
import { AgentConfig, identityFromConfig } from '../../agent/config.js';
import { Agent } from '../../agent/agent.js';
import { ROOT, tempDir, waitFor } from '../helpers/processes.js';
import { createInstaller, fixtureStats, inProcessAgent, jump, listClients, testLogger, type ClientJson, type TestSite } from '../helpers/site.js';
import { stampFromCreated } from '../../protocol/stamp.js';

export const IS_ROOT = process.getuid?.() === 0;
/** Why the suite cannot run here (said out loud by the test file), or null. */
export const SKIP_REASON = IS_ROOT ? null : `needs root to create a test user (useradd), install in service mode and mount (uid ${process.getuid?.() ?? 'n/a'}); CI runs it as root`;
export const PACKAGE_DIR = join(ROOT, 'dist', 'package', 'linux-x64');
const CRON_DIR = '/etc/cron.d';
const UNIT_DIR = '/etc/systemd/system';
const INITD_DIR = '/etc/init.d';
export const ROOT_LOG = '/var/log/jump-client-install.log';

export interface Account {
  name: string;
  uid: number;
  home: string;
}

/** What every test of the suite shares (made once per file by `setUp`). */
export interface Ctx {
  site: TestSite;
  /** The .bin as the console wrote it (root's, 0600). */
  bin: string;
  /** Its installer uid. */
  uid: string;
  /** The same .bin, owned by `user`, in its home. */
  userBin: string;
  /** The .bin's payload unpacked, owned by `user` (both names: the same dir): `<dir>/jump-client install` is what the stub runs. */
  payloadRoot: string;
  payloadUser: string;
  /** The unprivileged test user (user mode) and a second one. */
  user: Account;
  other: Account;
  /** TMPDIR for the .bin (1777): must be empty after every run. */
  tmpForBin: string;
  /** A file that exists only if some value was run by a shell (`$(touch M)`, backticks, `;`). */
  marker: string;
  /** A shared jump group on the site whose name is 64 characters, the limit. */
  group64: string;
}

/** A new 0755 root-owned dir under /opt (root-safe, for service mode), removed by `removeOptDirs`. */
export function optDir(prefix = 'jcii'): string {
  const d = mkdtempSync(`/opt/${prefix}-`);
  chmodSync(d, 0o755);
  optDirs.push(d);
  return d;
}
const optDirs: string[] = [];
const users: string[] = [];

function makeUser(): Account {
  const name = `jcii${Math.random().toString(36).slice(2, 8)}`;
  execFileSync('useradd', ['-m', '-s', '/bin/sh', name]);
  users.push(name);
  const uid = Number(execFileSync('id', ['-u', name], { encoding: 'utf8' }).trim());
  return { name, uid, home: `/home/${name}` };
}

/** The byte offset (1-based, `tail -c +N`) of the .bin's payload, from its stub. */
export function payloadOffset(bin: string): number {
  const head = readFileSync(bin).subarray(0, 8192).toString('latin1');
  return Number(/^offset=(\d+)$/m.exec(head)![1]);
}

/** Creates an installer with the console, writing its .bin to a new dir; returns the file and uid. */
export async function createBin(site: TestSite, args: string[]): Promise<{ path: string; uid: string }> {
  const r = await jump(site.consoleDir, ['installer', 'create', ...args, '--platform', 'linux-x64', '--out', tempDir('jcii-bin-'), '--json']);
  expect(r.code, r.stderr).toBe(0);
  const j = JSON.parse(r.stdout) as { uid: string; file: string };
  return { path: j.file, uid: j.uid };
}

/** A copy of `bin` owned by `user`, in its home. */
export function giveTo(bin: string, user: Account, name = bin.split('/').pop()!): string {
  const dest = join(user.home, name);
  execFileSync('cp', [bin, dest]);
  execFileSync('chown', [`${user.name}:`, dest]);
  return dest;
}

export async function setUp(site: TestSite): Promise<Ctx> {
  const t0 = Date.now();
  const lap = (w: string) => process.env.JCII_TIMING && console.log(`[timing] setUp ${w} ${Date.now() - t0} ms`);
  expect(existsSync(join(PACKAGE_DIR, 'jump-client')), 'run `npm run package -- --platform linux-x64` first').toBe(true);
  const group64 = `G${'x'.repeat(60)}$;|`;
  expect(group64.length).toBe(64);
  const g = await jump(site.consoleDir, ['groups', 'create', group64]);
  expect(g.code, g.stderr).toBe(0);
  lap('group');
  const { path: bin, uid } = await createBin(site, ['--valid-for', '1d', '--allow-override', 'name,jump_group,tag,comments']);
  lap('bin');
  const user = makeUser();
  const other = makeUser();
  lap('users');
  const unpack = (dir: string) => execFileSync('sh', ['-c', 'tail -c +"$1" -- "$2" | tar -xzf - -C "$3"', 'sh', String(payloadOffset(bin)), bin, dir]);
  // One unpacked payload, the test user's (root runs it too: root reads anything).
  const payloadUser = tempDir('jcii-payload-');
  unpack(payloadUser);
  execFileSync('chown', ['-R', `${user.name}:`, payloadUser]);
  const payloadRoot = payloadUser;
  lap('payload');
  const tmpForBin = tempDir('jcii-bintmp-');
  chmodSync(tmpForBin, 0o1777);
  const markerDir = tempDir('jcii-marker-');
  chmodSync(markerDir, 0o777);
  return { site, bin, uid, userBin: giveTo(bin, user), payloadRoot, payloadUser, user, other, tmpForBin, marker: join(markerDir, 'pwned'), group64 };
}

/** Removes the /opt dirs made here (unmounting what is mounted there, with their cron.d entries and units), and the test users. */
export async function tearDown(): Promise<void> {
  await removeOptDirs();
  for (const u of users.splice(0)) {
    await run('pkill', ['-KILL', '-u', u]);
    await run('userdel', ['-r', u]);
  }
}

export async function removeOptDirs(): Promise<void> {
  for (const d of optDirs.splice(0)) {
    for (const pid of agentsUnder(d)) process.kill(pid, 'SIGKILL');
    // Mounts made under it (read-only or full tmpfs cases), deepest first.
    const mounts = readFileSync('/proc/mounts', 'utf8')
      .split('\n')
      .map((l) => l.split(' ')[1]?.replace(/\\040/g, ' '))
      .filter((m): m is string => m !== undefined && (m === d || m.startsWith(d + '/')))
      .sort((a, b) => b.length - a.length);
    for (const m of mounts) await run('umount', ['-l', m]);
    rmSync(d, { recursive: true, force: true });
    // A boot start a service-mode install made there, even when the test failed before uninstalling.
    for (const dir of [CRON_DIR, UNIT_DIR]) {
      for (const f of names(dir, 'jump-client')) {
        try {
          if (readFileSync(join(dir, f), 'utf8').includes(`${d}/`)) rmSync(join(dir, f), { force: true });
        } catch {
          /* gone */
        }
      }
    }
  }
}

/** Pids of `jump-client` processes whose executable lies under `dir` (or, for a prefix ending in `-`, under a dir starting with it). */
export function agentsUnder(dir: string): number[] {
  const prefix = dir.endsWith('-') ? dir : dir + '/';
  const pids: number[] = [];
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const argv0 = readFileSync(`/proc/${e}/cmdline`, 'utf8').split('\0')[0];
      if (argv0.startsWith(prefix) && argv0.endsWith('/jump-client')) pids.push(Number(e));
    } catch {
      /* gone */
    }
  }
  return pids;
}

export type RunResult = { code: number | null; stdout: string; stderr: string };

/**
 * Runs a command to completion and resolves once its output is read to the end ('close', not
 * 'exit': a fast-exiting process's last stderr line can arrive after 'exit').
 */
export function run(cmd: string, args: string[], opts: { cwd?: string } = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: opts.cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/**
 * Runs the installer with `args` (passed as argv, no shell of ours in between), as root or as the
 * test user, with a clean environment and TMPDIR = ctx.tmpForBin:
 *   via 'payload' (default): `<payload>/jump-client install ...args` (what the stub runs; `payload`: another unpacked payload)
 *   via 'bin':               `sh <the .bin> ...args` (the stub itself), or a given .bin path.
 */
export function installer(ctx: Ctx, who: 'root' | 'user', args: string[], opts: { via?: 'payload' | 'bin'; bin?: string; payload?: string; shell?: string; cwd?: string } = {}): Promise<RunResult> {
  const home = who === 'root' ? '/root' : ctx.user.home;
  const env = ['env', '-i', 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', `HOME=${home}`, `TMPDIR=${ctx.tmpForBin}`, 'LANG=C.UTF-8'];
  const bin = opts.bin ?? (who === 'root' ? ctx.bin : ctx.userBin);
  const payload = opts.payload ?? (who === 'root' ? ctx.payloadRoot : ctx.payloadUser);
  const cmd = opts.via === 'bin' || opts.bin ? [opts.shell ?? 'sh', bin, ...args] : [join(payload, 'jump-client'), 'install', ...args];
  if (who === 'root') return run(env[0], [...env.slice(1), ...cmd], { cwd: opts.cwd });
  return run('runuser', ['-u', ctx.user.name, '--', ...env, ...cmd], { cwd: opts.cwd });
}

/** Runs a command as the test user (clean environment). */
export function asUser(ctx: Ctx, cmd: string[]): Promise<RunResult> {
  return run('runuser', ['-u', ctx.user.name, '--', 'env', '-i', 'PATH=/usr/sbin:/usr/bin:/sbin:/bin', `HOME=${ctx.user.home}`, 'LANG=C.UTF-8', ...cmd]);
}

/** Every path under `p` (itself included, symlinks not followed) with its type, size, mode, owner, mtime and link target. */
export function tree(p: string): string[] {
  let st;
  try {
    st = lstatSync(p);
  } catch {
    return [`${p} (absent)`];
  }
  const kind = st.isSymbolicLink() ? `link->${readlinkSync(p)}` : st.isDirectory() ? 'dir' : st.isFile() ? 'file' : 'other';
  const self = `${p} ${kind} ${st.isDirectory() ? '' : st.size} ${(st.mode & 0o7777).toString(8)} ${st.uid} ${st.mtimeMs}`;
  if (!st.isDirectory()) return [self];
  const out = [self.replace(/ \S+$/, '')]; // a dir's mtime changes when a log line is appended inside it; its entries are listed
  for (const e of readdirSync(p).sort()) {
    if (e === '.jump-client-install.log') continue; // the one file a failure writes, on purpose
    out.push(...tree(join(p, e)));
  }
  return out;
}

function names(dir: string, prefix = ''): string[] {
  return existsSync(dir) ? readdirSync(dir).filter((f) => f.startsWith(prefix)).sort() : [];
}

/**
 * The jump-client entries in `dir` (cron.d, systemd units) that point into a place this suite
 * installs: other suites install jump clients of their own in parallel.
 */
function ourEntries(ctx: Ctx, dir: string): string[] {
  return names(dir, 'jump-client').filter((f) => {
    try {
      const text = readFileSync(join(dir, f), 'utf8');
      return text.includes('/opt/jcii-') || text.includes(ctx.user.home);
    } catch {
      return false;
    }
  });
}

export interface Snapshot {
  watched: Record<string, string[]>;
  cron: string[];
  units: string[];
  initd: string[];
  passwd: string;
  group: string;
  tmp: string[];
  agents: number[];
  rootLogBytes: number;
}

/** What "nothing left behind" is compared against; `watched` paths are listed recursively. */
export function snapshot(ctx: Ctx, watched: string[]): Snapshot {
  return {
    watched: Object.fromEntries(watched.map((w) => [w, tree(w)])),
    cron: ourEntries(ctx, CRON_DIR),
    units: ourEntries(ctx, UNIT_DIR),
    initd: names(INITD_DIR),
    passwd: readFileSync('/etc/passwd', 'utf8'),
    group: readFileSync('/etc/group', 'utf8'),
    tmp: names(ctx.tmpForBin),
    // Only where this suite installs: other suites run jump clients of their own in parallel.
    agents: [ctx.payloadRoot, ctx.payloadUser, ctx.tmpForBin, ctx.user.home, '/opt/jcii-'].flatMap(agentsUnder).sort(),
    rootLogBytes: existsSync(ROOT_LOG) ? statSync(ROOT_LOG).size : 0,
  };
}

/**
 * Asserts that nothing changed since `before` (see the module comment); the install log may grow.
 * `users`: names given with --user, which must not have been created.
 */
export function expectNothingLeft(ctx: Ctx, before: Snapshot, what = '', users: string[] = []): void {
  const after = snapshot(ctx, Object.keys(before.watched));
  for (const w of Object.keys(before.watched)) expect(after.watched[w], `${what}: ${w} changed`).toEqual(before.watched[w]);
  expect(after.cron, `${what}: a cron.d entry was left`).toEqual(before.cron);
  expect(after.units, `${what}: a systemd unit was left`).toEqual(before.units);
  expect(after.initd, `${what}: an init.d script was left`).toEqual(before.initd);
  // Other suites make users in parallel (useradd in other worktrees' tests), so a new account is
  // ours when it is named like one we passed (`users`) or lives in a watched or /opt/jcii- path.
  const added = (now: string, then: string) => now.split('\n').filter((l) => l !== '' && !then.split('\n').includes(l));
  const ours = (line: string) => {
    const [name, , , , , home] = line.split(':');
    return users.includes(name) || (home !== undefined && (home.startsWith('/opt/jcii-') || Object.keys(before.watched).some((w) => home === w || home.startsWith(w + '/'))));
  };
  expect(added(after.passwd, before.passwd).filter(ours), `${what}: a user was created`).toEqual([]);
  expect(added(after.group, before.group).filter((l) => users.includes(l.split(':')[0])), `${what}: a group was created`).toEqual([]);
  expect(after.tmp, `${what}: the .bin's temp dir was left`).toEqual(before.tmp);
  expect(after.agents, `${what}: a jump-client process was left running`).toEqual(before.agents);
  expect(existsSync(ctx.marker), `${what}: a value was run by a shell`).toBe(false);
}

/**
 * A refusal as the seeds' users must see it: exit `exit`, `code` and the flag named on stderr
 * (`jump-client install: CODE: ... --flag: ...`), the fix in the same message, and the same
 * line at the end of the install log. `silent`: nothing printed at all.
 */
export function expectRefused(r: RunResult, want: { exit: number; code: string; field: string | null; fix: RegExp | RegExp[]; log?: string }, what = ''): void {
  expect(r.code, `${what}: exit status (stderr: ${r.stderr})`).toBe(want.exit);
  expect(r.stdout, `${what}: nothing on stdout`).toBe('');
  expect(r.stderr, `${what}: the code`).toContain(`${want.code}: `);
  if (want.field) expect(r.stderr, `${what}: the field`).toContain(`${want.field}`);
  // Case-insensitive: the catalog's sentence ("Create a new installer.") or a "Fix: create ..." line.
  for (const f of [want.fix].flat()) expect(r.stderr, `${what}: the fix`).toMatch(new RegExp(f.source, f.flags.replace('i', '') + 'i'));
  if (want.log) {
    // The same message, in the log (other installs may have logged after it: batches run at once).
    const message = /jump-client install: (.*)$/m.exec(r.stderr)?.[1] ?? `${want.code}: `;
    expect(readFileSync(want.log, 'utf8'), `${what}: the install log`).toContain(message);
  }
}

/**
 * The payload of another installer, as its .bin would unpack it, without the minutes of gzip a
 * .bin costs: creates the installer through the API (`body`, as `jump installer create` sends it)
 * and returns a dir, owned by the test user, holding the unpacked payload (hard links) with that
 * installer's stamp (protocol/stamp.ts stampFromCreated, as `jump installer create` writes it). `edit` changes the stamp.
 */
export async function payloadFor(ctx: Ctx, body: Record<string, unknown>, edit: (s: Record<string, unknown>) => Record<string, unknown> = (s) => s): Promise<{ dir: string; uid: string }> {
  const r = await createInstaller(ctx.site.api, body);
  const dir = tempDir('jcii-payload-');
  execFileSync('cp', ['-al', `${ctx.payloadUser}/.`, dir]);
  const stampFile = join(dir, 'installer.json');
  rmSync(stampFile); // a hard link to the shared payload's stamp: replace, never write through it
  writeFileSync(stampFile, JSON.stringify(edit({ ...stampFromCreated(r) }), null, 2) + '\n', { mode: 0o600 });
  execFileSync('chown', [`${ctx.user.name}:`, dir, stampFile]);
  return { dir, uid: r.uid };
}

/** One refused install of a batch (expectRefusedBatch). */
export interface RefusalCase {
  what: string;
  who: 'root' | 'user';
  args: string[];
  want: Parameters<typeof expectRefused>[1];
  /** Names given with --user, which must not exist afterwards either. */
  users?: string[];
}

/**
 * Runs the refused installs of `cases` at once (they are independent; two cores take them faster
 * than one after the other), then asserts each refusal (expectRefused) and that nothing was left
 * in `watched` or anywhere else (expectNothingLeft).
 */
export async function expectRefusedBatch(ctx: Ctx, watched: string[], cases: RefusalCase[]): Promise<void> {
  const before = snapshot(ctx, watched);
  const results = await Promise.all(cases.map((c) => installer(ctx, c.who, c.args)));
  cases.forEach((c, i) => expectRefused(results[i], c.want, c.what));
  expectNothingLeft(ctx, before, cases.map((c) => c.what).join(', '), cases.flatMap((c) => c.users ?? []));
}

// --- installers the site refuses (expired, revoked, used up) -------------------------------------

/**
 * Where an installer the site refuses (expired on the site, revoked, used up) fails today: at the
 * jump client's first start (`init-script start`), since `jump-client install` never talks to the
 * site. The site preflight at install time (agent/install/preflight.ts) moved it to 'install'; this
 * switch keeps the first-start path (`--offline`) one edit away. `expectInstallerRefused` asserts the install fails with
 * the code (exit 3) and leaves nothing behind.
 */
export const SITE_REFUSAL_CHECKED_AT: 'first-start' | 'install' = 'install';

/**
 * Runs a user-mode install into `dir` from `payload` (payloadFor) and asserts it is
 * refused with `code` where SITE_REFUSAL_CHECKED_AT says: 'first-start' (today): the install
 * succeeds, `init-script start` exits 1 naming `code`, status says refused (3), no jump client
 * enrolls on the site, no agent keeps running; the install is then uninstalled (nothing left).
 * 'install': the install exits 3 naming `code` and leaves nothing behind.
 */
export async function expectInstallerRefused(ctx: Ctx, payload: string, code: 'INSTALLER_EXPIRED' | 'INSTALLER_REVOKED' | 'INSTALLER_USED_UP', dir: string): Promise<void> {
  const t0 = Date.now();
  const lap = (w: string) => process.env.JCII_TIMING && console.log(`[timing] ${code} ${w} ${Date.now() - t0} ms`);
  const clientsBefore = (await listClients(ctx.site.api)).items.length;
  const before = snapshot(ctx, [ctx.user.home]);
  const inst = await installer(ctx, 'user', ['--install-dir', dir], { payload });
  if (SITE_REFUSAL_CHECKED_AT === 'install') {
    expectRefused(inst, { exit: 3, code, field: null, fix: /create a new installer/i }, code);
    expectNothingLeft(ctx, before, code);
  } else {
    expect(inst.code, inst.stderr).toBe(0);
    lap('installed');
    const started = await asUser(ctx, [join(dir, 'init-script'), 'start']);
    lap('start refused');
    expect(started.code, started.stdout + started.stderr).toBe(1);
    expect(started.stderr).toContain(`${code}: `);
    expect(started.stderr).toMatch(/create a new installer/i);
    const st = await asUser(ctx, [join(dir, 'init-script'), 'status']);
    expect(st.code).toBe(3);
    expect(st.stdout).toContain(code);
    expect(agentsUnder(dir)).toEqual([]);
    const un = await asUser(ctx, [join(dir, 'uninstall')]);
    expect(un.code, un.stderr).toBe(0);
    lap('uninstalled');
    expectNothingLeft(ctx, before, code);
  }
  expect((await listClients(ctx.site.api)).items.length, `${code}: nothing enrolled`).toBe(clientsBefore);
}

/**
 * The site's refusals of an installer run here: in `npm test` revoked (the three share one path,
 * the first start's refusal; expired on the site also runs in `npm test` in
 * test/e2e/linux-install.test.ts, "an expired installer at first start"); in test:long all three.
 */
export const SITE_REFUSALS: ('INSTALLER_EXPIRED' | 'INSTALLER_REVOKED' | 'INSTALLER_USED_UP')[] =
  process.env.JUMP_TEST_LONG === '1' ? ['INSTALLER_EXPIRED', 'INSTALLER_REVOKED', 'INSTALLER_USED_UP'] : ['INSTALLER_REVOKED'];

/**
 * Makes an installer the site refuses with `code` (expired: its expiry set in the past in the
 * site's store; revoked through the API; used up: `max_uses` 1, used once by an install that
 * enrolls) and asserts expectInstallerRefused for an install into `scratch`. Removes `scratch`.
 */
export async function siteRefusalCase(ctx: Ctx, code: (typeof SITE_REFUSALS)[number], scratch: string): Promise<void> {
  const { dir: payload, uid } = await payloadFor(ctx, { valid_for_ms: 3_600_000, ...(code === 'INSTALLER_USED_UP' ? { max_uses: 1 } : {}) });
  let enrolled: number | null = null;
  if (code === 'INSTALLER_EXPIRED') {
    const db = new Database(join(ctx.site.dataDir, 'site.db'));
    db.prepare('UPDATE installers SET expires_at = ? WHERE uid = ?').run(Date.now() - 1000, uid);
    db.close();
  } else if (code === 'INSTALLER_REVOKED') {
    await ctx.site.api.request('POST', `/api/v1/installers/${uid}/revoke`, {});
  } else {
    // Its one use: a jump client enrolling with its KEY_INFO (in-process, the real Agent class).
    const stamp = JSON.parse(readFileSync(join(payload, 'installer.json'), 'utf8')) as { site_url: string; site_pin: string; key_info: string };
    const agent = inProcessAgent(stamp);
    try {
      enrolled = await waitFor(async () => (await listClients(ctx.site.api)).items.find((c) => c.installer === uid)?.id, 20_000, 50, 'the one use');
    } finally {
      await agent.stop();
    }
  }
  await expectInstallerRefused(ctx, payload, code, join(scratch, 'jc'));
  if (enrolled !== null) await deleteClients(ctx, [enrolled]);
  rmSync(scratch, { recursive: true, force: true });
}

// --- reading back what an install stored ----------------------------------------------------------

/** The `requested` fields an install wrote into its config (what the first start sends). */
export function requestedOf(dir: string): Record<string, string> {
  return (JSON.parse(readFileSync(join(dir, 'config', 'agent.json'), 'utf8')) as { requested?: Record<string, string> }).requested ?? {};
}

/**
 * Enrolls the install in `dir` with the real Agent class from its own config (the identity its
 * first start would use; run as root here, in-process, so many installs enroll quickly) and
 * returns the jump client as the site's API lists it. The agent is stopped after.
 */
export async function enrollFromInstall(ctx: Ctx, dir: string): Promise<ClientJson> {
  const cfg = new AgentConfig(join(dir, 'config'));
  const identity = identityFromConfig(cfg, `jcii-${Math.random().toString(36).slice(2)}`);
  let id: number | null = null;
  const agent = new Agent({ identity, stats: async () => fixtureStats(), log: testLogger(), backoff: { baseMs: 100, capMs: 500 }, onEnrolled: (c) => (id = c) });
  void agent.start();
  try {
    await waitFor(() => id !== null, 20_000, 25, `enrollment of ${dir}`);
    return await waitFor(async () => (await listClients(ctx.site.api)).items.find((c) => c.id === id), 10_000, 50, 'the client listed');
  } finally {
    await agent.stop();
  }
}

/** Removes every jump client from the site (so the next batch's clients are told apart). */
export async function deleteClients(ctx: Ctx, ids: number[]): Promise<void> {
  for (const id of ids) {
    const r = await jump(ctx.site.consoleDir, ['clients', 'delete', String(id), '--yes']);
    expect(r.code, r.stderr).toBe(0);
  }
}

/** A fresh dir owned by the test user under its home, removed by the caller (or with the user). */
export function userScratch(ctx: Ctx): string {
  const d = mkdtempSync(join(ctx.user.home, 'scratch-'));
  execFileSync('chown', [`${ctx.user.name}:`, d]);
  chmodSync(d, 0o700);
  return d;
}

export function mkdirOwned(path: string, owner: Account | null, mode = 0o755): string {
  mkdirSync(path, { mode });
  chmodSync(path, mode);
  if (owner) execFileSync('chown', [`${owner.name}:`, path]);
  return path;
}

// --- properties ----------------------------------------------------------------------------------

/**
 * The rule for a `--jc-*` value, written here from protocol/limits.ts and the field rules in
 * protocol/fields.ts (not by calling them): at most `max` UTF-16 code units, `min` at least, and no
 * C0/C1 control, DEL, bidi control, LRM/RLM, line/paragraph separator, ZWSP or BOM, except tab and
 * line feed in comments. Returns why a value is refused (the words of the message), or null.
 */
export function jcRefusal(field: 'comments' | 'name' | 'tag', v: string): RegExp | null {
  const max = { comments: 1024, name: 128, tag: 64 }[field];
  if (field === 'name' && v.length === 0) return /must not be empty/;
  if (v.length > max) return new RegExp(`must be at most ${max} characters`);
  const banned = /[\u0000-\u001f\u007f-\u009f\u200b\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069\ufeff]/;
  const allowed = field === 'comments' ? v.replace(/[\t\n]/g, '') : v;
  if (banned.test(allowed)) return /must not contain control characters/;
  return null;
}

/** Shell-meaningful pieces, each aimed at the marker file: any shell that interprets them creates it. */
export function shellPieces(marker: string): string[] {
  return [
    `$(touch ${marker})`,
    `\`touch ${marker}\``,
    `; touch ${marker}`,
    `| touch ${marker}`,
    `&& touch ${marker} &`,
    `'; touch ${marker}; '`,
    `"; touch ${marker}; "`,
    `\n touch ${marker}\n`,
    `$HOME`,
    `\${PATH}`,
    `*`,
    `~`,
    `%s%n%%`,
    `\\`,
    `-x`,
    `--jc-tag`,
    `<`,
    `>${marker}`,
    `!!`,
    ` `,
  ];
}

/**
 * fast-check arbitrary of `--jc-*` values: shell metacharacters aimed at the marker, unicode
 * (including astral characters, 2 UTF-16 units each), control characters, leading dashes, and
 * lengths around each field's limit.
 */
export function jcValueArb(fc: typeof import('fast-check'), marker: string, limit: number) {
  const piece = fc.oneof(
    { weight: 8, arbitrary: fc.constantFrom(...shellPieces(marker)) },
    { weight: 6, arbitrary: fc.string({ unit: 'grapheme', maxLength: 8 }) },
    { weight: 1, arbitrary: fc.constantFrom('\t', '\r', '\u0007', '\u001b[31m', '\u007f', '\u0085', '\u202e', '\u200b', '\u2028', '\ufeff', '\u200d', '日本語', '🦀', 'é') },
  );
  const built = fc.array(piece, { maxLength: 10 }).map((a) => a.join(''));
  // Exactly at the limit, one over, and far over (the 2,000): filled with metacharacters.
  const sized = fc.tuple(fc.constantFrom(limit - 1, limit, limit + 1, 2000), fc.constantFrom(...shellPieces(marker).filter((p) => !p.includes('\n')))).map(([n, p]) => (p.repeat(Math.ceil(n / p.length) + 1)).slice(0, n));
  // A lone high surrogate at the cut is not text argv can carry (it becomes U+FFFD): cut before it.
  return fc.oneof({ weight: 3, arbitrary: built }, { weight: 1, arbitrary: sized }).map((s) => s.replace(/[\ud800-\udbff]$/, '').replace(/\u0000/g, ''));
}

/**
 * Property: a `jump-client install` given generated `--jc-comments`, `--jc-name` and `--jc-tag`
 * (user mode, the test user, argv only) either
 *   - is refused: exit 2, VALIDATION_FAILED naming one of the flags whose value breaks the rule
 *     (jcRefusal), and nothing left behind; or
 *   - installs, its config holds exactly the values given, and, enrolled with the site, the site's
 *     API returns each of them byte for byte;
 * and no value is ever run by a shell (the marker file never appears). Returns how many were
 * accepted and refused.
 */
export async function jcFieldsProperty(ctx: Ctx, runs: number, seed: number): Promise<{ accepted: number; refused: number }> {
  const fc = await import('fast-check');
  const counts = { accepted: 0, refused: 0 };
  const fields = fc.record(
    { comments: jcValueArb(fc, ctx.marker, 1024), name: jcValueArb(fc, ctx.marker, 128), tag: jcValueArb(fc, ctx.marker, 64) },
    { requiredKeys: [] },
  );
  await fc.assert(
    fc.asyncProperty(fields, async (f) => {
      const scratch = userScratch(ctx);
      try {
        const dir = join(scratch, 'jc');
        const args = ['--install-dir', dir];
        if (f.comments !== undefined) args.push('--jc-comments', f.comments);
        if (f.name !== undefined) args.push('--jc-name', f.name);
        if (f.tag !== undefined) args.push('--jc-tag', f.tag);
        const before = snapshot(ctx, [scratch]);
        const r = await installer(ctx, 'user', args);
        const bad = (['comments', 'name', 'tag'] as const).filter((k) => f[k] !== undefined && jcRefusal(k, f[k]!) !== null);
        if (bad.length > 0) {
          counts.refused++;
          expect(r.code, r.stderr).toBe(2);
          const m = /VALIDATION_FAILED: .*?--jc-(comments|name|tag): (.*)$/m.exec(r.stderr);
          expect(m, r.stderr).not.toBeNull();
          const field = m![1] as 'comments' | 'name' | 'tag';
          expect(bad).toContain(field);
          expect(m![2]).toMatch(jcRefusal(field, f[field]!)!);
          expectNothingLeft(ctx, before, 'refused --jc-* value');
          return;
        }
        counts.accepted++;
        expect(r.code, r.stderr).toBe(0);
        const want = Object.fromEntries((['comments', 'name', 'tag'] as const).filter((k) => f[k] !== undefined).map((k) => [k, f[k]!]));
        expect(requestedOf(dir)).toEqual(want);
        const client = await enrollFromInstall(ctx, dir);
        for (const [k, v] of Object.entries(want)) expect((client as unknown as Record<string, string>)[k], k).toBe(v);
        await deleteClients(ctx, [client.id]);
        expect(existsSync(ctx.marker), 'a value was run by a shell').toBe(false);
      } finally {
        rmSync(scratch, { recursive: true, force: true });
      }
    }),
    { numRuns: runs, seed, endOnFailure: true },
  );
  return counts;
}

/** The pieces of a generated `--install-dir` component. */
function dirPieceArb(fc: typeof import('fast-check'), marker: string) {
  return fc.oneof(
    { weight: 16, arbitrary: fc.constantFrom('jc', 'a b', ' lead', 'trail ', '$(touch ' + marker.replaceAll('/', '_') + ')', '`id`', ';', '|', '&', '<>', '*?', '~', '!', '#', '%', '{a,b}', '[x]', '-rf', 'é', '日本', '🦀', '\u202e', '.hidden') },
    { weight: 1, arbitrary: fc.constantFrom("'", '"', '\\', '\n', '\t', '\u001b') }, // rare: one in a path makes it refused
    { weight: 3, arbitrary: fc.string({ unit: 'grapheme-ascii', minLength: 1, maxLength: 6 }).map((s) => s.replaceAll('/', '_')) },
  );
}

/**
 * Property: `--install-dir` built from generated components (spaces, shell metacharacters,
 * quotes, control characters, unicode, `.` and `..`, over-long names) under a scratch dir of the
 * test user either
 *   - is refused with exit 2 and `--install-dir` (or, for an unreachable place, the dir) named,
 *     nothing left behind; or
 *   - installs exactly at the path resolved as the summary prints it, and there `init-script
 *     status` (a POSIX sh script finding itself from $0) answers 3 "not running" and `uninstall`
 *     removes every file;
 * and no component is ever run by a shell. The expected outcome is worked out from the path here:
 * control characters, then quotes/backslashes refused; then where the path resolves.
 */
export async function installDirProperty(ctx: Ctx, runs: number, seed: number): Promise<{ accepted: number; refused: number }> {
  const fc = await import('fast-check');
  const { resolve, dirname } = await import('node:path');
  const counts = { accepted: 0, refused: 0 };
  const component = fc.oneof(
    { weight: 6, arbitrary: fc.array(dirPieceArb(fc, ctx.marker), { minLength: 1, maxLength: 4 }).map((a) => a.join('')) },
    { weight: 2, arbitrary: fc.constantFrom('..', '.') },
    { weight: 1, arbitrary: fc.integer({ min: 230, max: 260 }).map((n) => 'L'.repeat(n)) },
    { weight: 1, arbitrary: fc.integer({ min: 60, max: 90 }).map((n) => '日'.repeat(n)) }, // 3 bytes each: 180-270 bytes
  );
  await fc.assert(
    fc.asyncProperty(fc.array(component, { minLength: 1, maxLength: 4 }), async (parts) => {
      const scratch = userScratch(ctx);
      try {
        const given = [scratch, ...parts].join('/');
        const resolved = resolve(given);
        // The expected outcome, in the order the installer checks (worked out before it runs).
        let want: { code: string; text: RegExp } | null = null;
        if (/[\u0000-\u001f\u007f]/.test(given)) want = { code: 'VALIDATION_FAILED', text: /--install-dir: give a path without control characters/ };
        else if (/["'\\]/.test(given)) want = { code: 'VALIDATION_FAILED', text: /--install-dir: give a path without quotes or backslashes/ };
        else if (resolved.split('/').some((p, i, all) => Buffer.byteLength(p) > (i === all.length - 1 ? 255 - 16 : 255))) want = { code: 'VALIDATION_FAILED', text: /--install-dir: .* bytes long, longer than \d+ bytes.*choose a shorter path/ };
        else if (existsSync(resolved)) want = { code: 'INSTALL_DIR_EXISTS', text: /--install-dir: .* exists/ };
        else if (![scratch, ctx.user.home].includes(dirname(resolved))) {
          want = existsSync(dirname(resolved))
            ? { code: 'INSTALL_DIR_UNWRITABLE', text: /--install-dir: .* is not writable by/ }
            : { code: 'INSTALL_DIR_UNWRITABLE', text: /--install-dir: .* does not exist or is not a directory/ };
        }
        const before = snapshot(ctx, [ctx.user.home]);
        const r = await installer(ctx, 'user', ['--install-dir', given]);
        if (want) {
          counts.refused++;
          if (r.code === 0) throw new Error(`${JSON.stringify(given)} (${Buffer.byteLength(resolved.split('/').pop()!)} bytes last) was installed; expected ${want.code} ${want.text}`);
          expectRefused(r, { exit: 2, code: want.code, field: '--install-dir', fix: want.text }, JSON.stringify(given));
          expectNothingLeft(ctx, before, JSON.stringify(given));
          return;
        }
        counts.accepted++;
        expect(r.code, `${JSON.stringify(given)}: ${r.stderr}`).toBe(0);
        expect(r.stdout).toContain(`Jump client installed in ${resolved} (user mode`);
        expect(readFileSync(join(resolved, 'install.conf'), 'utf8')).toMatch(/^mode=user$/m);
        const st = await asUser(ctx, [join(resolved, 'init-script'), 'status']);
        expect(st.code, `${JSON.stringify(given)}: status ${st.stdout}${st.stderr}`).toBe(3);
        const un = await asUser(ctx, [join(resolved, 'uninstall')]);
        expect(un.code, `${JSON.stringify(given)}: uninstall ${un.stdout}${un.stderr}`).toBe(0);
        expect(existsSync(resolved)).toBe(false);
        rmSync(scratch, { recursive: true, force: true });
        expectNothingLeft(ctx, snapshotWithout(before, scratch), JSON.stringify(given));
      } finally {
        rmSync(scratch, { recursive: true, force: true });
      }
    }),
    { numRuns: runs, seed, endOnFailure: true },
  );
  return counts;
}

/** `s` with every watched entry under `path` dropped (a scratch dir made for one run, then removed). */
function snapshotWithout(s: Snapshot, path: string): Snapshot {
  return { ...s, watched: Object.fromEntries(Object.entries(s.watched).map(([k, v]) => [k, v.filter((l) => !l.startsWith(path + ' ') && !l.startsWith(path + '/'))])) };
}

/** Where the parts of a .bin are: the end of line 1, the check (byte index of its newline), the payload's 0-based start, the size. */
export function binLayout(bin: string): { checkEnd: number; payload: number; size: number } {
  const buf = readFileSync(bin);
  return { checkEnd: buf.indexOf(0x0a), payload: payloadOffset(bin) - 1, size: buf.length };
}

/** A damaged copy of `bin` in `dir`: cut to `cutAt` bytes, or with the byte at `flipAt` XORed with `mask`. */
export function damaged(bin: string, dir: string, how: { cutAt?: number; flipAt?: number; mask?: number }): string {
  const buf = Buffer.from(readFileSync(bin));
  const out = join(dir, 'damaged.bin');
  if (how.flipAt !== undefined) buf[how.flipAt] ^= how.mask ?? 0x01;
  const data = how.cutAt !== undefined ? buf.subarray(0, how.cutAt) : buf;
  rmSync(out, { force: true });
  execFileSync('dd', [`of=${out}`, 'status=none'], { input: data });
  return out;
}

/**
 * Runs a damaged .bin as root with arguments that would install (service mode into `target`) and
 * asserts, by `expect`:
 *   'damaged': exit 3 and "the installer is damaged (...); download it again" (damage past line 1,
 *              which the checksum covers, or a line 1 that no longer checks);
 *   'refused': any non-zero exit (a cut inside line 1 is a shell syntax error, exit 2);
 *   'refused-or-whole' (a flip inside line 1, the one line the checksum cannot cover: the rest is
 *              intact, and a flip in, say, an error message's text changes nothing): refused, or a
 *              complete install (then uninstalled);
 * and, when refused: nothing installed, nothing left, and `jump-client` never ran (it appends every
 * failure to the install log: the log did not grow).
 */
export async function expectDamagedRefused(ctx: Ctx, file: string, target: string, expectWhat: 'damaged' | 'refused' | 'refused-or-whole', what: string): Promise<'refused' | 'installed'> {
  const before = snapshot(ctx, [dirname2(target)]);
  const r = await installer(ctx, 'root', ['--install-dir', target, '--user', ctx.user.name], { bin: file });
  if (expectWhat === 'refused-or-whole' && r.code === 0) {
    expect(readFileSync(join(target, 'install.conf'), 'utf8'), what).toMatch(/^mode=service$/m);
    const un = await run(join(target, 'uninstall'), []);
    expect(un.code, `${what}: ${un.stderr}`).toBe(0);
    expectNothingLeft(ctx, before, what);
    return 'installed';
  }
  expect(r.code, `${what}: ${r.stdout}${r.stderr}`).not.toBe(0);
  if (expectWhat === 'damaged') {
    expect(r.code, `${what}: ${r.stderr}`).toBe(3);
    expect(r.stderr, `${what}: code ${r.code} stdout ${r.stdout}`).toMatch(/the installer is damaged \((cut short or changed: its checksum does not match|its first line, the checksum check, did not run)\); download it again/);
  }
  expect(r.stdout, what).toBe('');
  expectNothingLeft(ctx, before, what);
  expect(snapshot(ctx, []).rootLogBytes, `${what}: jump-client ran`).toBe(before.rootLogBytes);
  return 'refused';
}

function dirname2(p: string): string {
  return p.slice(0, p.lastIndexOf('/'));
}

/** One way to damage a .bin, what must follow, and whether `npm test` runs it (else only test:long). */
export interface DamageCase {
  what: string;
  how: { cutAt?: number; flipAt?: number; mask?: number };
  expect: 'damaged' | 'refused' | 'refused-or-whole';
  short: boolean;
}

/** The fixed damage cases for `bin`: cuts and flips in the check line, the stub and the payload. */
export function damageCases(bin: string): DamageCase[] {
  const { checkEnd, payload, size } = binLayout(bin);
  const head = readFileSync(bin).subarray(0, payload).toString('latin1');
  const at = (s: string, from = 0) => {
    const i = head.indexOf(s, from);
    if (i < 0) throw new Error(`the stub has no ${s}`);
    return i;
  };
  const hashAt = head.slice(0, checkEnd).search(/[0-9a-f]{64}/);
  const d = (what: string, how: DamageCase['how'], short: boolean, e: DamageCase['expect'] = 'damaged'): DamageCase => ({ what, how, expect: e, short });
  return [
    // Past line 1 the checksum covers every byte: exit 3 "damaged".
    d('cut right after the check line', { cutAt: checkEnd + 1 }, false),
    d('cut inside the stub', { cutAt: Math.floor((checkEnd + payload) / 2) }, false),
    d('cut at the end of the stub (no payload)', { cutAt: payload }, false),
    d('cut 100 bytes into the payload', { cutAt: payload + 100 }, false),
    d('cut in the middle of the payload', { cutAt: Math.floor((payload + size) / 2) }, true),
    d('cut one byte short', { cutAt: size - 1 }, false),
    d('a digit of the payload offset flipped', { flipAt: at('offset=', checkEnd) + 7 }, true),
    d('the tar command changed', { flipAt: at('tar -xzf', checkEnd) + 1 }, false),
    d('the install command changed', { flipAt: at('" install "$@"', checkEnd) + 3, mask: 0x20 }, false),
    d('a comment changed', { flipAt: at('# Jump Client installer', checkEnd) + 3 }, false),
    d('the gzip magic flipped', { flipAt: payload }, false),
    d('a byte in the middle of the payload', { flipAt: Math.floor((payload + size) / 2), mask: 0x80 }, true),
    d('the gzip trailer (CRC) flipped', { flipAt: size - 6 }, false),
    d('the last byte flipped', { flipAt: size - 1 }, false),
    // Line 1 is the check, one compound command: cut inside it is a syntax error (exit 2); a cut
    // just before its newline or a changed checksum is "damaged"; a flip that stops it checking is
    // caught by the stub's body (jc_checked).
    d('cut after the first byte', { cutAt: 1 }, false, 'refused'),
    d('cut inside the check (before the checksum)', { cutAt: 30 }, true, 'refused'),
    d('cut inside the checksum', { cutAt: hashAt + 10 }, false, 'refused'),
    d('cut right before the end of the check line', { cutAt: checkEnd }, false),
    // A digit (0-9) of the checksum: XOR 1 keeps it a digit, so the line still parses.
    d('a digit of the checksum changed', { flipAt: hashAt + head.slice(hashAt, hashAt + 64).search(/[0-9]/) }, true),
    d('the check no longer sets jc_checked=1', { flipAt: at('jc_checked=1') + 11 }, true),
    d('the if of the check changed', { flipAt: at('; if [') + 2 }, false, 'refused'),
    d('the exit of a failed check changed to 2 (the check still passes: installs whole)', { flipAt: at('exit 3; fi') + 5 }, false, 'refused-or-whole'),
  ];
}

/**
 * Property: a .bin cut at a random length past line 1 (the check), or with a random byte flipped
 * (random mask) anywhere past line 1, is refused by the stub's checksum ('damaged'); a random byte
 * flipped inside line 1 is refused or, when the flip left the check working (e.g. in a message's
 * text), installs whole ('refused-or-whole'). Returns the counts.
 */
export async function damagedBinProperty(ctx: Ctx, runs: number, seed: number): Promise<{ refused: number; installed: number }> {
  const fc = await import('fast-check');
  const { checkEnd, size } = binLayout(ctx.bin);
  const work = tempDir('jcii-damaged-');
  const target = join(optDir(), 'jc');
  const damage = fc.oneof(
    fc.integer({ min: checkEnd + 1, max: size - 1 }).map((cutAt) => ({ how: { cutAt }, line1: false })),
    fc.record({ flipAt: fc.integer({ min: checkEnd + 1, max: size - 1 }), mask: fc.integer({ min: 1, max: 255 }) }).map((how) => ({ how, line1: false })),
    // Inside line 1 (a flip there may leave a working check, and then installs whole: seconds a
    // run), only in test:long.
    ...(process.env.JUMP_TEST_LONG === '1' ? [fc.record({ flipAt: fc.integer({ min: 0, max: checkEnd }), mask: fc.integer({ min: 1, max: 255 }) }).map((how) => ({ how, line1: true }))] : []),
  );
  const counts = { refused: 0, installed: 0 };
  await fc.assert(
    fc.asyncProperty(damage, async (d) => {
      const outcome = await expectDamagedRefused(ctx, damaged(ctx.bin, work, d.how), target, d.line1 ? 'refused-or-whole' : 'damaged', JSON.stringify(d));
      counts[outcome]++;
    }),
    { numRuns: runs, seed, endOnFailure: true },
  );
  return counts;
}
