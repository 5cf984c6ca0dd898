/**
 * Local accounts, as the installer needs them: who the jump client runs as (seeds: `--user
 * <username>`, "the user must exist and have rights to the directory").
 *
 * Read through `getent passwd` and `id -G` (glibc/NSS, so LDAP and SSSD users count too).
 */
import { execFileSync } from 'node:child_process';
import { statSync } from 'node:fs';
import { dirname, parse } from 'node:path';

export interface Account {
  name: string;
  uid: number;
  gid: number;
  home: string;
  shell: string;
  /** Every group id of the account, primary first. */
  groups: number[];
}

/** The account called `name`, or null when there is none. */
export function lookupAccount(name: string): Account | null {
  if (!/^[A-Za-z0-9_][A-Za-z0-9._-]*\$?$/.test(name) || name.length > 64) return null;
  let line: string;
  try {
    line = execFileSync('getent', ['passwd', name], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim().split('\n')[0];
  } catch {
    return null; // getent exits 2 for "not found"
  }
  const [pwName, , uid, gid, , home, shell] = line.split(':');
  if (pwName !== name) return null;
  let groups = [Number(gid)];
  try {
    groups = execFileSync('id', ['-G', name], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim().split(/\s+/).map(Number);
  } catch {
    /* keep the primary group only */
  }
  return { name, uid: Number(uid), gid: Number(gid), home, shell, groups };
}

/**
 * The first directory from `/` down to `dir` (inclusive) that `account` may not search (no `x`
 * permission for it), or null when it can reach `dir`. Root may reach everything.
 */
export function unreachableAncestor(dir: string, account: Account): string | null {
  if (account.uid === 0) return null;
  const chain: string[] = [];
  for (let d = dir; ; d = dirname(d)) {
    chain.unshift(d);
    if (d === parse(d).root) break;
  }
  for (const d of chain) {
    const st = statSync(d);
    const bit = st.uid === account.uid ? 0o100 : account.groups.includes(st.gid) ? 0o010 : 0o001;
    if ((st.mode & bit) === 0) return d;
  }
  return null;
}
