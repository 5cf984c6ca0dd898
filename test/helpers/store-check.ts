/**
 * Store consistency, checked with SQL against a site's real SQLite file (`<data dir>/site.db`) and
 * its recordings directory, for the crash-consistency suite (docs/reliability.md section 2).
 *
 * `checkStore` opens the file read-only (WAL: it may run while the site serves) and returns every
 * broken invariant as one line of text (empty: consistent):
 * - `PRAGMA integrity_check` is `ok` and `PRAGMA foreign_key_check` finds nothing;
 * - no half-written record: every installer has a uid, a key hash, a valid allow-override list and
 *   an existing jump group; every client has a public key, an existing jump group and (when it names
 *   one) an existing installer; an installer's `uses` equals the clients it enrolled (enrollment
 *   counts the use and inserts the client in one transaction, site/store/sqlite.ts `enroll`);
 * - every session names an existing client and user; a session's `recording`/`file_log` names a
 *   file in recordings/ whose first line is its header, and every file there is named by a session;
 * - with `siteStartedAt` (ms): no session started before that start is still open (the site that
 *   ran it is gone, so it cannot be live).
 */
import Database from 'better-sqlite3';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

export interface StoreCheckOptions {
  /** When the running site started (ms since the epoch): sessions started before must be ended. */
  siteStartedAt?: number;
}

/** Runs every check on `<dataDir>/site.db`; returns the problems found, one line each. */
export function checkStore(dataDir: string, opts: StoreCheckOptions = {}): string[] {
  const problems: string[] = [];
  const db = new Database(join(dataDir, 'site.db'), { readonly: true, fileMustExist: true });
  try {
    const q = <T>(sql: string, ...args: unknown[]) => db.prepare(sql).all(...args) as T[];
    const integrity = db.pragma('integrity_check', { simple: true });
    if (integrity !== 'ok') problems.push(`integrity_check: ${String(integrity)}`);
    for (const r of q<{ table: string; rowid: number; parent: string }>('PRAGMA foreign_key_check')) {
      problems.push(`foreign_key_check: ${r.table} row ${r.rowid} names a missing ${r.parent}`);
    }

    for (const r of q<{ uid: string; key_hash: string | null; allow_override: string; jump_group_id: number; g: number | null }>(
      `SELECT i.uid, i.key_hash, i.allow_override, i.jump_group_id, g.id AS g FROM installers i LEFT JOIN jump_groups g ON g.id = i.jump_group_id`,
    )) {
      if (!r.uid) problems.push('installer with an empty uid');
      if (!r.key_hash) problems.push(`installer ${r.uid} without a key hash`);
      if (r.g === null) problems.push(`installer ${r.uid} names missing jump group ${r.jump_group_id}`);
      try {
        if (typeof JSON.parse(r.allow_override) !== 'object') throw new Error('not an object');
      } catch {
        problems.push(`installer ${r.uid} has an unreadable allow_override: ${r.allow_override}`);
      }
    }
    for (const r of q<{ id: number; public_key: string; installer_uid: string | null; i: string | null; jump_group_id: number; g: number | null; stats: string }>(
      `SELECT c.id, c.public_key, c.installer_uid, i.uid AS i, c.jump_group_id, g.id AS g, c.stats FROM jump_clients c
       LEFT JOIN installers i ON i.uid = c.installer_uid LEFT JOIN jump_groups g ON g.id = c.jump_group_id`,
    )) {
      if (!r.public_key) problems.push(`client ${r.id} without a public key`);
      if (r.installer_uid !== null && r.i === null) problems.push(`client ${r.id} names missing installer ${r.installer_uid}`);
      if (r.g === null) problems.push(`client ${r.id} names missing jump group ${r.jump_group_id}`);
      try {
        JSON.parse(r.stats);
      } catch {
        problems.push(`client ${r.id} has unreadable stats`);
      }
    }
    for (const r of q<{ uid: string; uses: number; n: number }>(
      `SELECT i.uid, i.uses, (SELECT COUNT(*) FROM jump_clients c WHERE c.installer_uid = i.uid) AS n FROM installers i`,
    )) {
      if (r.uses !== r.n) problems.push(`installer ${r.uid} counts ${r.uses} uses but enrolled ${r.n} clients`);
    }

    const recDir = join(dataDir, 'recordings');
    const named = new Set<string>();
    for (const r of q<{ id: string; client_id: number; c: number | null; user_id: number; u: number | null; recording: string | null; file_log: string | null; ended_at: number | null; started_at: number }>(
      `SELECT s.id, s.client_id, c.id AS c, s.user_id, u.id AS u, s.recording, s.file_log, s.ended_at, s.started_at FROM sessions s
       LEFT JOIN jump_clients c ON c.id = s.client_id LEFT JOIN users u ON u.id = s.user_id`,
    )) {
      if (r.c === null) problems.push(`session ${r.id} names missing client ${r.client_id}`);
      if (r.u === null) problems.push(`session ${r.id} names missing user ${r.user_id}`);
      if (opts.siteStartedAt !== undefined && r.ended_at === null && r.started_at < opts.siteStartedAt) {
        problems.push(`session ${r.id} started before the site's restart and is still open`);
      }
      for (const file of [r.recording, r.file_log]) {
        if (file === null) continue;
        named.add(file);
        const path = join(recDir, file);
        if (!existsSync(path)) {
          problems.push(`session ${r.id} names recording ${file}, which is missing`);
          continue;
        }
        const first = readFileSync(path, 'utf8').split('\n')[0];
        if (file.endsWith('.cast')) {
          try {
            if (JSON.parse(first).version !== 2) throw new Error('not asciicast v2');
          } catch {
            problems.push(`recording ${file} has no asciicast v2 header: ${first.slice(0, 80)}`);
          }
        }
      }
    }
    if (existsSync(recDir)) {
      for (const f of readdirSync(recDir)) if (!named.has(f)) problems.push(`recordings/${f} is named by no session`);
    }
  } finally {
    db.close();
  }
  return problems;
}
