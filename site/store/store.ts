/**
 * The site's persistent state, behind one interface.
 *
 * The single-node default is SQLite (./sqlite.ts). Every method is async so that a PostgreSQL
 * implementation (DESIGN.md "Scale-out") can follow without changing callers. Times are ms since
 * the epoch. Methods that enforce a rule atomically (enrollment) throw `JumpError` with a catalog
 * code; all others throw only on storage failure.
 */
import type { JumpClientMode, JumpClientStatus, OverridableField, SearchField, SortField } from '../../protocol/fields.js';
import type { ErrorCode } from '../../protocol/errors.js';
import type { Stats, StatsDelta } from '../../protocol/messages.js';

/**
 * The display-name rule of a jump client (seeds: a jump item shows its name, else the endpoint's
 * hostname), in SQL over the `c` (jump_clients) row: NULL when it has neither, so each query adds
 * its own last resort (`''` to search and sort, `'jump client <id>'` in session rows). The TS
 * twin is `clientDisplayName`; change both together.
 */
export const CLIENT_DISPLAY_NAME_SQL = 'COALESCE(c.name, c.hostname)';

/**
 * The display-name rule in TS (see CLIENT_DISPLAY_NAME_SQL): `name`, else `hostname` (from the
 * statistics), else `jump client <id>`.
 */
export function clientDisplayName(c: { id: number; name: string | null; hostname?: string | null }): string {
  return c.name ?? c.hostname ?? `jump client ${c.id}`;
}

export type Role = 'admin' | 'technician';

export interface User {
  id: number;
  name: string;
  role: Role;
  /** May see and manage jump items in other users' personal jump groups (seeds: Jump interface). */
  viewPersonalGroups: boolean;
  passwordHash: string;
  createdAt: number;
  /** Set on the bootstrap admin: every API call but me, me/password and logout answers PASSWORD_CHANGE_REQUIRED. */
  mustChangePassword: boolean;
  /** Disabled by an admin (web console USERS page): no login, no token works. */
  disabled?: boolean;
}

export interface JumpGroup {
  id: number;
  /** A shared group's name, or `user:<name>` for a personal group. */
  name: string;
  kind: 'shared' | 'personal';
  ownerUserId: number | null;
}

export interface Installer {
  uid: string;
  name: string | null;
  keyHash: string;
  createdAt: number;
  expiresAt: number;
  maxUses: number | null;
  uses: number;
  revokedAt: number | null;
  jumpGroupId: number;
  tag: string;
  comments: string;
  mode: JumpClientMode;
  allowOverride: OverridableField[];
  createdBy: number;
}

export interface JumpClient {
  id: number;
  publicKey: string;
  machineId: string;
  /** The name set by a person or the installer; `null` shows the hostname. */
  name: string | null;
  jumpGroupId: number;
  jumpGroupName: string;
  tag: string;
  comments: string;
  mode: JumpClientMode;
  installerUid: string | null;
  createdAt: number;
  online: boolean;
  lastConnectedAt: number | null;
  lastDisconnectedAt: number | null;
  lastAccessAt: number | null;
  uninstalledAt: number | null;
  publicIp: string | null;
  stats: Partial<Stats>;
  /** Another online jump client reports the same machine id (a cloned disk image, most likely). */
  duplicateMachineId: boolean;
  /**
   * The jump client whose machine id this one reported at enrollment, when that one came from
   * another installer: a reinstall, a cloned image or an impostor; an admin decides (issue #12 item 3).
   */
  duplicateOf: number | null;
  /** When the identity was seen on two live connections at once (issue #12 item 4), else null. */
  quarantinedAt: number | null;
  quarantineReason: string | null;
  /**
   * The last report of a copy of this jump client on another machine (issue #16 item 5): when (ms),
   * the copy's machine id and address, and how many reports came; null when none.
   */
  cloneReport: { at: number; machineId: string; publicIp: string; count: number } | null;
  /** When it was marked lost (offline past jump-clients.max-offline, issue #18), else null. */
  lostAt: number | null;
  /** When a lost client is purged (lost + jump-clients.lost-grace at that moment), else null. */
  purgeAt: number | null;
  /** Its own max-offline in ms (`jump clients edit --max-offline`); null or 0: the site's. */
  maxOfflineMs: number | null;
  /** The version its last hello reported (`<semver>+<build id>`, protocol/update.ts), null before any. */
  version: string | null;
  /** The platform its last hello reported (packaged builds only), else null. */
  platform: string | null;
  /** Its last self-update failure (issue #17), kept until `jump updates retry ID`; else null. */
  updateFailure: UpdateFailure | null;
  status: JumpClientStatus;
}

/** A failed self-update as the agent reported it (update_status failed). */
export interface UpdateFailure {
  /** The offered version that failed. */
  version: string;
  /** UPDATE_FAILED or UPDATE_SIGNATURE_INVALID (protocol/messages.ts UPDATE_STATUS_CODES). */
  code: string;
  reason: string;
  /** ms since the epoch. */
  at: number;
}

/** A client build imported by `jump-site builds import` (site/updates.ts). */
export interface ClientBuild {
  /** protocol/update.ts CLIENT_PLATFORMS. */
  platform: string;
  /** `<semver>+<build id>`. */
  version: string;
  /** sha256 of the executable, lowercase hex. */
  sha256: string;
  /** Bytes. */
  size: number;
  /** signBuild over (platform, version, sha256, size) with the update-signing key, base64url. */
  signature: string;
  /** Path of the executable relative to the data dir (`builds/<platform>/<version>/<exe>`). */
  file: string;
  importedAt: number;
}

/** What the update policy reads of one client. */
export interface ClientUpdateState {
  /** The version last offered to it, else null. */
  offeredVersion: string | null;
  /** The version whose update failed (not offered again until retry), else null. */
  failedVersion: string | null;
}

export interface ClientQuery {
  /** Limit to these jump group ids; `null` = every group (admins). */
  visibleGroupIds: number[] | null;
  search?: string;
  /** Fields searched; all SEARCH_FIELDS when absent or empty. */
  fields?: SearchField[];
  jumpGroupId?: number;
  tag?: string;
  limit?: number;
  /** Rows skipped before the page (with `limit`; default 0). */
  offset?: number;
  /** Sort by this column, then by id (default: group, tag, name, id). */
  sort?: SortField;
  /** Direction of `sort` (default asc). */
  order?: 'asc' | 'desc';
}

export interface ClientSummary {
  jumpItems: number;
  jumpClients: number;
  online: number;
  offline: number;
  passive: number;
}

export interface EnrollInput {
  keyHash: string;
  publicKey: string;
  machineId: string;
  name: string | null;
  jumpGroupId: number;
  tag: string;
  comments: string;
  /** Active or passive: the installer's mode, or passive when the install asked for it (`--jc-passive`). */
  mode: JumpClientMode;
  now: number;
  /**
   * The site's license limits (settings jump-clients.max-total and .max-active, null: unlimited),
   * checked inside the enrollment's transaction: DEPLOY_LIMIT_REACHED, DEPLOY_ACTIVE_LIMIT_REACHED
   * (for an installer of mode active). A client already enrolled is never refused by them.
   */
  limits: ClientLimits;
  /**
   * The caller's rule for the installer whose key is `keyHash`, run inside the enrollment's
   * transaction on the row as it is then (uses counted so far): an error code refuses the
   * enrollment with a JumpError of that code, null lets it go on. The store holds no installer
   * rule of its own (site/installers.ts `installerRefusal` is the rule).
   */
  checkInstaller: (installer: Installer, now: number) => ErrorCode | null;
}

export interface EnrollResult {
  client: JumpClient;
  /** The id of the stale record of the same machine (same installer) that this enrollment replaced. */
  replacedClientId: number | null;
  /** The client of another installer that reports the same machine id (flagged, not replaced). */
  duplicateOf: number | null;
}

export interface ClientPatch {
  name?: string | null;
  jumpGroupId?: number;
  tag?: string;
  comments?: string;
  mode?: JumpClientMode;
  /** ms; 0: the site's jump-clients.max-offline. */
  maxOfflineMs?: number;
}

/** The site's limits on deployed jump clients (site/settings.ts), null: unlimited. */
export interface ClientLimits {
  maxTotal: number | null;
  maxActive: number | null;
}

/** A stored site setting (site/settings.ts owns the keys and value forms). */
export interface SettingRow {
  key: string;
  value: string;
  updatedAt: number;
}

export interface AuditEntry {
  at: number;
  userId: number | null;
  action: string;
  target: string;
  detail?: string;
}

/** One Jump session (DESIGN.md flow step 7). Bytes are counted at the site relay. */
export interface SessionRecord {
  id: string;
  clientId: number;
  clientName: string | null;
  userId: number;
  userName: string | null;
  /** shell, exec, sftp, proxy (an OpenSSH client through `jump proxy`) or tunnel. */
  kind: string;
  startedAt: number;
  endedAt: number | null;
  /** Bytes from the technician to the jump client. */
  bytesToClient: number;
  bytesFromClient: number;
  exitStatus: number | null;
  endReason: string | null;
  /** File name of the asciicast v2 recording (every PTY) in the data dir's recordings/, or null. */
  recording: string | null;
  /** File name of the SFTP file-operation log (`<id>.sftp.jsonl`) in recordings/, or null. */
  fileLog: string | null;
  /** Command lines the session ran (SSH exec, with or without a PTY), oldest first. */
  commands: string[];
}

export interface Store {
  close(): Promise<void>;

  // users and API tokens
  createUser(u: { name: string; role: Role; passwordHash: string; viewPersonalGroups: boolean; now: number; mustChangePassword?: boolean }): Promise<User>;
  getUserByName(name: string): Promise<User | null>;
  getUserById(id: number): Promise<User | null>;
  listUsers(): Promise<User[]>;
  /** A new `passwordHash` also clears the must-change flag and deletes the user's tokens. */
  /** `disabled` true also deletes the user's tokens and notes the revocation (their Jump sessions end). */
  updateUser(id: number, patch: { passwordHash?: string; role?: Role; viewPersonalGroups?: boolean; disabled?: boolean }): Promise<void>;
  /** Removes the user, their tokens and memberships, and revokes their installers. Their personal group and its clients stay. */
  deleteUser(id: number): Promise<void>;
  createToken(t: { userId: number; tokenHash: string; now: number; expiresAt: number }): Promise<void>;
  /**
   * The user owning a token that is neither expired nor idle for `idleMs` (ms; default: no idle
   * limit), or null. Records the use (at most once a minute per token).
   */
  userForToken(tokenHash: string, now: number, idleMs?: number): Promise<User | null>;
  deleteToken(tokenHash: string): Promise<void>;
  /** Deletes expired tokens and tokens idle for `idleMs` (ms). Returns how many. */
  purgeTokens(now: number, idleMs: number): Promise<number>;
  /**
   * Deletes every token of a user (admin revoke) and notes the time (`now`, ms; default the clock)
   * as the user's last revocation, which `usersToCutOff` reads. Returns how many tokens.
   * `updateUser` with a new password hash does the same.
   */
  deleteUserTokens(userId: number, now?: number): Promise<number>;
  /**
   * Users whose Jump sessions must end (security issue #12, round 2 item 18): the owners of
   * sessions not yet ended, started at or after `since` (ms), whose user no longer exists or whose
   * tokens were revoked at or after the session started. Works across processes: `jump-site user
   * remove|passwd` change only the database.
   */
  usersToCutOff(since: number): Promise<number[]>;
  /**
   * Replaces a password hash by an equivalent one (a rehash at a higher cost on login), only if it
   * is still `oldHash`. Keeps the user's tokens and must-change flag. Returns false when it changed meanwhile.
   */
  replacePasswordHash(userId: number, oldHash: string, newHash: string): Promise<boolean>;

  // jump groups
  createGroup(g: { name: string; kind: 'shared' | 'personal'; ownerUserId: number | null }): Promise<JumpGroup>;
  getGroupByName(name: string): Promise<JumpGroup | null>;
  getGroupById(id: number): Promise<JumpGroup | null>;
  listGroups(): Promise<JumpGroup[]>;
  /** Deletes an empty shared group. Returns false when jump clients or installers still use it. */
  deleteGroup(id: number): Promise<boolean>;
  addMember(groupId: number, userId: number): Promise<void>;
  removeMember(groupId: number, userId: number): Promise<void>;
  listMembers(groupId: number): Promise<User[]>;
  /** Ids of the shared groups `userId` is a member of. */
  memberGroupIds(userId: number): Promise<number[]>;

  // installers
  createInstaller(i: Installer): Promise<void>;
  getInstaller(uid: string): Promise<Installer | null>;
  getInstallerByKeyHash(keyHash: string): Promise<Installer | null>;
  listInstallers(): Promise<Installer[]>;
  revokeInstaller(uid: string, now: number): Promise<boolean>;

  // jump clients
  /**
   * Enrolls a jump client with an installer key, atomically: checks the installer (errors
   * INSTALLER_KEY_UNKNOWN, INSTALLER_REVOKED, INSTALLER_EXPIRED, INSTALLER_USED_UP), the site limit
   * (DEPLOY_LIMIT_REACHED), counts one use, replaces an offline record of the same machine enrolled
   * with the same installer (a reinstall), flags (`duplicateOf`) but never deletes a record of the
   * same machine id from another installer, and inserts the client. Enrolling the same public key again returns the existing
   * client without counting a use (the agent lost the first answer).
   */
  enroll(input: EnrollInput): Promise<EnrollResult>;
  getClient(id: number): Promise<JumpClient | null>;
  /** Includes deleted clients, so a deleted client's connect can be refused with JUMP_CLIENT_DELETED. */
  getClientAuth(id: number): Promise<{ publicKey: string; deleted: boolean; uninstalled: boolean; quarantined: boolean } | null>;
  /** Quarantines a client (two live connections with one identity). Keeps the first time and reason. */
  quarantineClient(id: number, reason: string, now: number): Promise<void>;
  /**
   * Records that a copy of `id` on another machine (`machineId`, from `publicIp`) reported itself
   * at `now` (ms); counts it. Returns when the report before this one came (ms), or null.
   */
  reportClone(id: number, report: { now: number; machineId: string; publicIp: string }): Promise<number | null>;
  /** Clears a client's quarantine. Returns false when it was not quarantined (or does not exist). */
  releaseClient(id: number): Promise<boolean>;
  /** Marks a client uninstalled on its machine: it stays listed with its last statistics until deleted. */
  markUninstalled(id: number, now: number): Promise<void>;
  findClientsByName(name: string): Promise<JumpClient[]>;
  listClients(q: ClientQuery): Promise<{ items: JumpClient[]; summary: ClientSummary }>;
  /** The tags in use per jump group, with their client counts, in the groups `visibleGroupIds` (null: all); not the empty tag. */
  listClientTags(visibleGroupIds: number[] | null): Promise<{ jumpGroup: string; tag: string; count: number }[]>;
  /**
   * Applies `patch` to a live (not deleted) client. A switch to mode active is checked against
   * `limits.maxActive` in the same transaction (ACTIVE_LIMIT_REACHED, nothing changed).
   */
  updateClient(id: number, patch: ClientPatch, limits?: ClientLimits): Promise<void>;
  /**
   * The offline lifetime (issue #18 item 3; seeds: 180 days offline): marks lost every client not
   * connected since `now - maxOfflineMs` (its own max-offline when set), with purge_at = now +
   * `lostGraceMs`, and purges (deletes) lost clients whose purge_at has come. Returns the ids.
   */
  sweepLifecycle(now: number, maxOfflineMs: number, lostGraceMs: number): Promise<{ lost: number[]; purged: number[] }>;
  /** What a welcome needs: the client's own max-offline in ms (null: the site's) and its mode; null when it does not exist. */
  clientWelcome(id: number): Promise<{ maxOfflineMs: number | null; mode: JumpClientMode } | null>;
  /** Jump clients not deleted: all of them, and those of mode active (the license counts). */
  countClients(): Promise<{ total: number; active: number }>;

  // site settings (site/settings.ts)
  listSettings(): Promise<SettingRow[]>;
  /** Stores `value` for `key`, or removes it (null: back to the default). */
  putSetting(key: string, value: string | null, now: number): Promise<void>;
  /** Marks clients deleted (tombstones keep their ids refused). Returns the ids that existed. */
  deleteClients(ids: number[], now: number): Promise<number[]>;
  /** Marks `id` online; `agentVersion` and `platform` (from the hello) are recorded when given. */
  setClientOnline(id: number, info: { now: number; publicIp: string; machineId: string; agentVersion?: string; platform?: string | null }): Promise<void>;
  /** Marks `id` offline at `now`; a passive client passes when its status stops being "passive" (its check-in overdue), in ms. */
  setClientOffline(id: number, now: number, passiveUntil?: number | null): Promise<void>;
  /** Applies a statistics update; `full` replaces, otherwise merges. */
  updateStats(id: number, stats: Stats | StatsDelta, full: boolean): Promise<void>;
  /**
   * Called at start-up of a single node: nothing is connected yet, so no client is online and no
   * Jump session is live; sessions still open are ended at `now` with end reason `site restarted`.
   */
  markAllOffline(now: number): Promise<void>;
  /**
   * The public addresses jump clients (not deleted) were last seen from, with when (ms since the
   * epoch), for those seen at or after `since`: what the TLS gate knows after a restart.
   */
  recentPublicIps(since: number): Promise<{ ip: string; seenAt: number }[]>;

  // self-update (issue #17, site/updates.ts)
  /** Records an imported build and makes it the one served for its platform (one transaction). */
  putBuild(b: ClientBuild): Promise<void>;
  /** Every imported build, newest first per platform, `served` marking the one served. */
  listBuilds(): Promise<(ClientBuild & { served: boolean })[]>;
  /** The build served for each platform that has one. */
  servedBuilds(): Promise<ClientBuild[]>;
  /** The update state of a live client, or null when it does not exist (or is deleted). */
  clientUpdateState(id: number): Promise<ClientUpdateState | null>;
  /** Notes that `version` was offered to `id` (an update_status for it is then accepted, even after a site restart). */
  setUpdateOffered(id: number, version: string): Promise<void>;
  /** Records a failure (not offered again until cleared), or clears it (null). Returns false when there was no client (or, clearing, no failure). */
  setUpdateFailure(id: number, f: UpdateFailure | null): Promise<boolean>;
  /** Clients per (platform, version), and the failed updates (newest first, at most 1000). */
  updateOverview(): Promise<{ versions: { platform: string | null; version: string | null; clients: number; online: number }[]; failed: (UpdateFailure & { clientId: number; name: string })[] }>;

  // sessions
  /** Records a session start and sets the client's Last Access Date, atomically. */
  createSession(x: { id: string; clientId: number; userId: number; kind: string; startedAt: number }): Promise<void>;
  endSession(id: string, x: { endedAt: number; bytesToClient: number; bytesFromClient: number; endReason: string }): Promise<void>;
  setSessionExit(id: string, exitStatus: number | null): Promise<void>;
  setSessionRecording(id: string, file: string): Promise<void>;
  /** Names the session's SFTP file log (kept next to its terminal recording, not instead of it). */
  setSessionFileLog(id: string, file: string): Promise<void>;
  /**
   * Appends an exec command line to the session; past `maxCommands` one note says the rest were
   * not kept and later ones are dropped.
   */
  addSessionCommand(id: string, command: string, maxCommands: number): Promise<void>;
  getSession(id: string): Promise<SessionRecord | null>;
  /** Sessions in the visible groups (or started by `userId`), newest first. */
  listSessions(q: { visibleGroupIds: number[] | null; userId?: number; clientId?: number; limit: number }): Promise<SessionRecord[]>;

  // audit
  audit(e: AuditEntry): Promise<void>;
  listAudit(limit: number): Promise<AuditEntry[]>;
}
