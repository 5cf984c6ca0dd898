/**
 * Windows install ACLs (security issue #12, item 5): the icacls command lines, the parser of
 * `icacls <path> /save <file> /T` (SDDL), the rule that refuses other users' write on the install
 * dir and any access to DIR\config, and that an icacls failure or an empty read-back fails the
 * install unless wine's stub icacls is detected.
 *
 * The /save samples below are FORMAT SAMPLES written from the documented formats (icacls /save:
 * a name line, then the object's SDDL line, UTF-16LE; SDDL: MS-DTYP 2.5.1), with the ACLs Windows 10
 * gives C:\ and C:\Program Files by default. They were not captured from a Windows machine (none
 * here; wine's icacls is a stub), so they prove the parser and the rule, not icacls itself.
 *
 * setWindowsAcls/checkWindowsAcls run real processes: %SystemRoot%\System32\icacls.exe and reg.exe
 * are replaced (SystemRoot points at a temp dir) by small shell scripts that exit with a chosen
 * status and write a chosen /save file, standing in for a failing icacls, a wrong ACL, wine's stub.
 */
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { aclViolations, checkWindowsAcls, icaclsSetArgs, parseDacl, parseIcaclsSave, setWindowsAcls, SID } from '../../agent/install/windows-acl.js';
import { JumpError } from '../../protocol/errors.js';

const utf16 = (s: string, bom = true) => Buffer.concat([bom ? Buffer.from([0xff, 0xfe]) : Buffer.alloc(0), Buffer.from(s, 'utf16le')]);

// FORMAT SAMPLE: what the rule gives a service-mode install (DIR protected, config protected, files inherited).
const GOOD_SERVICE_DIR = [
  'Jump Client',
  'D:PAI(A;OICI;FA;;;SY)(A;OICI;FA;;;BA)(A;OICI;0x1200a9;;;BU)',
  'Jump Client\\config',
  'D:PAI(A;OICI;FA;;;SY)(A;OICI;FA;;;BA)',
  'Jump Client\\config\\agent.json',
  'D:AI(A;ID;FA;;;SY)(A;ID;FA;;;BA)',
  'Jump Client\\jump-client-service.exe',
  'D:AI(A;ID;FA;;;SY)(A;ID;FA;;;BA)(A;ID;0x1200a9;;;BU)',
  '',
].join('\r\n');
const GOOD_SERVICE_CONFIG = ['config', 'D:PAI(A;OICI;FA;;;SY)(A;OICI;FA;;;BA)', 'config\\agent.json', 'D:AI(A;ID;FA;;;SY)(A;ID;FA;;;BA)', ''].join('\r\n');

// FORMAT SAMPLE: the old code's --install-dir C:\JC: everything inherits C:\ (Authenticated Users: modify).
const INHERITED_FROM_C = [
  'JC',
  'D:AI(A;OICIID;FA;;;BA)(A;OICIID;FA;;;SY)(A;OICIID;0x1200a9;;;BU)(A;OICIID;0x1301bf;;;AU)',
  'JC\\jump-client-service.exe',
  'D:AI(A;ID;FA;;;BA)(A;ID;FA;;;SY)(A;ID;0x1200a9;;;BU)(A;ID;0x1301bf;;;AU)',
  '',
].join('\r\n');

// FORMAT SAMPLE: the old MSI's config\ under C:\Program Files\Jump Client (no ACL step in the MSI path).
const MSI_CONFIG_OLD = [
  'config',
  'D:AI(A;OICIID;FA;;;S-1-5-80-956008885-3418522649-1831038044-1853292631-2271478464)(A;OICIID;FA;;;SY)(A;OICIID;FA;;;BA)(A;OICIID;0x1200a9;;;BU)(A;OICIIOID;GA;;;CO)(A;OICIID;0x1200a9;;;AC)',
  '',
].join('\r\n');

describe('icaclsSetArgs', () => {
  const dir = 'C:\\JC';
  it('service mode: owner Administrators, DIR protected with SYSTEM+Administrators full and Users RX, config SYSTEM+Administrators only', () => {
    const cmds = icaclsSetArgs(dir, 'service');
    expect(cmds[0]).toEqual([dir, '/setowner', '*S-1-5-32-544', '/T', '/Q']);
    expect(cmds[1]).toEqual([dir, '/inheritance:r', '/grant:r', '*S-1-5-18:(OI)(CI)F', '*S-1-5-32-544:(OI)(CI)F', '*S-1-5-32-545:(OI)(CI)RX', '/Q']);
    expect(cmds[2]).toEqual([join(dir, 'config'), '/inheritance:r', '/grant:r', '*S-1-5-18:(OI)(CI)F', '*S-1-5-32-544:(OI)(CI)F', '/Q']);
    // Users never get more than RX anywhere, nothing on config.
    expect(cmds.flat().filter((a) => a.includes(SID.USERS))).toEqual(['*S-1-5-32-545:(OI)(CI)RX']);
  });
  it('user mode: the user (by SID) + SYSTEM (+ Administrators on DIR); config the user and SYSTEM only', () => {
    const me = 'S-1-5-21-1004336348-1177238915-682003330-1001';
    const cmds = icaclsSetArgs(dir, 'user', me);
    expect(cmds[0]).toEqual([dir, '/inheritance:r', '/grant:r', `*${me}:(OI)(CI)F`, '*S-1-5-18:(OI)(CI)F', '*S-1-5-32-544:(OI)(CI)F', '/Q']);
    expect(cmds[1]).toEqual([join(dir, 'config'), '/inheritance:r', '/grant:r', `*${me}:(OI)(CI)F`, '*S-1-5-18:(OI)(CI)F', '/Q']);
    expect(icaclsSetArgs(dir, 'user', 'bob')[1][3]).toBe('bob:(OI)(CI)F');
  });
});

describe('parseIcaclsSave and parseDacl', () => {
  it('reads UTF-16LE with and without a BOM, and UTF-8', () => {
    for (const data of [utf16(GOOD_SERVICE_DIR), utf16(GOOD_SERVICE_DIR, false), Buffer.from(GOOD_SERVICE_DIR)]) {
      const e = parseIcaclsSave(data);
      expect(e.map((x) => x.name)).toEqual(['Jump Client', 'Jump Client\\config', 'Jump Client\\config\\agent.json', 'Jump Client\\jump-client-service.exe']);
      expect(e[1].sddl).toBe('D:PAI(A;OICI;FA;;;SY)(A;OICI;FA;;;BA)');
    }
    expect(parseIcaclsSave(Buffer.alloc(0))).toEqual([]);
    // A non-Latin name first (UTF-16LE without a BOM, its first odd byte not 0).
    expect(parseIcaclsSave(utf16('ジャンプ\r\nD:PAI(A;OICI;FA;;;SY)\r\n', false))).toEqual([{ name: 'ジャンプ', sddl: 'D:PAI(A;OICI;FA;;;SY)' }]);
  });
  it('maps aliases to SIDs, rights letters and hex to masks, and flags inherited ACEs', () => {
    expect(parseDacl('D:PAI(A;OICI;FA;;;SY)(D;;FW;;;BU)(A;OICIID;0x1301bf;;;AU)(A;;CCDCLC;;;S-1-5-21-1-2-3-1001)')).toEqual([
      { allow: true, sid: 'S-1-5-18', mask: 0x1f01ff, inherited: false },
      { allow: false, sid: 'S-1-5-32-545', mask: 0x120116, inherited: false },
      { allow: true, sid: 'S-1-5-11', mask: 0x1301bf, inherited: true },
      { allow: true, sid: 'S-1-5-21-1-2-3-1001', mask: 0x7, inherited: false },
    ]);
  });
  it('a null DACL, a missing DACL and unknown rights letters count as everyone / full (fail closed)', () => {
    expect(parseDacl('D:NO_ACCESS_CONTROL')[0]).toMatchObject({ sid: 'S-1-1-0', mask: 0x10000000 });
    expect(parseDacl('O:BAG:SY')[0]).toMatchObject({ sid: 'S-1-1-0' });
    expect(parseDacl('D:(A;;QQ;;;BU)')[0].mask).toBe(0x10000000);
  });
});

describe('aclViolations', () => {
  const service = [SID.SYSTEM, SID.ADMINISTRATORS];
  it('the rule\'s own result passes', () => {
    expect(aclViolations(parseIcaclsSave(GOOD_SERVICE_DIR), service, 'read')).toEqual([]);
    expect(aclViolations(parseIcaclsSave(GOOD_SERVICE_CONFIG), service, 'nothing')).toEqual([]);
  });
  it('attack: a custom install dir that inherits C:\\ lets Authenticated Users replace the LocalSystem service binary: refused', () => {
    const v = aclViolations(parseIcaclsSave(utf16(INHERITED_FROM_C)), service, 'read');
    expect(v).toEqual(['JC: S-1-5-11 may write (0x1301bf, inherited)', 'JC\\jump-client-service.exe: S-1-5-11 may write (0x1301bf, inherited)']);
  });
  it('attack: the old MSI config (inherited from Program Files) is readable by Users and app packages: refused', () => {
    const v = aclViolations(parseIcaclsSave(utf16(MSI_CONFIG_OLD)), service, 'nothing');
    expect(v.some((x) => x.includes('S-1-5-32-545 has access 0x1200a9'))).toBe(true);
    expect(v.some((x) => x.includes('S-1-15-2-1'))).toBe(true);
    expect(v.some((x) => x.includes('S-1-3-0'))).toBe(true);
  });
  it('Users read on DIR is fine, Users read on config is not; a deny ACE never counts', () => {
    const users = parseIcaclsSave('x\r\nD:PAI(A;OICI;FA;;;SY)(A;OICI;0x1200a9;;;BU)(D;;FA;;;WD)\r\n');
    expect(aclViolations(users, service, 'read')).toEqual([]);
    expect(aclViolations(users, service, 'nothing')).toEqual(['x: S-1-5-32-545 has access 0x1200a9']);
  });
  it('user mode: the user is trusted, another user who may write is not', () => {
    const me = 'S-1-5-21-9-9-9-1001';
    const e = parseIcaclsSave(`JC\r\nD:PAI(A;OICI;FA;;;${me})(A;OICI;FA;;;SY)(A;OICI;FA;;;S-1-5-21-9-9-9-1002)\r\n`);
    expect(aclViolations(e, [me, SID.SYSTEM, SID.ADMINISTRATORS], 'read')).toEqual(['JC: S-1-5-21-9-9-9-1002 may write (0x1f01ff)']);
  });
});

describe('setWindowsAcls and checkWindowsAcls with stand-in icacls.exe and reg.exe processes', () => {
  let root: string;
  let dir: string;
  const saved = { SystemRoot: process.env.SystemRoot };
  const setEnv = (icaclsExit: number, dirAcl: string, configAcl: string, regExit: number) => {
    Object.assign(process.env, { FAKE_ICACLS_EXIT: String(icaclsExit), FAKE_ACL_DIR: dirAcl, FAKE_ACL_CONFIG: configAcl, FAKE_REG_EXIT: String(regExit) });
  };

  beforeAll(() => {
    root = mkdtempSync(join(tmpdir(), 'jump-acl-unit-'));
    const sys = join(root, 'System32');
    mkdirSync(sys);
    // icacls.exe: logs its arguments; for /save, writes the sample chosen by FAKE_ACL_DIR / FAKE_ACL_CONFIG.
    writeFileSync(
      join(sys, 'icacls.exe'),
      [
        '#!/bin/sh',
        'printf "%s|" "$@" >> "$FAKE_LOG"; echo >> "$FAKE_LOG"',
        'if [ "$FAKE_ICACLS_EXIT" != 0 ]; then echo "C:\\JC: Access is denied."; echo "Successfully processed 0 files; Failed processing 1 files"; exit "$FAKE_ICACLS_EXIT"; fi',
        'if [ "$2" = /save ]; then case "$1" in */config) src="$FAKE_ACL_CONFIG";; *) src="$FAKE_ACL_DIR";; esac; [ -n "$src" ] && cp "$src" "$3"; fi',
        'exit 0',
      ].join('\n'),
    );
    writeFileSync(join(sys, 'reg.exe'), '#!/bin/sh\nexit "$FAKE_REG_EXIT"\n');
    chmodSync(join(sys, 'icacls.exe'), 0o755);
    chmodSync(join(sys, 'reg.exe'), 0o755);
    for (const [f, text] of [['good-dir', GOOD_SERVICE_DIR], ['good-config', GOOD_SERVICE_CONFIG], ['inherited', INHERITED_FROM_C], ['msi-config', MSI_CONFIG_OLD]]) writeFileSync(join(root, f), utf16(text));
    dir = join(root, 'JC');
    mkdirSync(join(dir, 'config'), { recursive: true });
    process.env.SystemRoot = root;
    process.env.FAKE_LOG = join(root, 'icacls.log');
  });
  afterEach(() => rmSync(join(root, 'icacls.log'), { force: true }));
  afterAll(() => {
    if (saved.SystemRoot === undefined) delete process.env.SystemRoot;
    else process.env.SystemRoot = saved.SystemRoot;
    for (const k of ['FAKE_ICACLS_EXIT', 'FAKE_ACL_DIR', 'FAKE_ACL_CONFIG', 'FAKE_REG_EXIT', 'FAKE_LOG']) delete process.env[k];
    rmSync(root, { recursive: true, force: true });
  });

  const failure = (fn: () => unknown): JumpError => {
    try {
      fn();
    } catch (err) {
      return err as JumpError;
    }
    throw new Error('did not throw');
  };

  it('setWindowsAcls runs each command line through %SystemRoot%\\System32\\icacls.exe', () => {
    setEnv(0, '', '', 1);
    setWindowsAcls(dir, 'service');
    const lines = readFileSync(join(root, 'icacls.log'), 'utf8').trim().split('\n');
    expect(lines).toEqual(icaclsSetArgs(dir, 'service').map((a) => a.join('|') + '|'));
  });

  it('attack: icacls fails (the old code ignored it): INSTALL_FAILED naming the command and icacls\' answer', () => {
    setEnv(5, '', '', 1);
    const e = failure(() => setWindowsAcls(dir, 'service'));
    expect(e).toBeInstanceOf(JumpError);
    expect(e.code).toBe('INSTALL_FAILED');
    expect(e.message).toMatch(/setting the install dir's ACL failed: icacls .*JC \/setowner \*S-1-5-32-544 \/T \/Q: C:\\JC: Access is denied/);
    // No later command ran.
    expect(readFileSync(join(root, 'icacls.log'), 'utf8').trim().split('\n')).toHaveLength(1);
  });

  it('the rule\'s result reads back as verified', () => {
    setEnv(0, join(root, 'good-dir'), join(root, 'good-config'), 1);
    expect(checkWindowsAcls(dir, 'service', null)).toEqual({ verified: true });
  });

  it('attack: icacls "succeeds" but the dir still inherits C:\\ (Authenticated Users may write): INSTALL_FAILED listing it', () => {
    setEnv(0, join(root, 'inherited'), join(root, 'good-config'), 1);
    const e = failure(() => checkWindowsAcls(dir, 'service', null));
    expect(e.code).toBe('INSTALL_FAILED');
    expect(e.message).toMatch(/lets other users change the service or read its key: JC: S-1-5-11 may write/);
  });

  it('attack: config readable by Users: INSTALL_FAILED', () => {
    setEnv(0, join(root, 'good-dir'), join(root, 'msi-config'), 1);
    expect(failure(() => checkWindowsAcls(dir, 'service', null)).message).toMatch(/config: S-1-5-32-545 has access/);
  });

  it('an icacls that reads back nothing is refused on Windows (no HKLM\\Software\\Wine): the check is not skipped', () => {
    setEnv(0, '', '', 1);
    const e = failure(() => checkWindowsAcls(dir, 'service', null));
    expect(e.code).toBe('INSTALL_FAILED');
    expect(e.message).toMatch(/reading the install dir's ACL back failed: icacls .*JC \/save wrote nothing/);
  });

  it('under wine (HKLM\\Software\\Wine exists) with its stub icacls (reads back nothing): not verified, said so', () => {
    setEnv(0, '', '', 0);
    expect(checkWindowsAcls(dir, 'service', null)).toEqual({ verified: false, why: expect.stringMatching(/wine's icacls is a stub/) });
  });

  it('wine detected but icacls shows a bad ACL: still refused (the skip needs the empty read-back)', () => {
    setEnv(0, join(root, 'inherited'), join(root, 'good-config'), 0);
    expect(failure(() => checkWindowsAcls(dir, 'service', null)).code).toBe('INSTALL_FAILED');
  });

  it('a /save file without SDDL fails the check, under wine too (the skip needs an empty read-back)', () => {
    writeFileSync(join(root, 'garbage'), 'Successfully processed 1 files; Failed processing 0 files\r\n');
    setEnv(0, join(root, 'garbage'), join(root, 'good-config'), 0);
    expect(failure(() => checkWindowsAcls(dir, 'service', null)).message).toMatch(/wrote no SDDL line/);
  });

  it('a failing icacls /save fails the check', () => {
    setEnv(5, '', '', 0);
    expect(failure(() => checkWindowsAcls(dir, 'service', null)).message).toMatch(/icacls .* \/save/);
  });
});
