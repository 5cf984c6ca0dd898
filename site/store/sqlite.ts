/**
 * The embedded SQLite store (better-sqlite3): one file `site.db` in the site's data dir, WAL mode,
 * versioned migrations tracked in `PRAGMA user_version`.
 *
 * Durability: `synchronous = NORMAL` in WAL mode loses no committed transaction when the process is
 * killed (kill -9); only an OS crash or power loss may drop the last few, which the site tolerates
 * (agents re-report their state on reconnect). Edits made by people are committed before the API
 * answers.
 */
import Database from 'better-sqlite3';
import { closeSync, openSync } from 'node:fs';
import { JumpError } from '../../protocol/errors.js';
import { JUMP_METHOD, SEARCH_FIELDS, type JumpClientMode, type JumpClientStatus, type SearchField, type SortField } from '../../protocol/fields.js';
import type { Stats, StatsDelta } from '../../protocol/messages.js';
import type {
  AuditEntry,
  ClientLimits,
  ClientPatch,
  ClientBuild,
  ClientUpdateState,
  SettingRow,
  UpdateFailure,
  ClientQuery,
  ClientSummary,
  EnrollInput,
  EnrollResult,
  Installer,
  JumpClient,
  JumpGroup,
  Role,
  SessionRecord,
  Store,
  User,
} from './store.js';
import { CLIENT_DISPLAY_NAME_SQL } from './store.js';

/** Each entry moves the schema from version i to i+1. Never edit a released entry; append. */
const MIGRATIONS: string[] = [
  `
  CREATE TABLE users (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE COLLATE NOCASE,
    role TEXT NOT NULL CHECK (role IN ('admin', 'technician')),
    view_personal_groups INTEGER NOT NULL DEFAULT 0,
    password_hash TEXT NOT NULL,
    created_at INTEGER NOT NULL
  );
  CREATE TABLE api_tokens (
    token_hash TEXT PRIMARY KEY,
    user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
  );
  CREATE TABLE jump_groups (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE COLLATE NOCASE,
    kind TEXT NOT NULL CHECK (kind IN ('shared', 'personal')),
    owner_user_id INTEGER REFERENCES users(id) ON DELETE SET NULL
  );
  CREATE TABLE group_members (
    group_id INTEGER NOT NULL REFERENCES jump_groups(id) ON DELETE CASCADE,
    user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    PRIMARY KEY (group_id, user_id)
  );
  CREATE TABLE installers (
    uid TEXT PRIMARY KEY,
    name TEXT,
    key_hash TEXT NOT NULL UNIQUE,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    max_uses INTEGER,
    uses INTEGER NOT NULL DEFAULT 0,
    revoked_at INTEGER,
    jump_group_id INTEGER NOT NULL,
    tag TEXT NOT NULL,
    comments TEXT NOT NULL,
    mode TEXT NOT NULL CHECK (mode IN ('active', 'passive')),
    allow_override TEXT NOT NULL,
    created_by INTEGER NOT NULL
  );
  CREATE TABLE jump_clients (
    id INTEGER PRIMARY KEY,
    public_key TEXT NOT NULL UNIQUE,
    machine_id TEXT NOT NULL,
    name TEXT,
    jump_group_id INTEGER NOT NULL,
    tag TEXT NOT NULL DEFAULT '',
    comments TEXT NOT NULL DEFAULT '',
    mode TEXT NOT NULL CHECK (mode IN ('active', 'passive')),
    installer_uid TEXT,
    created_at INTEGER NOT NULL,
    online INTEGER NOT NULL DEFAULT 0,
    last_connected_at INTEGER,
    last_disconnected_at INTEGER,
    last_access_at INTEGER,
    uninstalled_at INTEGER,
    deleted_at INTEGER,
    public_ip TEXT,
    hostname TEXT,
    private_ips TEXT,
    console_user TEXT,
    domain TEXT,
    workgroup TEXT,
    stats TEXT NOT NULL DEFAULT '{}'
  );
  CREATE INDEX jump_clients_machine ON jump_clients(machine_id) WHERE deleted_at IS NULL;
  CREATE INDEX jump_clients_group_tag ON jump_clients(jump_group_id, tag) WHERE deleted_at IS NULL;
  CREATE TABLE audit_log (
    id INTEGER PRIMARY KEY,
    at INTEGER NOT NULL,
    user_id INTEGER,
    action TEXT NOT NULL,
    target TEXT NOT NULL,
    detail TEXT
  );
  `,
  `
  CREATE TABLE sessions (
    id TEXT PRIMARY KEY,
    client_id INTEGER NOT NULL,
    user_id INTEGER NOT NULL,
    kind TEXT NOT NULL,
    started_at INTEGER NOT NULL,
    ended_at INTEGER,
    bytes_to_client INTEGER NOT NULL DEFAULT 0,
    bytes_from_client INTEGER NOT NULL DEFAULT 0,
    exit_status INTEGER,
    end_reason TEXT,
    recording TEXT
  );
  CREATE INDEX sessions_client ON sessions(client_id, started_at);
  CREATE INDEX sessions_user ON sessions(user_id, started_at);
  `,
  // Security issue #12 items 3 and 4: flagged duplicates and quarantined identities.
  `
  ALTER TABLE jump_clients ADD COLUMN duplicate_of INTEGER;
  ALTER TABLE jump_clients ADD COLUMN quarantined_at INTEGER;
  ALTER TABLE jump_clients ADD COLUMN quarantine_reason TEXT;
  `,
  // Security issue #12 (items 17, 18): forced password change, token idle expiry and purge.
  `
  ALTER TABLE users ADD COLUMN must_change_password INTEGER NOT NULL DEFAULT 0;
  ALTER TABLE api_tokens ADD COLUMN last_used_at INTEGER;
  UPDATE api_tokens SET last_used_at = created_at;
  CREATE INDEX api_tokens_user ON api_tokens(user_id);
  `,
  // Security issue #12 item 12 (residual): an SFTP file log next to a terminal recording, and the
  // command line of every exec. Old SFTP sessions named their .sftp.jsonl as the recording: move it.
  `
  ALTER TABLE sessions ADD COLUMN file_log TEXT;
  ALTER TABLE sessions ADD COLUMN commands TEXT;
  UPDATE sessions SET file_log = recording, recording = NULL WHERE recording LIKE '%.sftp.jsonl';
  `,
  // Security issue #12, round 2 item 18: when a user's tokens were last revoked, so the site's
  // sweep ends the Jump sessions started before (also when another process revoked them).
  `
  ALTER TABLE users ADD COLUMN tokens_revoked_at INTEGER;
  CREATE INDEX sessions_open ON sessions(ended_at, started_at);
  `,
  // Security review: users.id is a rowid, which SQLite reuses after the highest row is deleted, and
  // sessions/installers/audit rows name users by id: a new user could inherit a removed user's
  // sessions and recordings. User ids now come from a high-water mark that never goes down.
  `
  CREATE TABLE id_high_water (name TEXT PRIMARY KEY, last INTEGER NOT NULL);
  INSERT INTO id_high_water (name, last) SELECT 'users', MAX(
    COALESCE((SELECT MAX(id) FROM users), 0),
    COALESCE((SELECT MAX(user_id) FROM sessions), 0),
    COALESCE((SELECT MAX(created_by) FROM installers), 0),
    COALESCE((SELECT MAX(user_id) FROM audit_log), 0));
  `,
  // Issue #18 item 4: site settings an admin changes while the site runs (site/settings.ts).
  `
  CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT NOT NULL, updated_at INTEGER NOT NULL);
  `,
  // Issue #18 item 3: a client offline past jump-clients.max-offline is marked lost, then purged
  // at purge_at (lost + jump-clients.lost-grace); max_offline_ms overrides the site's value.
  `
  ALTER TABLE jump_clients ADD COLUMN lost_at INTEGER;
  ALTER TABLE jump_clients ADD COLUMN purge_at INTEGER;
  ALTER TABLE jump_clients ADD COLUMN max_offline_ms INTEGER;
  `,
  // Issue #18 item 1: a passive client's status is "passive" until its check-in is overdue.
  `
  ALTER TABLE jump_clients ADD COLUMN passive_until INTEGER;
  `,
  // Issue #17: self-update. Imported client builds (site/updates.ts), the one served per platform,
  // and per client its reported version and platform, the version last offered, and the last failure.
  `
  CREATE TABLE client_builds (
    platform TEXT NOT NULL,
    version TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    size INTEGER NOT NULL,
    signature TEXT NOT NULL,
    file TEXT NOT NULL,
    imported_at INTEGER NOT NULL,
    PRIMARY KEY (platform, version)
  );
  CREATE TABLE served_builds (platform TEXT PRIMARY KEY, version TEXT NOT NULL, updated_at INTEGER NOT NULL);
  ALTER TABLE jump_clients ADD COLUMN agent_version TEXT;
  ALTER TABLE jump_clients ADD COLUMN platform TEXT;
  ALTER TABLE jump_clients ADD COLUMN update_offered_version TEXT;
  ALTER TABLE jump_clients ADD COLUMN update_failed_version TEXT;
  ALTER TABLE jump_clients ADD COLUMN update_failed_code TEXT;
  ALTER TABLE jump_clients ADD COLUMN update_failed_reason TEXT;
  ALTER TABLE jump_clients ADD COLUMN update_failed_at INTEGER;
  `,
  // Issue #19 (the web console's USERS page): an admin disables an account; it keeps its groups,
  // installers and history but can neither log in nor use a token.
  `
  ALTER TABLE users ADD COLUMN disabled_at INTEGER;
  `,
  // Issue #19: the Jump interface's first page of 50 000 clients within 100 ms (docs/benchmarks.md).
  // The totals read only this index, never the rows (their statistics make them large); the
  // sorts the page offers first walk their index and stop after the page. The expressions must
  // stay exactly those of SORT_SQL for SQLite to use them.
  `
  CREATE INDEX jump_clients_summary ON jump_clients(jump_group_id, online, uninstalled_at, mode) WHERE deleted_at IS NULL;
  CREATE INDEX jump_clients_by_name ON jump_clients(COALESCE(name, hostname, '') COLLATE NOCASE, id, jump_group_id) WHERE deleted_at IS NULL;
  CREATE INDEX jump_clients_by_hostname ON jump_clients(COALESCE(hostname, '') COLLATE NOCASE, id, jump_group_id) WHERE deleted_at IS NULL;
  CREATE INDEX jump_clients_by_last_access ON jump_clients(COALESCE(last_access_at, 0), id, jump_group_id) WHERE deleted_at IS NULL;
  `,
  // Issue #16 item 5: a copy of this jump client on another machine (a cloned disk or image) said so
  // and stopped: the last report (when, from where, the copy's machine id) and how many came.
  `
  ALTER TABLE jump_clients ADD COLUMN clone_reported_at INTEGER;
  ALTER TABLE jump_clients ADD COLUMN clone_machine_id TEXT;
  ALTER TABLE jump_clients ADD COLUMN clone_public_ip TEXT;
  ALTER TABLE jump_clients ADD COLUMN clone_reports INTEGER NOT NULL DEFAULT 0;
  `,
];

/** SQL for each search field (seeds' search fields), over the `c` (client) row. */
const SEARCH_SQL: Record<SearchField, string> = {
  comments: 'c.comments',
  console_user: 'c.console_user',
  domain: 'c.domain',
  jump_method: `'${JUMP_METHOD}'`,
  last_access: `strftime('%Y-%m-%d %H:%M', c.last_access_at / 1000, 'unixepoch')`,
  name: `COALESCE(${CLIENT_DISPLAY_NAME_SQL}, '')`,
  private_ip: 'c.private_ips',
  public_ip: 'c.public_ip',
  status: 'STATUS',
  tag: 'c.tag',
  workgroup: 'c.workgroup',
};
/** Now, in ms since the epoch, in SQL (for a passive client's check-in deadline). */
const NOW_MS_SQL = `CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER)`;
const STATUS_SQL = `CASE WHEN c.uninstalled_at IS NOT NULL THEN 'uninstalled' WHEN c.online = 1 THEN 'online' WHEN c.lost_at IS NOT NULL THEN 'lost'
  WHEN c.mode = 'passive' AND c.passive_until > ${NOW_MS_SQL} THEN 'passive' ELSE 'offline' END`;

/** The SQL of each sort column of the listing (`ClientQuery.sort`); ties are broken by id. */
const SORT_SQL: Record<SortField, string> = {
  // name, hostname, last_access: the expressions of their indexes (migration of issue #19).
  name: `COALESCE(c.name, c.hostname, '') COLLATE NOCASE`,
  hostname: `COALESCE(c.hostname, '') COLLATE NOCASE`,
  public_ip: `COALESCE(c.public_ip, '')`,
  private_ip: `COALESCE(c.private_ips, '')`,
  // One value for every client: the order is the ids'.
  jump_method: `'${JUMP_METHOD}'`,
  comments: 'c.comments COLLATE NOCASE',
  group: 'g.name COLLATE NOCASE',
  tag: 'c.tag COLLATE NOCASE',
  status: STATUS_SQL,
  mode: 'c.mode',
  console_user: `COALESCE(c.console_user, '') COLLATE NOCASE`,
  domain: `COALESCE(c.domain, '') COLLATE NOCASE`,
  workgroup: `COALESCE(c.workgroup, '') COLLATE NOCASE`,
  last_access: 'COALESCE(c.last_access_at, 0)',
  last_connected: 'COALESCE(c.last_connected_at, 0)',
  created_at: 'c.created_at',
};

const CLIENT_SELECT = `
  SELECT c.*, g.name AS group_name, ${STATUS_SQL} AS status,
    (c.online = 1 AND EXISTS (
      SELECT 1 FROM jump_clients d
      WHERE d.machine_id = c.machine_id AND d.id <> c.id AND d.online = 1 AND d.deleted_at IS NULL
    )) AS duplicate_machine_id
  FROM jump_clients c JOIN jump_groups g ON g.id = c.jump_group_id`;

interface ClientRow {
  id: number;
  public_key: string;
  machine_id: string;
  name: string | null;
  jump_group_id: number;
  group_name: string;
  tag: string;
  comments: string;
  mode: 'active' | 'passive';
  installer_uid: string | null;
  created_at: number;
  online: number;
  last_connected_at: number | null;
  last_disconnected_at: number | null;
  last_access_at: number | null;
  uninstalled_at: number | null;
  public_ip: string | null;
  stats: string;
  duplicate_machine_id: number;
  duplicate_of: number | null;
  quarantined_at: number | null;
  quarantine_reason: string | null;
  clone_reported_at: number | null;
  clone_machine_id: string | null;
  clone_public_ip: string | null;
  clone_reports: number;
  lost_at: number | null;
  purge_at: number | null;
  max_offline_ms: number | null;
  agent_version: string | null;
  platform: string | null;
  update_failed_version: string | null;
  update_failed_code: string | null;
  update_failed_reason: string | null;
  update_failed_at: number | null;
  status: JumpClientStatus;
}

interface BuildRow {
  platform: string;
  version: string;
  sha256: string;
  size: number;
  signature: string;
  file: string;
  imported_at: number;
  served: number;
}

function toBuild(r: BuildRow): ClientBuild & { served: boolean } {
  return { platform: r.platform, version: r.version, sha256: r.sha256, size: r.size, signature: r.signature, file: r.file, importedAt: r.imported_at, served: r.served === 1 };
}

interface UserRow {
  id: number;
  name: string;
  role: Role;
  view_personal_groups: number;
  password_hash: string;
  created_at: number;
  must_change_password: number;
  disabled_at: number | null;
}

interface InstallerRow {
  uid: string;
  name: string | null;
  key_hash: string;
  created_at: number;
  expires_at: number;
  max_uses: number | null;
  uses: number;
  revoked_at: number | null;
  jump_group_id: number;
  tag: string;
  comments: string;
  mode: 'active' | 'passive';
  allow_override: string;
  created_by: number;
}

const SESSION_SELECT = `
  SELECT s.*, u.name AS user_name, COALESCE(${CLIENT_DISPLAY_NAME_SQL}, 'jump client ' || s.client_id) AS client_name, c.jump_group_id
  FROM sessions s LEFT JOIN users u ON u.id = s.user_id LEFT JOIN jump_clients c ON c.id = s.client_id`;

interface SessionRow {
  id: string;
  client_id: number;
  user_id: number;
  kind: string;
  started_at: number;
  ended_at: number | null;
  bytes_to_client: number;
  bytes_from_client: number;
  exit_status: number | null;
  end_reason: string | null;
  recording: string | null;
  file_log: string | null;
  commands: string | null;
  user_name: string | null;
  client_name: string | null;
}

function toSession(r: SessionRow): SessionRecord {
  return {
    id: r.id,
    clientId: r.client_id,
    clientName: r.client_name,
    userId: r.user_id,
    userName: r.user_name,
    kind: r.kind,
    startedAt: r.started_at,
    endedAt: r.ended_at,
    bytesToClient: r.bytes_to_client,
    bytesFromClient: r.bytes_from_client,
    exitStatus: r.exit_status,
    endReason: r.end_reason,
    recording: r.recording,
    fileLog: r.file_log,
    commands: r.commands === null ? [] : (JSON.parse(r.commands) as string[]),
  };
}

function toUser(r: UserRow): User {
  return {
    id: r.id,
    name: r.name,
    role: r.role,
    viewPersonalGroups: r.view_personal_groups === 1,
    passwordHash: r.password_hash,
    createdAt: r.created_at,
    mustChangePassword: r.must_change_password === 1,
    disabled: r.disabled_at !== null && r.disabled_at !== undefined,
  };
}

function toGroup(r: { id: number; name: string; kind: 'shared' | 'personal'; owner_user_id: number | null }): JumpGroup {
  return { id: r.id, name: r.name, kind: r.kind, ownerUserId: r.owner_user_id };
}

function toInstaller(r: InstallerRow): Installer {
  return {
    uid: r.uid,
    name: r.name,
    keyHash: r.key_hash,
    createdAt: r.created_at,
    expiresAt: r.expires_at,
    maxUses: r.max_uses,
    uses: r.uses,
    revokedAt: r.revoked_at,
    jumpGroupId: r.jump_group_id,
    tag: r.tag,
    comments: r.comments,
    mode: r.mode,
    allowOverride: JSON.parse(r.allow_override),
    createdBy: r.created_by,
  };
}

function toClient(r: ClientRow): JumpClient {
  return {
    id: r.id,
    publicKey: r.public_key,
    machineId: r.machine_id,
    name: r.name,
    jumpGroupId: r.jump_group_id,
    jumpGroupName: r.group_name,
    tag: r.tag,
    comments: r.comments,
    mode: r.mode,
    installerUid: r.installer_uid,
    createdAt: r.created_at,
    online: r.online === 1,
    lastConnectedAt: r.last_connected_at,
    lastDisconnectedAt: r.last_disconnected_at,
    lastAccessAt: r.last_access_at,
    uninstalledAt: r.uninstalled_at,
    publicIp: r.public_ip,
    stats: JSON.parse(r.stats),
    duplicateMachineId: r.duplicate_machine_id === 1,
    duplicateOf: r.duplicate_of,
    quarantinedAt: r.quarantined_at,
    quarantineReason: r.quarantine_reason,
    cloneReport:
      r.clone_reported_at === null
        ? null
        : { at: r.clone_reported_at, machineId: r.clone_machine_id ?? '', publicIp: r.clone_public_ip ?? '', count: r.clone_reports },
    lostAt: r.lost_at,
    purgeAt: r.purge_at,
    maxOfflineMs: r.max_offline_ms,
    version: r.agent_version,
    platform: r.platform,
    updateFailure:
      r.update_failed_version === null
        ? null
        : { version: r.update_failed_version, code: r.update_failed_code ?? 'UPDATE_FAILED', reason: r.update_failed_reason ?? '', at: r.update_failed_at ?? 0 },
    status: r.status,
  };
}

/** Escapes LIKE wildcards so a search for `50%` finds the text `50%`. */
function likePattern(text: string): string {
  return '%' + text.replace(/[\\%_]/g, (ch) => '\\' + ch) + '%';
}

/** The end reason of a session the site found open at start-up. */
const SQL_SITE_RESTARTED = `'site restarted'`;

/** A token's last use is written when older than this, in ms (idle expiry is hours, so a minute is exact enough). */
const TOKEN_TOUCH_MS = 60_000;

/** Prepared statements kept per store; past this many distinct SQL texts the cache starts over. */
const STATEMENT_CACHE_MAX = 256;

export class SqliteStore implements Store {
  private readonly db: Database.Database;
  private readonly statements = new Map<string, Database.Statement>();
  /** Batched writes waiting for the next flush (`batched`). */
  private readonly pending: { write: () => void; resolve: () => void; reject: (err: unknown) => void }[] = [];

  /**
   * The prepared statement for `sql`, compiled once: preparing on every call was 6 % of the site's
   * CPU when a fleet reconnects (docs/benchmarks.md, P2). Dynamic SQL (filters, LIMIT) gives a
   * bounded but open set of texts, hence the cap.
   */
  private stmt(sql: string): Database.Statement {
    let st = this.statements.get(sql);
    if (!st) {
      if (this.statements.size >= STATEMENT_CACHE_MAX) this.statements.clear();
      st = this.db.prepare(sql);
      this.statements.set(sql, st);
    }
    return st;
  }

  /**
   * Opens (creating if needed) the database at `file` and migrates it to the current schema.
   * Throws when the file was written by a newer schema than this build knows.
   */
  constructor(file: string) {
    // Password and token hashes live here: owner-only. SQLite gives -wal and -shm the same mode.
    closeSync(openSync(file, 'a', 0o600));
    this.db = new Database(file);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = NORMAL');
    this.db.pragma('foreign_keys = ON');
    this.db.pragma('busy_timeout = 5000');
    this.migrate();
  }

  private migrate(): void {
    const version = this.db.pragma('user_version', { simple: true }) as number;
    if (version > MIGRATIONS.length) {
      throw new Error(`site.db has schema version ${version}, newer than this build (${MIGRATIONS.length}); upgrade jump-site`);
    }
    for (let v = version; v < MIGRATIONS.length; v++) {
      this.writeTransaction(() => {
        this.db.exec(MIGRATIONS[v]);
        this.db.pragma(`user_version = ${v + 1}`);
      })();
    }
  }

  /**
   * `fn` as a transaction that takes the write lock when it begins (BEGIN IMMEDIATE), to call like
   * better-sqlite3's. `jump-site user` and `jump-site settings` write this file from another process
   * while the site writes it too (statuses, the lifecycle sweep); a deferred transaction that reads
   * first and writes after the other process committed fails at once with SQLITE_BUSY ("database is
   * locked"), which busy_timeout cannot retry. An immediate one waits up to busy_timeout instead.
   */
  private writeTransaction<A extends unknown[], T>(fn: (...args: A) => T): (...args: A) => T {
    const t = this.db.transaction(fn);
    return (...args: A) => t.immediate(...args);
  }

  async close(): Promise<void> {
    this.flush();
    this.db.close();
  }

  /**
   * Runs `write` in the next batch: every batched write queued in one turn of the event loop
   * commits in one transaction (each in its own savepoint, so one failing write fails only its own
   * caller). The promise settles after the commit, so a caller that awaits it has the same
   * guarantee as with its own transaction. A commit costs about 25 µs (bench/reconnect-costs.mjs)
   * and a fleet coming back queues hundreds of status and statistics writes per turn
   * (docs/benchmarks.md, P2).
   * Only for last-writer-wins telemetry (online status, statistics); other writes commit at once.
   */
  private batched(write: () => void): Promise<void> {
    return new Promise((resolve, reject) => {
      this.pending.push({ write, resolve, reject });
      if (this.pending.length === 1) setImmediate(() => this.flush());
    });
  }

  private flush(): void {
    const ops = this.pending.splice(0);
    if (ops.length === 0) return;
    const failed = new Map<number, unknown>();
    try {
      this.writeTransaction(() => {
        ops.forEach((op, i) => {
          try {
            this.db.transaction(op.write)();
          } catch (err) {
            failed.set(i, err);
          }
        });
      })();
    } catch (err) {
      for (const op of ops) op.reject(err);
      return;
    }
    ops.forEach((op, i) => (failed.has(i) ? op.reject(failed.get(i)) : op.resolve()));
  }

  // ---- users and tokens ----

  async createUser(u: {
    name: string;
    role: Role;
    passwordHash: string;
    viewPersonalGroups: boolean;
    now: number;
    mustChangePassword?: boolean;
  }): Promise<User> {
    return this.writeTransaction(() => {
      if (this.stmt('SELECT 1 FROM users WHERE name = ?').get(u.name)) throw new JumpError('USER_EXISTS', { field: 'name' });
      // Never a removed user's id (see the id_high_water migration).
      const { last } = this.stmt("UPDATE id_high_water SET last = last + 1 WHERE name = 'users' RETURNING last").get() as { last: number };
      this.stmt(
        'INSERT INTO users (id, name, role, view_personal_groups, password_hash, created_at, must_change_password) VALUES (?, ?, ?, ?, ?, ?, ?)',
      ).run(last, u.name, u.role, u.viewPersonalGroups ? 1 : 0, u.passwordHash, u.now, u.mustChangePassword ? 1 : 0);
      const id = last;
      // Every user has a personal jump group; it survives a user re-created with the same name.
      this.stmt(
        `INSERT INTO jump_groups (name, kind, owner_user_id) VALUES (?, 'personal', ?)
         ON CONFLICT(name) DO UPDATE SET owner_user_id = excluded.owner_user_id`,
      )
        .run(`user:${u.name}`, id);
      return toUser(this.stmt('SELECT * FROM users WHERE id = ?').get(id) as UserRow);
    })();
  }

  async getUserByName(name: string): Promise<User | null> {
    const r = this.stmt('SELECT * FROM users WHERE name = ?').get(name) as UserRow | undefined;
    return r ? toUser(r) : null;
  }

  async getUserById(id: number): Promise<User | null> {
    const r = this.stmt('SELECT * FROM users WHERE id = ?').get(id) as UserRow | undefined;
    return r ? toUser(r) : null;
  }

  async listUsers(): Promise<User[]> {
    return (this.stmt('SELECT * FROM users ORDER BY name').all() as UserRow[]).map(toUser);
  }

  async updateUser(id: number, patch: { passwordHash?: string; role?: Role; viewPersonalGroups?: boolean; disabled?: boolean }): Promise<void> {
    this.writeTransaction(() => {
      if (patch.passwordHash !== undefined) {
        // A password set by its owner or an admin is no longer the bootstrap one: the change is done.
        this.stmt('UPDATE users SET password_hash = ?, must_change_password = 0 WHERE id = ?').run(patch.passwordHash, id);
        // A new password ends every session of the old one.
        this.stmt('DELETE FROM api_tokens WHERE user_id = ?').run(id);
        this.stmt('UPDATE users SET tokens_revoked_at = ? WHERE id = ?').run(Date.now(), id);
      }
      if (patch.disabled === true) {
        // Disabling ends every session of the account, as a new password does.
        const now = Date.now();
        this.stmt('UPDATE users SET disabled_at = COALESCE(disabled_at, ?), tokens_revoked_at = ? WHERE id = ?').run(now, now, id);
        this.stmt('DELETE FROM api_tokens WHERE user_id = ?').run(id);
      } else if (patch.disabled === false) {
        this.stmt('UPDATE users SET disabled_at = NULL WHERE id = ?').run(id);
      }
      if (patch.role !== undefined) this.stmt('UPDATE users SET role = ? WHERE id = ?').run(patch.role, id);
      if (patch.viewPersonalGroups !== undefined) {
        this.stmt('UPDATE users SET view_personal_groups = ? WHERE id = ?').run(patch.viewPersonalGroups ? 1 : 0, id);
      }
    })();
  }

  async deleteUser(id: number): Promise<void> {
    this.writeTransaction(() => {
      // Their installers die with them (security issue #12 item 2); enrollment also refuses an
      // installer whose creator is gone (site/installers.ts enrollmentFields).
      this.stmt('UPDATE installers SET revoked_at = COALESCE(revoked_at, ?) WHERE created_by = ?').run(Date.now(), id);
      this.stmt('DELETE FROM users WHERE id = ?').run(id);
    })();
  }

  async createToken(t: { userId: number; tokenHash: string; now: number; expiresAt: number }): Promise<void> {
    this.stmt('INSERT INTO api_tokens (token_hash, user_id, created_at, expires_at, last_used_at) VALUES (?, ?, ?, ?, ?)')
      .run(t.tokenHash, t.userId, t.now, t.expiresAt, t.now);
  }

  async userForToken(tokenHash: string, now: number, idleMs: number = Number.MAX_SAFE_INTEGER): Promise<User | null> {
    const r = this.stmt(
      `SELECT u.*, t.last_used_at AS token_last_used_at FROM api_tokens t JOIN users u ON u.id = t.user_id
       WHERE t.token_hash = ? AND t.expires_at > ? AND COALESCE(t.last_used_at, t.created_at) > ? AND u.disabled_at IS NULL`,
    )
      .get(tokenHash, now, now - Math.min(idleMs, now)) as (UserRow & { token_last_used_at: number | null }) | undefined;
    if (!r) return null;
    // Written at most once a minute per token (or a quarter of a shorter idle limit): a busy
    // console does not turn every read into a write.
    if (r.token_last_used_at === null || now - r.token_last_used_at >= Math.min(TOKEN_TOUCH_MS, idleMs / 4)) {
      this.stmt('UPDATE api_tokens SET last_used_at = ? WHERE token_hash = ?').run(now, tokenHash);
    }
    return toUser(r);
  }

  async purgeTokens(now: number, idleMs: number): Promise<number> {
    return this.stmt('DELETE FROM api_tokens WHERE expires_at <= ? OR COALESCE(last_used_at, created_at) <= ?').run(now, now - Math.min(idleMs, now))
      .changes;
  }

  async deleteUserTokens(userId: number, now: number = Date.now()): Promise<number> {
    return this.writeTransaction(() => {
      this.stmt('UPDATE users SET tokens_revoked_at = ? WHERE id = ?').run(now, userId);
      return this.stmt('DELETE FROM api_tokens WHERE user_id = ?').run(userId).changes;
    })();
  }

  async usersToCutOff(since: number): Promise<number[]> {
    return (
      this.stmt(
        `SELECT DISTINCT s.user_id AS id FROM sessions s LEFT JOIN users u ON u.id = s.user_id
         WHERE s.ended_at IS NULL AND s.started_at >= ? AND (u.id IS NULL OR u.tokens_revoked_at >= s.started_at)`,
      ).all(since) as { id: number }[]
    ).map((r) => r.id);
  }

  async replacePasswordHash(userId: number, oldHash: string, newHash: string): Promise<boolean> {
    return this.stmt('UPDATE users SET password_hash = ? WHERE id = ? AND password_hash = ?').run(newHash, userId, oldHash).changes === 1;
  }

  async deleteToken(tokenHash: string): Promise<void> {
    this.stmt('DELETE FROM api_tokens WHERE token_hash = ?').run(tokenHash);
  }

  // ---- jump groups ----

  async createGroup(g: { name: string; kind: 'shared' | 'personal'; ownerUserId: number | null }): Promise<JumpGroup> {
    return this.writeTransaction(() => {
      if (this.stmt('SELECT 1 FROM jump_groups WHERE name = ?').get(g.name)) throw new JumpError('JUMP_GROUP_EXISTS', { field: 'name' });
      const info = this.stmt('INSERT INTO jump_groups (name, kind, owner_user_id) VALUES (?, ?, ?)')
        .run(g.name, g.kind, g.ownerUserId);
      return { id: Number(info.lastInsertRowid), name: g.name, kind: g.kind, ownerUserId: g.ownerUserId };
    })();
  }

  async getGroupByName(name: string): Promise<JumpGroup | null> {
    const r = this.stmt('SELECT * FROM jump_groups WHERE name = ?').get(name) as Parameters<typeof toGroup>[0] | undefined;
    return r ? toGroup(r) : null;
  }

  async getGroupById(id: number): Promise<JumpGroup | null> {
    const r = this.stmt('SELECT * FROM jump_groups WHERE id = ?').get(id) as Parameters<typeof toGroup>[0] | undefined;
    return r ? toGroup(r) : null;
  }

  async listGroups(): Promise<JumpGroup[]> {
    return (this.stmt('SELECT * FROM jump_groups ORDER BY kind DESC, name').all() as Parameters<typeof toGroup>[0][]).map(toGroup);
  }

  async deleteGroup(id: number): Promise<boolean> {
    return this.writeTransaction(() => {
      // Deleted clients (tombstones) and revoked installers may keep a dangling group id: they are
      // never listed, and a tombstone only exists to refuse its key.
      const used =
        this.stmt('SELECT 1 FROM jump_clients WHERE jump_group_id = ? AND deleted_at IS NULL').get(id) ??
        this.stmt('SELECT 1 FROM installers WHERE jump_group_id = ? AND revoked_at IS NULL').get(id);
      if (used) return false;
      this.stmt('DELETE FROM jump_groups WHERE id = ?').run(id);
      return true;
    })();
  }

  async addMember(groupId: number, userId: number): Promise<void> {
    this.stmt('INSERT OR IGNORE INTO group_members (group_id, user_id) VALUES (?, ?)').run(groupId, userId);
  }

  async removeMember(groupId: number, userId: number): Promise<void> {
    this.stmt('DELETE FROM group_members WHERE group_id = ? AND user_id = ?').run(groupId, userId);
  }

  async listMembers(groupId: number): Promise<User[]> {
    return (
      this.stmt('SELECT u.* FROM group_members m JOIN users u ON u.id = m.user_id WHERE m.group_id = ? ORDER BY u.name')
        .all(groupId) as UserRow[]
    ).map(toUser);
  }

  async memberGroupIds(userId: number): Promise<number[]> {
    return (this.stmt('SELECT group_id FROM group_members WHERE user_id = ?').all(userId) as { group_id: number }[]).map(
      (r) => r.group_id,
    );
  }

  // ---- installers ----

  async createInstaller(i: Installer): Promise<void> {
    this.stmt(
      `INSERT INTO installers (uid, name, key_hash, created_at, expires_at, max_uses, uses, revoked_at,
         jump_group_id, tag, comments, mode, allow_override, created_by)
       VALUES (?, ?, ?, ?, ?, ?, 0, NULL, ?, ?, ?, ?, ?, ?)`,
    )
      .run(
        i.uid,
        i.name,
        i.keyHash,
        i.createdAt,
        i.expiresAt,
        i.maxUses,
        i.jumpGroupId,
        i.tag,
        i.comments,
        i.mode,
        JSON.stringify(i.allowOverride),
        i.createdBy,
      );
  }

  async getInstaller(uid: string): Promise<Installer | null> {
    const r = this.stmt('SELECT * FROM installers WHERE uid = ?').get(uid) as InstallerRow | undefined;
    return r ? toInstaller(r) : null;
  }

  async getInstallerByKeyHash(keyHash: string): Promise<Installer | null> {
    const r = this.stmt('SELECT * FROM installers WHERE key_hash = ?').get(keyHash) as InstallerRow | undefined;
    return r ? toInstaller(r) : null;
  }

  async listInstallers(): Promise<Installer[]> {
    return (this.stmt('SELECT * FROM installers ORDER BY created_at DESC').all() as InstallerRow[]).map(toInstaller);
  }

  async revokeInstaller(uid: string, now: number): Promise<boolean> {
    return this.stmt('UPDATE installers SET revoked_at = COALESCE(revoked_at, ?) WHERE uid = ?').run(now, uid).changes > 0;
  }

  // ---- jump clients ----

  async enroll(input: EnrollInput): Promise<EnrollResult> {
    return this.writeTransaction((): EnrollResult => {
      const existing = this.stmt(
        'SELECT id, deleted_at, uninstalled_at, quarantined_at, installer_uid FROM jump_clients WHERE public_key = ?',
      ).get(input.publicKey) as
        | { id: number; deleted_at: number | null; uninstalled_at: number | null; quarantined_at: number | null; installer_uid: string | null }
        | undefined;
      const inst = this.stmt('SELECT * FROM installers WHERE key_hash = ?').get(input.keyHash) as InstallerRow | undefined;
      if (existing) {
        // An enrollment the agent did not get to save, sent again: the same client, under the same
        // rules as an authentication (a known key must not get around a quarantine or an uninstall
        // by enrolling), and only with the installer that enrolled it.
        if (existing.deleted_at !== null) throw new JumpError('JUMP_CLIENT_DELETED');
        if (existing.quarantined_at !== null) throw new JumpError('JUMP_CLIENT_QUARANTINED');
        if (existing.uninstalled_at !== null) throw new JumpError('JUMP_CLIENT_UNINSTALLED');
        if (!inst || inst.uid !== existing.installer_uid) throw new JumpError('INSTALLER_KEY_UNKNOWN');
        return { client: this.clientById(existing.id)!, replacedClientId: null, duplicateOf: null };
      }
      if (!inst) throw new JumpError('INSTALLER_KEY_UNKNOWN');
      const refusal = input.checkInstaller(toInstaller(inst), input.now);
      if (refusal) throw new JumpError(refusal);

      // A reinstall on the same machine with the same installer: the old record is not connected,
      // so the new one takes its place. A record of another installer is never deleted on a machine
      // id match (/etc/machine-id is world-readable: any installer-key holder could delete any
      // offline client site-wide); the new client is flagged `duplicate_of` it instead.
      const same = this.stmt(
        'SELECT id, installer_uid, online, last_connected_at FROM jump_clients WHERE machine_id = ? AND deleted_at IS NULL ORDER BY id DESC',
      ).all(input.machineId) as { id: number; installer_uid: string | null; online: number; last_connected_at: number | null }[];
      // A record that never connected is not stale: it may be a clone of the same image enrolling
      // at the same moment, not yet marked online (status writes are batched per event-loop turn).
      const stale = same.find((c) => c.installer_uid === inst.uid && c.online === 0 && c.last_connected_at !== null);
      if (stale) this.stmt('UPDATE jump_clients SET deleted_at = ? WHERE id = ?').run(input.now, stale.id);
      const duplicateOf = same.find((c) => c !== stale)?.id ?? null;

      const { maxTotal, maxActive } = input.limits;
      if (maxTotal !== null || maxActive !== null) {
        const n = this.counts();
        if (maxTotal !== null && n.total >= maxTotal) throw new JumpError('DEPLOY_LIMIT_REACHED', { detail: `(jump-clients.max-total=${maxTotal})` });
        if (maxActive !== null && input.mode === 'active' && n.active >= maxActive) {
          throw new JumpError('DEPLOY_ACTIVE_LIMIT_REACHED', { detail: `(jump-clients.max-active=${maxActive})` });
        }
      }
      this.stmt('UPDATE installers SET uses = uses + 1 WHERE uid = ?').run(inst.uid);
      const info = this.stmt(
        `INSERT INTO jump_clients (public_key, machine_id, name, jump_group_id, tag, comments, mode, installer_uid, created_at, duplicate_of)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      )
        .run(input.publicKey, input.machineId, input.name, input.jumpGroupId, input.tag, input.comments, input.mode, inst.uid, input.now, duplicateOf);
      return { client: this.clientById(Number(info.lastInsertRowid))!, replacedClientId: stale?.id ?? null, duplicateOf };
    })();
  }

  private clientById(id: number): JumpClient | null {
    const r = this.stmt(`${CLIENT_SELECT} WHERE c.id = ? AND c.deleted_at IS NULL`).get(id) as ClientRow | undefined;
    return r ? toClient(r) : null;
  }

  async getClient(id: number): Promise<JumpClient | null> {
    return this.clientById(id);
  }

  async getClientAuth(id: number): Promise<{ publicKey: string; deleted: boolean; uninstalled: boolean; quarantined: boolean } | null> {
    const r = this.stmt('SELECT public_key, deleted_at, uninstalled_at, quarantined_at FROM jump_clients WHERE id = ?').get(id) as
      | { public_key: string; deleted_at: number | null; uninstalled_at: number | null; quarantined_at: number | null }
      | undefined;
    return r
      ? { publicKey: r.public_key, deleted: r.deleted_at !== null, uninstalled: r.uninstalled_at !== null, quarantined: r.quarantined_at !== null }
      : null;
  }

  async quarantineClient(id: number, reason: string, now: number): Promise<void> {
    this.stmt(
      'UPDATE jump_clients SET quarantined_at = COALESCE(quarantined_at, ?), quarantine_reason = COALESCE(quarantine_reason, ?) WHERE id = ?',
    ).run(now, reason, id);
  }

  async reportClone(id: number, report: { now: number; machineId: string; publicIp: string }): Promise<number | null> {
    const before = this.stmt('SELECT clone_reported_at FROM jump_clients WHERE id = ?').get(id) as { clone_reported_at: number | null } | undefined;
    this.stmt('UPDATE jump_clients SET clone_reported_at = ?, clone_machine_id = ?, clone_public_ip = ?, clone_reports = clone_reports + 1 WHERE id = ?').run(
      report.now,
      report.machineId,
      report.publicIp,
      id,
    );
    return before?.clone_reported_at ?? null;
  }

  async releaseClient(id: number): Promise<boolean> {
    return (
      this.stmt('UPDATE jump_clients SET quarantined_at = NULL, quarantine_reason = NULL WHERE id = ? AND deleted_at IS NULL AND quarantined_at IS NOT NULL').run(id)
        .changes > 0
    );
  }

  async markUninstalled(id: number, now: number): Promise<void> {
    this.stmt('UPDATE jump_clients SET uninstalled_at = COALESCE(uninstalled_at, ?), online = 0, last_disconnected_at = ? WHERE id = ?').run(now, now, id);
  }

  async findClientsByName(name: string): Promise<JumpClient[]> {
    return (
      this.stmt(`${CLIENT_SELECT} WHERE c.deleted_at IS NULL AND ${CLIENT_DISPLAY_NAME_SQL} = ? COLLATE NOCASE ORDER BY c.id`)
        .all(name) as ClientRow[]
    ).map(toClient);
  }

  async listClients(q: ClientQuery): Promise<{ items: JumpClient[]; summary: ClientSummary }> {
    const where: string[] = ['c.deleted_at IS NULL'];
    const args: unknown[] = [];
    if (q.visibleGroupIds !== null) {
      where.push('c.jump_group_id IN (SELECT value FROM json_each(?))');
      args.push(JSON.stringify(q.visibleGroupIds));
    }
    if (q.jumpGroupId !== undefined) {
      where.push('c.jump_group_id = ?');
      args.push(q.jumpGroupId);
    }
    if (q.tag !== undefined) {
      where.push('c.tag = ?');
      args.push(q.tag);
    }
    if (q.search) {
      const fields = q.fields && q.fields.length > 0 ? q.fields : SEARCH_FIELDS;
      const ors = fields.map((f) => `(${SEARCH_SQL[f].replace('STATUS', STATUS_SQL)}) LIKE ? ESCAPE '\\'`);
      where.push(`(${ors.join(' OR ')})`);
      const pattern = likePattern(q.search);
      for (let i = 0; i < fields.length; i++) args.push(pattern);
    }
    const limit = q.limit ? ` LIMIT ${Math.max(1, Math.floor(q.limit))}` : '';
    const offset = q.limit && q.offset ? Math.max(0, Math.floor(q.offset)) : 0;
    const dir = q.order === 'desc' ? 'DESC' : 'ASC';
    const orderBy = q.sort
      ? `${SORT_SQL[q.sort]} ${dir}, c.id ${dir}`
      : `g.name COLLATE NOCASE, c.tag COLLATE NOCASE, COALESCE(${CLIENT_DISPLAY_NAME_SQL}, '') COLLATE NOCASE, c.id`;
    // A page is chosen among the bare rows first (ids only), and only its rows get the full select
    // with its per-row subquery: the first page of 50 000 clients stays fast (docs/benchmarks.md).
    // The groups' table joins the page query only when the order needs their names.
    const join = !q.sort || q.sort === 'group' ? ' JOIN jump_groups g ON g.id = c.jump_group_id' : '';
    const rows = (
      limit
        ? this.stmt(
            `${CLIENT_SELECT} WHERE c.id IN (SELECT c.id FROM jump_clients c${join} WHERE ${where.join(' AND ')} ORDER BY ${orderBy}${limit} OFFSET ${offset}) ORDER BY ${orderBy}`,
          ).all(...args)
        : this.stmt(`${CLIENT_SELECT} WHERE ${where.join(' AND ')} ORDER BY ${orderBy}`).all(...args)
    ) as ClientRow[];
    const items = rows.map(toClient);
    // The summary counts every visible client that matches, not only the page `limit` returns
    // (issue #13 item 6): counted from the rows when they are all here, by SQL otherwise.
    let summary: ClientSummary;
    if (!limit || (offset === 0 && items.length < Math.floor(q.limit!))) {
      summary = { jumpItems: items.length, jumpClients: items.length, online: 0, offline: 0, passive: 0 };
      for (const c of items) {
        if (c.status === 'online') summary.online++;
        else summary.offline++;
        if (c.mode === 'passive') summary.passive++;
      }
    } else {
      // Online is STATUS_SQL's 'online' (connected, not uninstalled), in columns the summary index
      // holds; SQLite's planner otherwise picks a smaller index that is not covering and reads every row.
      const n = this.stmt(
        `SELECT COUNT(*) AS total, COALESCE(SUM(c.online = 1 AND c.uninstalled_at IS NULL), 0) AS online, COALESCE(SUM(c.mode = 'passive'), 0) AS passive
         FROM jump_clients c INDEXED BY jump_clients_summary WHERE ${where.join(' AND ')}`,
      ).get(...args) as { total: number; online: number; passive: number };
      summary = { jumpItems: n.total, jumpClients: n.total, online: n.online, offline: n.total - n.online, passive: n.passive };
    }
    return { items, summary };
  }

  async listClientTags(visibleGroupIds: number[] | null): Promise<{ jumpGroup: string; tag: string; count: number }[]> {
    const where = visibleGroupIds === null ? '' : 'AND c.jump_group_id IN (SELECT value FROM json_each(?))';
    return this.stmt(
      `SELECT g.name AS jumpGroup, c.tag AS tag, COUNT(*) AS count FROM jump_clients c JOIN jump_groups g ON g.id = c.jump_group_id
       WHERE c.deleted_at IS NULL AND c.tag <> '' ${where} GROUP BY c.jump_group_id, c.tag ORDER BY g.name COLLATE NOCASE, c.tag COLLATE NOCASE`,
    ).all(...(visibleGroupIds === null ? [] : [JSON.stringify(visibleGroupIds)])) as { jumpGroup: string; tag: string; count: number }[];
  }

  async updateClient(id: number, patch: ClientPatch, limits?: ClientLimits): Promise<void> {
    const sets: string[] = [];
    const args: unknown[] = [];
    if (patch.name !== undefined) (sets.push('name = ?'), args.push(patch.name));
    if (patch.jumpGroupId !== undefined) (sets.push('jump_group_id = ?'), args.push(patch.jumpGroupId));
    if (patch.tag !== undefined) (sets.push('tag = ?'), args.push(patch.tag));
    if (patch.comments !== undefined) (sets.push('comments = ?'), args.push(patch.comments));
    if (patch.mode !== undefined) (sets.push('mode = ?'), args.push(patch.mode));
    if (patch.maxOfflineMs !== undefined) (sets.push('max_offline_ms = ?'), args.push(patch.maxOfflineMs));
    if (sets.length === 0) return;
    this.writeTransaction(() => {
      const maxActive = limits?.maxActive ?? null;
      if (patch.mode === 'active' && maxActive !== null) {
        const row = this.stmt('SELECT mode FROM jump_clients WHERE id = ? AND deleted_at IS NULL').get(id) as { mode: string } | undefined;
        if (row && row.mode !== 'active' && this.counts().active >= maxActive) {
          throw new JumpError('ACTIVE_LIMIT_REACHED', { detail: `(jump-clients.max-active=${maxActive})` });
        }
      }
      this.stmt(`UPDATE jump_clients SET ${sets.join(', ')} WHERE id = ? AND deleted_at IS NULL`).run(...args, id);
    })();
  }

  /** Live (not deleted) jump clients, and those of mode active. */
  private counts(): { total: number; active: number } {
    return this.stmt("SELECT count(*) AS total, COALESCE(SUM(mode = 'active'), 0) AS active FROM jump_clients WHERE deleted_at IS NULL").get() as {
      total: number;
      active: number;
    };
  }

  async clientWelcome(id: number): Promise<{ maxOfflineMs: number | null; mode: JumpClientMode } | null> {
    const r = this.stmt('SELECT max_offline_ms, mode FROM jump_clients WHERE id = ?').get(id) as { max_offline_ms: number | null; mode: JumpClientMode } | undefined;
    return r ? { maxOfflineMs: r.max_offline_ms ? r.max_offline_ms : null, mode: r.mode } : null;
  }

  async countClients(): Promise<{ total: number; active: number }> {
    return this.counts();
  }

  async listSettings(): Promise<SettingRow[]> {
    return (this.stmt('SELECT key, value, updated_at FROM settings ORDER BY key').all() as { key: string; value: string; updated_at: number }[]).map((r) => ({
      key: r.key,
      value: r.value,
      updatedAt: r.updated_at,
    }));
  }

  async putSetting(key: string, value: string | null, now: number): Promise<void> {
    if (value === null) this.stmt('DELETE FROM settings WHERE key = ?').run(key);
    else this.stmt('INSERT INTO settings (key, value, updated_at) VALUES (?, ?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at').run(key, value, now);
  }

  async deleteClients(ids: number[], now: number): Promise<number[]> {
    return this.writeTransaction(() => {
      const done: number[] = [];
      const stmt = this.stmt('UPDATE jump_clients SET deleted_at = ?, online = 0 WHERE id = ? AND deleted_at IS NULL');
      for (const id of ids) if (stmt.run(now, id).changes > 0) done.push(id);
      return done;
    })();
  }

  setClientOnline(id: number, info: { now: number; publicIp: string; machineId: string; agentVersion?: string; platform?: string | null }): Promise<void> {
    return this.batched(() => {
      this.stmt('UPDATE jump_clients SET online = 1, last_connected_at = ?, public_ip = ?, machine_id = ?, lost_at = NULL, purge_at = NULL WHERE id = ?').run(
        info.now,
        info.publicIp,
        info.machineId,
        id,
      );
      if (info.agentVersion !== undefined) {
        this.stmt('UPDATE jump_clients SET agent_version = ?, platform = ? WHERE id = ?').run(info.agentVersion, info.platform ?? null, id);
      }
    });
  }

  // ---- self-update (issue #17) ----

  async putBuild(b: ClientBuild): Promise<void> {
    this.writeTransaction(() => {
      this.stmt(
        `INSERT INTO client_builds (platform, version, sha256, size, signature, file, imported_at) VALUES (?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT(platform, version) DO UPDATE SET sha256 = excluded.sha256, size = excluded.size, signature = excluded.signature, file = excluded.file, imported_at = excluded.imported_at`,
      ).run(b.platform, b.version, b.sha256, b.size, b.signature, b.file, b.importedAt);
      this.stmt('INSERT INTO served_builds (platform, version, updated_at) VALUES (?, ?, ?) ON CONFLICT(platform) DO UPDATE SET version = excluded.version, updated_at = excluded.updated_at').run(
        b.platform,
        b.version,
        b.importedAt,
      );
    })();
  }

  async listBuilds(): Promise<(ClientBuild & { served: boolean })[]> {
    return (
      this.stmt(
        `SELECT b.*, (s.version IS NOT NULL) AS served FROM client_builds b LEFT JOIN served_builds s ON s.platform = b.platform AND s.version = b.version
         ORDER BY b.platform, b.imported_at DESC, b.version`,
      ).all() as BuildRow[]
    ).map(toBuild);
  }

  async servedBuilds(): Promise<ClientBuild[]> {
    return (
      this.stmt('SELECT b.*, 1 AS served FROM client_builds b JOIN served_builds s ON s.platform = b.platform AND s.version = b.version ORDER BY b.platform').all() as BuildRow[]
    ).map(toBuild);
  }

  async clientUpdateState(id: number): Promise<ClientUpdateState | null> {
    const r = this.stmt('SELECT update_offered_version, update_failed_version FROM jump_clients WHERE id = ? AND deleted_at IS NULL').get(id) as
      | { update_offered_version: string | null; update_failed_version: string | null }
      | undefined;
    return r ? { offeredVersion: r.update_offered_version, failedVersion: r.update_failed_version } : null;
  }

  async setUpdateOffered(id: number, version: string): Promise<void> {
    this.stmt('UPDATE jump_clients SET update_offered_version = ? WHERE id = ?').run(version, id);
  }

  async setUpdateFailure(id: number, f: UpdateFailure | null): Promise<boolean> {
    if (f === null) {
      return (
        this.stmt(
          `UPDATE jump_clients SET update_failed_version = NULL, update_failed_code = NULL, update_failed_reason = NULL, update_failed_at = NULL
           WHERE id = ? AND deleted_at IS NULL AND update_failed_version IS NOT NULL`,
        ).run(id).changes > 0
      );
    }
    return (
      this.stmt('UPDATE jump_clients SET update_failed_version = ?, update_failed_code = ?, update_failed_reason = ?, update_failed_at = ? WHERE id = ? AND deleted_at IS NULL').run(
        f.version,
        f.code,
        f.reason,
        f.at,
        id,
      ).changes > 0
    );
  }

  async updateOverview(): Promise<{ versions: { platform: string | null; version: string | null; clients: number; online: number }[]; failed: (UpdateFailure & { clientId: number; name: string })[] }> {
    const versions = (
      this.stmt(
        `SELECT platform, agent_version AS version, COUNT(*) AS clients, COALESCE(SUM(online), 0) AS online FROM jump_clients
         WHERE deleted_at IS NULL GROUP BY platform, agent_version ORDER BY platform, agent_version`,
      ).all() as { platform: string | null; version: string | null; clients: number; online: number }[]
    );
    const failed = (
      this.stmt(
        `SELECT c.id, COALESCE(${CLIENT_DISPLAY_NAME_SQL}, 'jump client ' || c.id) AS name, c.update_failed_version, c.update_failed_code, c.update_failed_reason, c.update_failed_at
         FROM jump_clients c WHERE c.deleted_at IS NULL AND c.update_failed_version IS NOT NULL ORDER BY c.update_failed_at DESC, c.id LIMIT 1000`,
      ).all() as { id: number; name: string; update_failed_version: string; update_failed_code: string | null; update_failed_reason: string | null; update_failed_at: number | null }[]
    ).map((r) => ({ clientId: r.id, name: r.name, version: r.update_failed_version, code: r.update_failed_code ?? 'UPDATE_FAILED', reason: r.update_failed_reason ?? '', at: r.update_failed_at ?? 0 }));
    return { versions, failed };
  }

  setClientOffline(id: number, now: number, passiveUntil: number | null = null): Promise<void> {
    return this.batched(() => {
      this.stmt('UPDATE jump_clients SET online = 0, last_disconnected_at = ?, passive_until = ? WHERE id = ? AND online = 1').run(now, passiveUntil, id);
    });
  }

  updateStats(id: number, stats: Stats | StatsDelta, full: boolean): Promise<void> {
    const json = JSON.stringify(stats);
    return this.batched(() => {
      if (full) this.stmt('UPDATE jump_clients SET stats = ? WHERE id = ?').run(json, id);
      else this.stmt('UPDATE jump_clients SET stats = json_patch(stats, ?) WHERE id = ?').run(json, id);
      this.stmt(
        `UPDATE jump_clients SET
           hostname = json_extract(stats, '$.hostname'),
           private_ips = (SELECT group_concat(value, ' ') FROM json_each(jump_clients.stats, '$.private_ips')),
           console_user = json_extract(stats, '$.console_user'),
           domain = json_extract(stats, '$.domain'),
           workgroup = json_extract(stats, '$.workgroup')
         WHERE id = ?`,
      ).run(id);
    });
  }

  async sweepLifecycle(now: number, maxOfflineMs: number, lostGraceMs: number): Promise<{ lost: number[]; purged: number[] }> {
    return this.writeTransaction(() => {
      // Offline since the last contact: the disconnect (or, never connected, the enrollment).
      const lost = (
        this.stmt(
          `UPDATE jump_clients SET lost_at = ?, purge_at = ?
           WHERE deleted_at IS NULL AND uninstalled_at IS NULL AND online = 0 AND lost_at IS NULL
             AND COALESCE(last_disconnected_at, last_connected_at, created_at) <= ? - COALESCE(NULLIF(max_offline_ms, 0), ?)
           RETURNING id`,
        ).all(now, now + lostGraceMs, now, maxOfflineMs) as { id: number }[]
      ).map((r) => r.id);
      const purged = (
        this.stmt('UPDATE jump_clients SET deleted_at = ?, online = 0 WHERE deleted_at IS NULL AND online = 0 AND purge_at IS NOT NULL AND purge_at <= ? RETURNING id').all(
          now,
          now,
        ) as { id: number }[]
      ).map((r) => r.id);
      return { lost, purged };
    })();
  }

  async markAllOffline(now: number): Promise<void> {
    this.writeTransaction(() => {
      this.stmt('UPDATE jump_clients SET online = 0, last_disconnected_at = ? WHERE online = 1').run(now);
      // A session the previous process ran (it was killed, or stopped before the session ended) has
      // no relay any more: it ended then, not never (found by the crash suite, docs/reliability.md).
      this.stmt(`UPDATE sessions SET ended_at = ?, end_reason = ${SQL_SITE_RESTARTED} WHERE ended_at IS NULL`).run(now);
    })();
  }

  async recentPublicIps(since: number): Promise<{ ip: string; seenAt: number }[]> {
    return this.stmt(
      `SELECT public_ip AS ip, MAX(COALESCE(last_disconnected_at, last_connected_at)) AS seenAt FROM jump_clients
       WHERE deleted_at IS NULL AND public_ip IS NOT NULL AND COALESCE(last_disconnected_at, last_connected_at) >= ?
       GROUP BY public_ip`,
    ).all(since) as { ip: string; seenAt: number }[];
  }

  // ---- sessions ----

  async createSession(x: { id: string; clientId: number; userId: number; kind: string; startedAt: number }): Promise<void> {
    this.writeTransaction(() => {
      this.stmt('INSERT INTO sessions (id, client_id, user_id, kind, started_at) VALUES (?, ?, ?, ?, ?)')
        .run(x.id, x.clientId, x.userId, x.kind, x.startedAt);
      this.stmt('UPDATE jump_clients SET last_access_at = ? WHERE id = ?').run(x.startedAt, x.clientId);
    })();
  }

  async endSession(id: string, x: { endedAt: number; bytesToClient: number; bytesFromClient: number; endReason: string }): Promise<void> {
    this.stmt(
      'UPDATE sessions SET ended_at = ?, bytes_to_client = ?, bytes_from_client = ?, end_reason = ? WHERE id = ? AND ended_at IS NULL',
    )
      .run(x.endedAt, x.bytesToClient, x.bytesFromClient, x.endReason, id);
  }

  async setSessionExit(id: string, exitStatus: number | null): Promise<void> {
    this.stmt('UPDATE sessions SET exit_status = ? WHERE id = ?').run(exitStatus, id);
  }

  async setSessionRecording(id: string, file: string): Promise<void> {
    this.stmt('UPDATE sessions SET recording = ? WHERE id = ?').run(file, id);
  }

  async setSessionFileLog(id: string, file: string): Promise<void> {
    this.stmt('UPDATE sessions SET file_log = ? WHERE id = ?').run(file, id);
  }

  async addSessionCommand(id: string, command: string, maxCommands: number): Promise<void> {
    this.writeTransaction(() => {
      const r = this.stmt('SELECT commands FROM sessions WHERE id = ?').get(id) as { commands: string | null } | undefined;
      if (!r) return;
      const list = r.commands === null ? [] : (JSON.parse(r.commands) as string[]);
      if (list.length > maxCommands) return;
      list.push(list.length === maxCommands ? `[jump: more than ${maxCommands} commands, the rest not kept]` : command);
      this.stmt('UPDATE sessions SET commands = ? WHERE id = ?').run(JSON.stringify(list), id);
    })();
  }

  async getSession(id: string): Promise<SessionRecord | null> {
    const r = this.stmt(`${SESSION_SELECT} WHERE s.id = ?`).get(id) as SessionRow | undefined;
    return r ? toSession(r) : null;
  }

  async listSessions(q: { visibleGroupIds: number[] | null; userId?: number; clientId?: number; limit: number }): Promise<SessionRecord[]> {
    const where: string[] = ['1 = 1'];
    const args: unknown[] = [];
    if (q.visibleGroupIds !== null) {
      where.push('(c.jump_group_id IN (SELECT value FROM json_each(?)) OR s.user_id = ?)');
      args.push(JSON.stringify(q.visibleGroupIds), q.userId ?? -1);
    }
    if (q.clientId !== undefined) {
      where.push('s.client_id = ?');
      args.push(q.clientId);
    }
    const rows = this.stmt(`${SESSION_SELECT} WHERE ${where.join(' AND ')} ORDER BY s.started_at DESC LIMIT ?`)
      .all(...args, Math.max(1, Math.min(10_000, q.limit))) as SessionRow[];
    return rows.map(toSession);
  }

  // ---- audit ----

  async audit(e: AuditEntry): Promise<void> {
    this.stmt('INSERT INTO audit_log (at, user_id, action, target, detail) VALUES (?, ?, ?, ?, ?)')
      .run(e.at, e.userId, e.action, e.target, e.detail ?? null);
  }

  async listAudit(limit: number): Promise<AuditEntry[]> {
    const rows = this.stmt('SELECT * FROM audit_log ORDER BY id DESC LIMIT ?').all(limit) as {
      at: number;
      user_id: number | null;
      action: string;
      target: string;
      detail: string | null;
    }[];
    return rows.map((r) => ({ at: r.at, userId: r.user_id, action: r.action, target: r.target, detail: r.detail ?? undefined }));
  }
}
