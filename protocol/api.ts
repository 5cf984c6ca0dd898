/**
 * The JSON rows the site's REST API (`/api/v1/...`) answers, declared once for both ends: the site
 * annotates its row-shaping functions with them (`clientJson`, `summaryJson`, `sessionJson`,
 * `installerJson`, `groupJson`, `userJson`), and the console and the tests read responses as them,
 * so renaming or retyping a field breaks the build rather than a technician's listing.
 *
 * These are the shapes a well-behaved site sends. The console still treats every value as
 * untrusted text when it prints it (console/format.ts `safeText`): a hostile or older site may send
 * anything, and no response is validated against these types at run time.
 *
 * Times are ISO 8601 UTC strings (`2026-11-21T23:00:00.000Z`); byte counts are bytes.
 */
import type { JumpClientMode, JumpClientStatus, OverridableField } from './fields.js';
import type { ErrorCode } from './errors.js';
import type { Stats } from './messages.js';

/** A jump client, as `GET /api/v1/jump-clients` lists it and `jump clients --json` prints it. */
export interface ApiJumpClient {
  id: number;
  /** The custom name, else the reported hostname, else `jump client <id>`. */
  name: string;
  /** The name a person or the installer set; null shows the hostname. */
  custom_name: string | null;
  hostname: string | null;
  public_ip: string | null;
  private_ips: string[];
  jump_method: string;
  comments: string;
  jump_group: string;
  tag: string;
  status: JumpClientStatus;
  mode: JumpClientMode;
  console_user: string | null;
  domain: string | null;
  workgroup: string | null;
  last_connected: string | null;
  last_disconnected: string | null;
  last_access: string | null;
  uninstalled_at: string | null;
  created_at: string | null;
  /** The uid of the installer it enrolled with. */
  installer: string | null;
  /** Another online jump client reports the same machine id (a cloned disk image, most likely). */
  duplicate_machine_id: boolean;
  /** Another installer's jump client that reported this machine id first; an admin decides. */
  duplicate_of: number | null;
  /** The identity was used by two live connections at once: connections and Jumps are refused. */
  quarantined: boolean;
  quarantined_at: string | null;
  quarantine_reason: string | null;
  /**
   * The last time a copy of this jump client on another machine (a cloned disk or image) reported
   * itself and stopped (issue #16 item 5): when, the copy's machine id and address, how many
   * reports; null when none. The jump client itself is not affected.
   */
  clone_report: { at: string; machine_id: string; public_ip: string; count: number } | null;
  /** When it was marked lost (offline past jump-clients.max-offline), and when it will be purged; else null. */
  lost_at: string | null;
  purge_at: string | null;
  /** Its own max-offline (`30d`), or null for the site's jump-clients.max-offline. */
  max_offline: string | null;
  /** The jump client's SSH host key (`ssh-ed25519 <base64>`), for known_hosts. */
  host_key: string;
  /** The version its last hello reported (`0.1.0+3f9a0c1d2e4b`, protocol/update.ts), null before any. */
  version: string | null;
  /** The platform of its packaged build (`linux-x64`...), null for an unpackaged agent. */
  platform: string | null;
  /** Its last failed self-update, kept until `jump updates retry ID` (issue #17); else null. */
  update_failure: ApiUpdateFailure | null;
}

/** A failed self-update of one jump client (issue #17). */
export interface ApiUpdateFailure {
  /** The offered version that failed. */
  version: string;
  /** UPDATE_FAILED or UPDATE_SIGNATURE_INVALID. */
  code: string;
  reason: string;
  at: string;
}

/** A client build the site holds (`GET /api/v1/updates/builds`, `jump-site builds list --json`). */
export interface ApiClientBuild {
  platform: string;
  version: string;
  sha256: string;
  /** Bytes. */
  size: number;
  imported_at: string;
  /** The build offered to this platform's clients. */
  served: boolean;
}

/** `GET /api/v1/updates` (`jump updates status --json`). */
export interface ApiUpdateStatus {
  /** updates.mode: auto or off. */
  mode: string;
  paused: boolean;
  max_concurrent: number | null;
  /** MiB per second, null: no cap. */
  max_bandwidth_mib: number | null;
  health_timeout_ms: number;
  /** The update-signing key agents pin (`ed25519:...`). */
  update_pin: string;
  /** The build served per platform. */
  builds: ApiClientBuild[];
  /** Jump clients (not deleted) per platform and version. */
  versions: { platform: string | null; version: string | null; clients: number; online: number; current: boolean }[];
  /** Updates offered and not yet finished, failed or timed out. */
  in_flight: { client_id: number; version: string; phase: 'offered' | 'downloading' | 'installing'; since: string; bytes_sent: number }[];
  /** Clients whose update failed, not offered again until `jump updates retry ID`. */
  failed: ({ client_id: number; name: string } & ApiUpdateFailure)[];
  /** Since the site started. */
  completed: number;
  bytes_served: number;
}

/** One jump client with its last statistics (`GET /api/v1/jump-clients/:ref`, edits, release). */
export interface ApiJumpClientDetail extends ApiJumpClient {
  stats: Partial<Stats>;
}

/** The seeds' totals line of a listing: "N Jump Items total. N Jump Clients total. N online. ..." */
export interface ApiSummary {
  jump_items: number;
  jump_clients: number;
  online: number;
  offline: number;
  passive: number;
}

/** `GET /api/v1/jump-clients`. */
export interface ApiJumpClientList {
  items: ApiJumpClient[];
  summary: ApiSummary;
  /** With `with_tags=1`: the tags in use per visible jump group and their client counts. */
  tags?: { jump_group: string; tag: string; count: number }[];
}

/** A Jump session's record (the part every session has). */
export interface ApiSession {
  id: string;
  client_id: number;
  /** The jump client's name at the time, or null when it is gone. */
  client: string | null;
  /** The technician, or null when the user is gone. */
  user: string | null;
  /** A session kind (protocol/messages.ts SESSION_KINDS); a string, so older rows still read. */
  kind: string;
  started_at: string | null;
  ended_at: string | null;
  bytes_to_client: number;
  bytes_from_client: number;
  exit_status: number | null;
  end_reason: string | null;
  /** A terminal recording (asciicast v2) exists. */
  recording: boolean;
}

/** A session as `GET /api/v1/sessions[/:id]` answers it: the record plus what was kept of it. */
export interface ApiSessionDetail extends ApiSession {
  /** An SFTP file-operation log exists (a `proxy` session may have both). */
  file_log: boolean;
  /** Every command line the session ran, oldest first. */
  commands: string[];
}

/** An installer (never its key). */
export interface ApiInstaller {
  uid: string;
  name: string | null;
  jump_group: string | null;
  tag: string;
  comments: string;
  mode: JumpClientMode;
  allow_override: OverridableField[];
  created_at: string;
  expires_at: string;
  max_uses: number | null;
  uses: number;
  revoked_at: string | null;
  /** 'VALID', or the error code an enrollment with it would get now (INSTALLER_EXPIRED, ...). */
  state: 'VALID' | ErrorCode;
}

/** `POST /api/v1/installers`: the installer plus what the installer file needs, shown only now. */
export interface ApiInstallerCreated extends ApiInstaller {
  key_info: string;
  site_url: string;
  site_pin: string;
  /** The site's update-signing key (issue #17), stamped into the installer as `update_pin`. */
  update_pin?: string;
}

/** A jump group; `members` (user names) for shared groups where the route lists them. */
export interface ApiJumpGroup {
  id: number;
  /** A shared group's name, or `user:<name>` for a personal group. */
  name: string;
  kind: 'shared' | 'personal';
  members?: string[];
}

/** A user (`/api/v1/me`, `/api/v1/users`, `jump-site user ... --json`). */
export interface ApiUser {
  id: number;
  name: string;
  role: 'admin' | 'technician';
  view_personal_groups: boolean;
  /** Present (true) only while the bootstrap password must still be changed. */
  password_change_required?: true;
  /** Present (true) while an admin has the account disabled. */
  disabled?: true;
  created_at: string;
}

/**
 * `POST /api/v1/jump-clients/:ref/sessions` (201): a Jump session the jump client accepted. The
 * console attaches to `relay_path` and checks the SSH host key against `host_key` (the jump
 * client's identity, an `ssh-ed25519` line).
 */
export interface ApiSessionStarted {
  session_id: string;
  client_id: number;
  /** The jump client's display name. */
  name: string;
  host_key: string;
  relay_path: string;
}

