/**
 * Local accounts, as the installer needs them: who the jump client runs as (seeds: `--user
 * <username>`, "the user must exist and have rights to the directory").
 *
 * Read through `getent passwd` and `id -G` (glibc/NSS, so LDAP and SSSD users count too).
 */
import { execFileSync } from 'node:child_process';
import { lstatSync, realpathSync, statSync } from 'node:fs';
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

/**
 * Service mode's rule for where root installs (security issue #12 items 9 and 13): every directory
 * from `/` down to `dir` (inclusive), both as written and after resolving symlinks, must be owned
 * by root and not group- or world-writable, since whoever can write one of them can rename the
 * install away and put their own in its place, for root to run. Returns the first that is not,
 * with why, or null when all are safe. A missing component counts as unsafe.
 */
export function unsafeAncestor(dir: string): { path: string; why: string } | null {
  const chains: string[][] = [];
  for (const start of [dir, safeRealpath(dir)]) {
    if (start === null) return { path: dir, why: 'not resolvable' };
    const chain: string[] = [];
    for (let d = start; ; d = dirname(d)) {
      chain.unshift(d);
      if (d === parse(d).root) break;
    }
    chains.push(chain);
  }
  for (const chain of chains) {
    for (const d of chain) {
      let st;
      try {
        st = lstatSync(d);
      } catch {
        return { path: d, why: 'missing' };
      }
      if (st.isSymbolicLink()) continue; // its target is checked in the resolved chain; the link itself lives in its (checked) parent
      if (st.uid !== 0) return { path: d, why: `owned by uid ${st.uid}` };
      if ((st.mode & 0o022) !== 0) return { path: d, why: `writable by ${(st.mode & 0o002) !== 0 ? 'everyone' : `group ${st.gid}`}` };
    }
  }
  return null;
}

function safeRealpath(p: string): string | null {
  try {
    return realpathSync(p);
  } catch {
    return null;
  }
}
