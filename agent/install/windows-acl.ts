/**
 * Explicit, non-inherited ACLs on a Windows install dir, set with icacls and read back (security
 * issue #12, item 5). Used by the per-installer EXE (agent/install/windows.ts) and by the MSI's
 * deferred configure action (`jump-client msi-configure`, agent/install/cli.ts).
 *
 * The rule (docs/security.md, docs/decisions.md):
 * - service mode (LocalSystem service): DIR and everything in it: SYSTEM and Administrators full,
 *   Users read and execute, nothing inherited from DIR's parent (a custom --install-dir such as
 *   C:\JC would otherwise inherit C:\'s "Authenticated Users: modify" and let any local user
 *   replace the service binary); owner Administrators. DIR\config (KEY_INFO, the agent's key):
 *   SYSTEM and Administrators only.
 * - user mode: DIR: the user, SYSTEM and Administrators full; DIR\config: the user and SYSTEM only.
 *
 * Every icacls call must exit 0 (else INSTALL_FAILED, and the caller rolls the install back). Then
 * the ACLs are read back with `icacls <root> /save <file> /T` (SDDL, the same in every Windows
 * language, unlike icacls' display output which prints localised account names) and checked:
 * no principal outside the trusted set may hold a write-class right anywhere in DIR, nor any
 * right at all in DIR\config.
 *
 * Wine's icacls.exe is a stub ("This is dummy icacls, not performing ACL manipulations"): it exits
 * 0 for any arguments, prints nothing, writes no /save file. The check is skipped ONLY when both
 * hold: the /save file came back empty AND HKLM\Software\Wine exists (only an administrator can
 * create that key on real Windows). On real Windows an empty read-back fails the install.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { JumpError } from '../../protocol/errors.js';

/** Well-known SIDs (MS-DTYP 2.4.2.4). */
export const SID = { SYSTEM: 'S-1-5-18', ADMINISTRATORS: 'S-1-5-32-544', USERS: 'S-1-5-32-545' } as const;

export type AclMode = 'service' | 'user';

/**
 * The icacls argument lists (without the program) that set the rule above on `dir`, in order.
 * `user` is the installing user for user mode: a SID ("S-1-5-21-..." or, for an Entra ID account, "S-1-12-1-...", granted as `*SID`) or, when
 * the SID is unknown, an account name. Pure: unit-tested in test/unit/windows-acl.test.ts.
 */
export function icaclsSetArgs(dir: string, mode: AclMode, user?: string): string[][] {
  const config = join(dir, 'config');
  const full = (who: string) => `${who.startsWith('S-1-') ? '*' : ''}${who}:(OI)(CI)F`;
  if (mode === 'service') {
    return [
      // Owner Administrators everywhere: an owner keeps WRITE_DAC whatever the DACL says, so a
      // pre-created INSTALLDIR (MSI) must not stay owned by the user who created it.
      [dir, '/setowner', `*${SID.ADMINISTRATORS}`, '/T', '/Q'],
      [dir, '/inheritance:r', '/grant:r', full(SID.SYSTEM), full(SID.ADMINISTRATORS), `*${SID.USERS}:(OI)(CI)RX`, '/Q'],
      [config, '/inheritance:r', '/grant:r', full(SID.SYSTEM), full(SID.ADMINISTRATORS), '/Q'],
    ];
  }
  if (!user) throw new Error('icaclsSetArgs: user mode needs the user');
  return [
    [dir, '/inheritance:r', '/grant:r', full(user), full(SID.SYSTEM), full(SID.ADMINISTRATORS), '/Q'],
    [config, '/inheritance:r', '/grant:r', full(user), full(SID.SYSTEM), '/Q'],
  ];
}

/** One object of an `icacls /save` file: its name as icacls wrote it and its SDDL. */
export interface SavedAcl {
  name: string;
  sddl: string;
}

/**
 * Parses an `icacls <path> /save <file> [/T]` file: UTF-16LE (with or without a BOM) or UTF-8,
 * pairs of lines "<name>" then "<SDDL>" (e.g. `D:PAI(A;OICI;FA;;;SY)(A;OICI;FA;;;BA)`).
 * Returns [] for an empty file (wine's stub writes none at all).
 */
export function parseIcaclsSave(data: Buffer | string): SavedAcl[] {
  let text: string;
  if (typeof data === 'string') text = data;
  else if (data.length >= 2 && data[0] === 0xff && data[1] === 0xfe) text = data.subarray(2).toString('utf16le');
  else if (looksUtf16le(data)) text = data.toString('utf16le');
  else text = data.toString('utf8');
  const out: SavedAcl[] = [];
  let name = '';
  for (const raw of text.replace(/^\ufeff/, '').split(/\r?\n/)) {
    const line = raw.trim();
    if (line === '') continue;
    if (/^(O:|G:|D:|S:)/.test(line)) out.push({ name, sddl: line });
    else name = line;
  }
  return out;
}

/** True when most odd bytes are 0: UTF-16LE of mostly ASCII text (SDDL is ASCII, names may not be). */
function looksUtf16le(data: Buffer): boolean {
  let zeros = 0;
  for (let i = 1; i < data.length; i += 2) if (data[i] === 0) zeros++;
  return data.length >= 2 && zeros * 2 >= data.length / 2;
}

/** One ACE of a DACL: allow (anything not a deny type, so unknown types count as allow), SID, mask. */
export interface Ace {
  allow: boolean;
  sid: string;
  mask: number;
  inherited: boolean;
}

// SDDL rights (MS-DTYP 2.5.1.1, "ace_rights"), mapped to access-mask bits.
const RIGHTS: Record<string, number> = {
  GA: 0x10000000, GR: 0x80000000, GW: 0x40000000, GX: 0x20000000,
  RC: 0x20000, SD: 0x10000, WD: 0x40000, WO: 0x80000,
  RP: 0x10, WP: 0x20, CC: 0x1, DC: 0x2, LC: 0x4, SW: 0x8, LO: 0x80, DT: 0x40, CR: 0x100,
  FA: 0x1f01ff, FR: 0x120089, FW: 0x120116, FX: 0x1200a0,
  KA: 0xf003f, KR: 0x20019, KW: 0x20006, KX: 0x20019,
};

// SDDL SID aliases (MS-DTYP 2.5.1.1, "sid_token") seen on file objects.
const SID_ALIAS: Record<string, string> = {
  SY: SID.SYSTEM, BA: SID.ADMINISTRATORS, BU: SID.USERS, AU: 'S-1-5-11', WD: 'S-1-1-0', CO: 'S-1-3-0', CG: 'S-1-3-1',
  OW: 'S-1-3-4', IU: 'S-1-5-4', NU: 'S-1-5-2', SU: 'S-1-5-6', AN: 'S-1-5-7', BG: 'S-1-5-32-546', PU: 'S-1-5-32-547',
  LS: 'S-1-5-19', NS: 'S-1-5-20', AC: 'S-1-15-2-1', RC: 'S-1-5-12', WR: 'S-1-5-33', LA: 'LA', LG: 'LG',
};

/**
 * Write-class bits on a file or directory: write/append data (add file/subdirectory), write EA,
 * delete child, write attributes, DELETE, WRITE_DAC, WRITE_OWNER, GENERIC_WRITE, GENERIC_ALL.
 */
export const WRITE_BITS = 0x2 | 0x4 | 0x10 | 0x40 | 0x100 | 0x10000 | 0x40000 | 0x80000 | 0x40000000 | 0x10000000;

/**
 * The DACL of one SDDL string as ACEs. A missing DACL, or "D:NO_ACCESS_CONTROL" (a null DACL:
 * everyone full), yields one allow-everything ACE for Everyone, so the check refuses it.
 * Unknown rights letters count as GENERIC_ALL (fail closed).
 */
export function parseDacl(sddl: string): Ace[] {
  const everyone: Ace[] = [{ allow: true, sid: 'S-1-1-0', mask: 0x10000000, inherited: false }];
  const d = sddl.indexOf('D:');
  if (d < 0) return everyone;
  let i = d + 2;
  let flags = '';
  while (i < sddl.length && sddl[i] !== '(' && sddl[i] !== ':') flags += sddl[i++];
  if (flags.includes('NO_ACCESS_CONTROL')) return everyone;
  const aces: Ace[] = [];
  while (sddl[i] === '(') {
    const end = sddl.indexOf(')', i);
    if (end < 0) break;
    const [type = '', aceFlags = '', rights = '', , , account = ''] = sddl.slice(i + 1, end).split(';');
    let mask = 0;
    if (/^0x[0-9a-f]+$/i.test(rights)) mask = Number.parseInt(rights.slice(2), 16);
    else for (let k = 0; k < rights.length; k += 2) mask |= RIGHTS[rights.slice(k, k + 2).toUpperCase()] ?? 0x10000000;
    const acct = account.trim().toUpperCase();
    aces.push({ allow: !/^(D|OD|XD)$/i.test(type), sid: acct.startsWith('S-1-') ? acct : (SID_ALIAS[acct] ?? acct), mask: mask >>> 0, inherited: /ID/.test(aceFlags) });
    i = end + 1;
  }
  return aces;
}

/**
 * What is wrong with a tree's ACLs, as one sentence per problem ([] when none): an allow ACE for a
 * principal outside `trusted` (SIDs) that grants a write-class right (`others: 'read'`), or any
 * right at all (`others: 'nothing'`, for DIR\config). Deny ACEs never count against.
 */
export function aclViolations(entries: SavedAcl[], trusted: readonly string[], others: 'read' | 'nothing'): string[] {
  const ok = new Set(trusted.map((s) => s.toUpperCase()));
  const out: string[] = [];
  for (const e of entries) {
    for (const ace of parseDacl(e.sddl)) {
      if (!ace.allow || ok.has(ace.sid) || ace.mask === 0) continue;
      if (others === 'nothing') out.push(`${e.name || '(root)'}: ${ace.sid} has access 0x${ace.mask.toString(16)}${ace.inherited ? ' (inherited)' : ''}`);
      else if (ace.mask & WRITE_BITS) out.push(`${e.name || '(root)'}: ${ace.sid} may write (0x${ace.mask.toString(16)}${ace.inherited ? ', inherited' : ''})`);
    }
  }
  return out;
}

/** %SystemRoot%\System32\<exe>: never found through the current directory or PATH. */
function system32(exe: string): string {
  return join(process.env.SystemRoot ?? process.env.windir ?? 'C:\\Windows', 'System32', exe);
}

function icacls(args: string[]): void {
  const r = spawnSync(system32('icacls.exe'), args, { encoding: 'utf8', windowsHide: true });
  if (r.status !== 0) {
    const why = `${r.stdout ?? ''}${r.stderr ?? ''}${r.error?.message ?? ''}`.trim() || `exit ${r.status}`;
    throw new JumpError('INSTALL_FAILED', { detail: `setting the install dir's ACL failed: icacls ${args.map((a) => (/\s/.test(a) ? `"${a}"` : a)).join(' ')}: ${why}` });
  }
}

/** True under wine: HKLM\Software\Wine exists (only an administrator could create it on Windows). */
export function underWine(): boolean {
  return spawnSync(system32('reg.exe'), ['query', 'HKLM\\Software\\Wine'], { stdio: 'ignore', windowsHide: true }).status === 0;
}

/**
 * The SID of the user running this process ("S-1-5-21-..."), from `whoami /user /fo csv /nh`,
 * or null when whoami gives none (wine's whoami prints only the name).
 */
export function currentUserSid(): string | null {
  const r = spawnSync(system32('whoami.exe'), ['/user', '/fo', 'csv', '/nh'], { encoding: 'utf8', windowsHide: true });
  return /"(S-1-[0-9-]+)"/.exec(r.stdout ?? '')?.[1] ?? null;
}

/**
 * Sets the rule on `dir` (see the module comment). DIR\config must exist. `user`: see
 * icaclsSetArgs. Throws INSTALL_FAILED naming the icacls command that failed.
 */
export function setWindowsAcls(dir: string, mode: AclMode, user?: string): void {
  for (const args of icaclsSetArgs(dir, mode, user)) icacls(args);
}

/**
 * Reads the ACLs of `dir` and `dir\config` back and checks them. Returns { verified: true }, or
 * { verified: false, why } only under wine with its stub icacls. Throws INSTALL_FAILED when
 * icacls fails, when it reads back nothing on real Windows, when user mode's SID is unknown, or
 * when a principal outside the rule has a right it must not have (listed in the error).
 */
export function checkWindowsAcls(dir: string, mode: AclMode, userSid: string | null): { verified: true } | { verified: false; why: string } {
  const tmp = mkdtempSync(join(tmpdir(), 'jump-client-acl-'));
  try {
    const problems: string[] = [];
    for (const [root, others] of [[dir, 'read'], [join(dir, 'config'), 'nothing']] as const) {
      const file = join(tmp, `${others}.acl`);
      icacls([root, '/save', file, '/T', '/Q']);
      const raw = existsSync(file) ? readFileSync(file) : Buffer.alloc(0);
      const entries = parseIcaclsSave(raw);
      if (entries.length === 0 && raw.length > 0) throw new JumpError('INSTALL_FAILED', { detail: `reading the install dir's ACL back failed: icacls ${root} /save wrote no SDDL line (${raw.length} bytes)` });
      if (entries.length === 0) {
        if (underWine()) return { verified: false, why: "wine's icacls is a stub (sets and shows no ACLs): the install dir's ACLs were not checked" };
        throw new JumpError('INSTALL_FAILED', { detail: `reading the install dir's ACL back failed: icacls ${root} /save wrote nothing` });
      }
      if (mode === 'user' && !userSid) throw new JumpError('INSTALL_FAILED', { detail: 'checking the install dir\'s ACL: `whoami /user` gave no SID for this user' });
      const trusted = mode === 'service' ? [SID.SYSTEM, SID.ADMINISTRATORS] : [userSid!, SID.SYSTEM, SID.ADMINISTRATORS];
      problems.push(...aclViolations(entries, trusted, others));
    }
    if (problems.length > 0) {
      throw new JumpError('INSTALL_FAILED', {
        detail: `the install dir's ACL lets other users ${mode === 'service' ? 'change the service or read its key' : 'change the jump client or read its key'}: ${problems.slice(0, 8).join('; ')}. Remove the dir (or its extra permissions) and install again.`,
      });
    }
    return { verified: true };
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

/**
 * Makes the machine's data dir (%ProgramData%\JumpClient and its Logs) trustworthy before anything
 * in it is used (issue #16, finding on item 7), by running the service host `hostExe`
 * (jump-client-service.exe, packaging/service-host.c) with `--secure-data-dir`: native code that
 * checks the dir on a handle opened as itself (owner SYSTEM, Administrators or this admin; no other
 * writer; not a reparse point), re-locks a trusted one, and moves an untrusted one aside whole (with
 * a planted install.lock, junction or log file in it) before creating a fresh one with its DACL in
 * one call. Node has no API for owners or handle-based security, and icacls works by path.
 * Returns the dirs moved aside ("PATH -> ASIDE"). Throws INSTALL_FAILED naming the dir and the
 * Windows error when one could not be made trustworthy, or when the host could not run.
 */
export function secureMachineDataDir(hostExe: string, env: NodeJS.ProcessEnv = process.env): { movedAside: string[] } {
  const r = spawnSync(hostExe, ['--secure-data-dir'], { encoding: 'utf8', windowsHide: true, env });
  const lines = `${r.stdout ?? ''}`.split(/\r?\n/).filter(Boolean);
  if (r.error || r.status !== 0) {
    const why = lines.find((l) => l.startsWith('failed ')) ?? (`${r.stderr ?? ''}${r.error?.message ?? ''}`.trim() || `exit ${r.status}`);
    throw new JumpError('INSTALL_FAILED', { detail: `the machine data dir (%ProgramData%\\JumpClient) could not be made safe: ${why}` });
  }
  return { movedAside: lines.filter((l) => l.startsWith('moved-aside ')).map((l) => l.slice('moved-aside '.length)) };
}
