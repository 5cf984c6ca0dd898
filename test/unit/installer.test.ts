/**
 * The installer's pieces that need no site: the flag table and its MSI twins (seeds: the
 * msiexec rule and its two exceptions), the --jc-* mapping, KEY_INFO's shape, the EXE overlay
 * trailer, the .bin stub's offset, install.conf, the cron.d and
 * systemd quoting, and the checks that run before anything is written.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { BIN_STUB, renderStub, sealBin } from '../../protocol/installer-files/bin-file.js';
import { INSTALLER_FLAGS, JC_FLAGS, msiPropertyOf, optionKey } from '../../protocol/jc-flags.js';
import { jcValues, parseJcOptions } from '../../protocol/jc-options.js';
import { EXE_MAGIC, EXE_TRAILER_2_BYTES, EXE_TRAILER_BYTES, exeTrailer, overlayEnd, overlayFromTrailer, peSecurityFields, trimPadding } from '../../protocol/exe-overlay.js';
import { keyInfoField, normalizeKeyInfo } from '../../protocol/key-info.js';
import { checkInstallDir, checkOverrides, requestedFromOptions } from '../../agent/install/install.js';
import { cronEntry, formatInstallConf, readInstallConf, systemdUnit } from '../../agent/install/service.js';
import { stampSchema, type Stamp } from '../../protocol/stamp.js';
import { JumpError } from '../../protocol/errors.js';

const tmp = mkdtempSync(join(tmpdir(), 'jump-installer-unit-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const stamp: Stamp = {
  format: 1,
  uid: '0123456789abcdef',
  site_url: 'https://jump.example.test:8443',
  site_pin: 'ed25519:' + 'A'.repeat(43),
  key_info: 'k'.repeat(47),
  expires_at: '2030-01-01T00:00:00.000Z',
  defaults: { name: null, jump_group: 'Linux Admins', tag: 'fixed', comments: '' },
  allow_override: ['comments'],
};

describe('installer flags and their MSI twins (seeds: msiexec parameters)', () => {
  it('every flag of the seeds table is there, and each MSI twin follows the rule or a documented exception', () => {
    const flags = INSTALLER_FLAGS.map((f) => f.flag);
    for (const f of ['--install-dir', '--jc-jump-group', '--jc-tag', '--jc-comments', '--silent', '--user']) expect(flags).toContain(f);
    const twins = Object.fromEntries(INSTALLER_FLAGS.map((f) => [f.flag, f.msiProperty]));
    expect(twins).toMatchObject({
      '--install-dir': 'installdir',
      '--jc-jump-group': 'jc_jump_group',
      '--jc-tag': 'jc_tag',
      '--jc-comments': 'jc_comments',
      '--jc-name': 'jc_name',
      '--silent': '/quiet',
    });
    for (const f of INSTALLER_FLAGS.filter((x) => x.flag !== '--user')) expect(f.msiProperty).toBe(msiPropertyOf(f.flag));
  });
});

describe('--jc-* options to requested fields (one mapping for install, run and msi-configure)', () => {
  it("names the options as commander does and maps each to its field", () => {
    expect(JC_FLAGS.map((f) => optionKey(f.flag)).sort()).toEqual(['jcComments', 'jcJumpGroup', 'jcName', 'jcTag']);
    expect(jcValues({ jcTag: 't', jcJumpGroup: 'g', jcName: undefined })).toEqual({ tag: 't', jump_group: 'g' });
    expect(parseJcOptions({})).toEqual({ ok: true, requested: {} });
  });

  it('refuses a bad value naming its flag, without throwing', () => {
    const r = parseJcOptions({ jcTag: 'fine', jcName: '' });
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.flag).toBe('--jc-name');
  });
});

describe('KEY_INFO and the EXE overlay trailer', () => {
  it('accepts 8 to 128 lowercase letters and digits, after trimming and lowercasing what was typed', () => {
    expect(keyInfoField.safeParse(normalizeKeyInfo('  ABCdef123  ')).success).toBe(true);
    for (const bad of ['short', 'x'.repeat(129), 'has-dash-inside', 'UPPERCASE']) expect(keyInfoField.safeParse(bad).success).toBe(false);
  });

  it('reads back the payload length and the exe\'s security entry it wrote (format 2), and refuses a trailer without the magic or with a length past the file', () => {
    const exe = { securityOffset: 4096, securitySize: 9000, checksum: 0xabcdef };
    const t = exeTrailer(1000, exe);
    expect(t.length).toBe(EXE_TRAILER_2_BYTES);
    expect(overlayFromTrailer(t, 5000)).toEqual({ start: 5000 - EXE_TRAILER_2_BYTES - 1000, length: 1000, restore: exe });
    expect(overlayFromTrailer(t, 500)).toBeNull();
    expect(overlayFromTrailer(Buffer.alloc(EXE_TRAILER_2_BYTES), 5000)).toBeNull();
  });

  it('still reads a format 1 trailer (installers made before signing)', () => {
    const t1 = Buffer.alloc(EXE_TRAILER_BYTES);
    t1.writeBigUInt64LE(1000n, 0);
    EXE_MAGIC.copy(t1, 8);
    expect(overlayFromTrailer(Buffer.concat([Buffer.alloc(12, 7), t1]), 5000)).toEqual({ start: 5000 - EXE_TRAILER_BYTES - 1000, length: 1000, restore: null });
  });

  it('finds the trailer\'s end before a certificate table that ends the file, past its alignment zeros', () => {
    const pe = { checksumAt: 0, checksum: 0, securityAt: 0, securityOffset: 8000, securitySize: 2000 };
    expect(overlayEnd(pe, 10_000)).toBe(8000);
    expect(overlayEnd({ ...pe, securityOffset: 0, securitySize: 0 }, 10_000)).toBe(10_000);
    expect(overlayEnd({ ...pe, securitySize: 1000 }, 10_000)).toBe(10_000); // a table that does not end the file is not one a signer wrote
    expect(trimPadding(Buffer.from([0x32, 0, 0, 0]), 8000)).toBe(7997);
    expect(trimPadding(Buffer.from([0x32]), 8000)).toBe(8000);
  });

  it('reads the security entry of a real PE (node-pty\'s prebuilt winpty-agent.exe, a PE32+) and refuses what is not one', () => {
    const pe = fileURLToPath(new URL('../../node_modules/node-pty/prebuilds/win32-x64/winpty-agent.exe', import.meta.url));
    const f = peSecurityFields(readFileSync(pe).subarray(0, 4096));
    expect(f).not.toBeNull();
    expect(f!.securityAt).toBeGreaterThan(f!.checksumAt);
    expect(peSecurityFields(Buffer.from('#!/bin/sh\n'.padEnd(200, ' ')))).toBeNull();
    // A crafted header (from a file an attacker handed over) never reads outside what was read: null, not a throw.
    const head = readFileSync(pe).subarray(0, 4096);
    const lfanew = head.readUInt32LE(0x3c);
    for (const cut of [lfanew + 30, lfanew + 24 + 100, lfanew + 24 + 112 + 30]) expect(peSecurityFields(head.subarray(0, cut))).toBeNull();
    const far = Buffer.from(head);
    far.writeUInt32LE(0xfffffff0, 0x3c);
    expect(peSecurityFields(far)).toBeNull();
  });
});

describe('the .bin stub', () => {
  const template = readFileSync(new URL(`../../packaging/${BIN_STUB}`, import.meta.url), 'utf8');

  it('points at the byte right after itself, for any uid length', () => {
    for (const name of ['bomgar-scc-0123456789abcdef.bin', 'x'.repeat(500)]) {
      const text = renderStub(template, name);
      const offset = Number(/^offset=(\d+)$/m.exec(text)![1]);
      expect(offset).toBe(Buffer.byteLength(text) + 1);
      expect(text).not.toContain('@@');
    }
  });

  it('unpacks a payload appended after it and passes arguments through (real sh and tar)', async () => {
    const payloadDir = join(tmp, 'payload');
    mkdirSync(payloadDir);
    writeFileSync(join(payloadDir, 'jump-client'), '#!/bin/sh\nfor a in "$@"; do printf "<%s>\\n" "$a"; done\nexit 7\n', { mode: 0o755 });
    const bin = join(tmp, 'test.bin');
    writeFileSync(bin, renderStub(template, 'test.bin'));
    execFileSync('sh', ['-c', `tar -czf - -C '${payloadDir}' jump-client >> '${bin}'`]);
    await sealBin(bin);
    const r = spawnSync('dash', [bin, 'a b', `q"'$;`, ''], { encoding: 'utf8', env: { ...process.env, TMPDIR: tmp } });
    expect(r.status).toBe(7);
    expect(r.stdout).toBe(`<install>\n<a b>\n<q"'$;>\n<>\n`);
    const damaged = join(tmp, 'damaged.bin');
    writeFileSync(damaged, readFileSync(bin).subarray(0, readFileSync(bin).length - 20));
    const d = spawnSync('sh', [damaged], { encoding: 'utf8', env: { ...process.env, TMPDIR: tmp } });
    expect(d.status).toBe(3);
    expect(d.stderr).toContain('the installer is damaged');
  });
});

describe('install.conf, cron.d and systemd', () => {
  it('install.conf round-trips', () => {
    const dir = join(tmp, 'conf');
    mkdirSync(dir);
    const conf = { mode: 'service' as const, run_as: 'jsmith', unit: 'jump-client-0123456789ab', installer: stamp.uid, version: '0.1.0' };
    writeFileSync(join(dir, 'install.conf'), formatInstallConf(conf));
    expect(readInstallConf(dir)).toEqual(conf);
    expect(readInstallConf(join(tmp, 'nowhere'))).toBeNull();
  });

  it('the cron.d line gives sh the exact path, whatever it holds (cron turns a bare % into a newline)', () => {
    const dir = `/opt/it's 100% "jump" $dir`;
    const line = cronEntry(dir).split('\n').find((l) => l.startsWith('@reboot'))!;
    const command = line.slice('@reboot root '.length).replace(/ start >\/dev\/null 2>&1$/, '');
    expect(command).not.toMatch(/[^\\]%/);
    const asCronRuns = command.replace(/\\%/g, '%');
    const r = spawnSync('sh', ['-c', `printf '%s' ${asCronRuns}`], { encoding: 'utf8' });
    expect(r.stdout).toBe(`${dir}/init-script`);
  });

  it('the unit quotes paths with spaces, %, $ and ; so that systemd-analyze verify accepts them', () => {
    const dir = join(tmp, `odd dir; 100% $HOME`);
    mkdirSync(dir);
    copyFileSync('/bin/true', join(dir, 'jump-client'));
    const unit = join(tmp, 'jump-client-0123456789ab.service');
    writeFileSync(unit, systemdUnit(dir, 'daemon'));
    const r = spawnSync('systemd-analyze', ['verify', unit], { encoding: 'utf8' });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    // Service mode: the agent runs as root (no User=) and starts sessions as the user (security issue #12 item 4).
    expect(readFileSync(unit, 'utf8')).not.toContain('User=');
    expect(readFileSync(unit, 'utf8')).toMatch(/ --run-as "daemon"$/m);
  });
});

describe('checks before anything is written', () => {
  it('refuses an override the installer forbids, naming the flag; allows equal values and allowed fields', () => {
    expect(() => checkOverrides(stamp, { tag: 'fixed', comments: 'anything', jump_group: 'Linux Admins' })).not.toThrow();
    try {
      checkOverrides(stamp, { tag: 'other' });
      expect.unreachable();
    } catch (err) {
      expect((err as JumpError).code).toBe('INSTALLER_OVERRIDE_FORBIDDEN');
      expect((err as JumpError).message).toContain('--jc-tag: this installer fixes it to "fixed"');
    }
  });

  it('refuses an install dir that systemd could not run from (quotes, backslashes) or with control characters', () => {
    const me = { name: 'x', uid: 0, gid: 0, home: tmp, shell: '/bin/sh', groups: [0] };
    for (const bad of [`${tmp}/it's`, `${tmp}/a"b`, `${tmp}/a\\b`, `${tmp}/a\nb`]) {
      expect(() => checkInstallDir({ installDir: bad }, me)).toThrow(/--install-dir: give a path without/);
    }
    expect(checkInstallDir({ installDir: `${tmp}/fine 100% $x` }, me)).toBe(`${tmp}/fine 100% $x`);
  });

  it('names the flag of a bad value', () => {
    expect(() => requestedFromOptions({ jcComments: 'x'.repeat(10_000) })).toThrow(/--jc-comments: must be at most/);
    expect(() => requestedFromOptions({ jcName: '' })).toThrow(/--jc-name: must not be empty/);
    expect(requestedFromOptions({ jcTag: 't', jcJumpGroup: 'user:bob' })).toEqual({ tag: 't', jump_group: 'user:bob' });
  });

  it('the stamp schema refuses a plain-http site URL', () => {
    expect(stampSchema.safeParse(stamp).success).toBe(true);
    expect(stampSchema.safeParse({ ...stamp, site_url: 'http://jump.example.test' }).success).toBe(false);
  });
});
