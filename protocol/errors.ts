/**
 * The one error catalog of the project.
 *
 * Every error that crosses a boundary (agent <-> site, console <-> site, a CLI's exit) carries a
 * stable `code` from this table. Its text is `what [detail] Fix: fix` (formatMessage); the console
 * prints `CODE: text`; the API returns `{ error: { code, message, field? } }` with `status` as the
 * HTTP status.
 *
 * `action` names what the user was doing, as the seeds' error appendix groups its rows
 * ("Deploy a Jump Client from the mass deployment wizard", "Take an action on a Jump Client
 * other than Jump", "Jump"). Rows that come straight from the appendix say so in `seeds`.
 * Translations (es/de/fr) are added per row later; English is authoritative.
 */

/** What the user was doing when the error happened. */
export type ErrorAction =
  | 'enroll'
  | 'connect'
  | 'deploy'
  | 'manage'
  | 'jump'
  | 'login'
  | 'request'
  | 'install'
  | 'update';

interface CatalogRow {
  action: ErrorAction;
  /** HTTP status used when the error is returned by the API. */
  status: number;
  /** What happened, in one or two sentences (the seeds' wording where `seeds` is set). */
  message: string;
  /**
   * What the user does about it: a command where there is one. Printed after the message as
   * `Fix: ...` (issue #14: `CODE: what (field=value). Fix: command`), unless the error's detail
   * already gives a more specific fix.
   */
  fix: string;
  /** The seeds' appendix row this implements, when there is one. */
  seeds?: string;
}

export const ERROR_CATALOG = {
  // Enrollment with an installer key (seeds: "This installer is valid for", mass deployment)
  INSTALLER_KEY_UNKNOWN: {
    action: 'enroll',
    status: 403,
    message: 'The installer key is not known to this site.',
    fix: 'download a new installer from the site (`jump installer create`).',
  },
  INSTALLER_EXPIRED: {
    action: 'enroll',
    status: 403,
    message: 'This installer has expired: a jump client must first start within the period the installer is valid for.',
    fix: 'create a new installer (`jump installer create --valid-for DURATION`).',
  },
  INSTALLER_REVOKED: {
    action: 'enroll',
    status: 403,
    message: 'This installer was revoked on the site.',
    fix: 'create a new installer (`jump installer create`).',
  },
  INSTALLER_USED_UP: {
    action: 'enroll',
    status: 403,
    message: 'This installer has been used the maximum number of times it allows.',
    fix: 'create a new installer (`jump installer create --max-uses N`).',
  },
  INSTALLER_OVERRIDE_FORBIDDEN: {
    action: 'enroll',
    status: 403,
    message: 'The installer does not allow this field to be overridden at install time.',
    fix: 'remove the flag, or create an installer that allows it (`jump installer create --allow-override FIELD`).',
  },
  INSTALLER_NOT_FOUND: {
    action: 'manage',
    status: 404,
    message: 'No installer with this uid exists.',
    fix: 'list them with `jump installer list`.',
  },
  // The Mass Deployment Wizard's Download (`POST /api/v1/installers/:uid/file`, issue #19)
  INSTALLER_KEY_MISMATCH: {
    action: 'deploy',
    status: 403,
    message: 'The KEY_INFO given is not the key of this installer, so its installer file is not built.',
    fix: 'send the KEY_INFO shown when the installer was created; if it is lost, create a new installer (`jump installer create`).',
  },
  INSTALLER_PACKAGE_MISSING: {
    action: 'deploy',
    status: 503,
    message: 'The site has no jump-client package to build this installer file from.',
    fix: 'on the site, run `npm run package` (it writes dist/package/<platform>), or start the site with `jump-site serve --installer-packages DIR` naming the folder that holds the platform folders.',
  },
  INSTALLER_TOOL_MISSING: {
    action: 'deploy',
    status: 503,
    message: 'The site lacks a program it needs to build this installer file.',
    fix: "install it on the site's machine: msibuild and msiinfo come with the Debian package msitools (`apt-get install msitools`).",
  },
  INSTALLER_BUILD_BUSY: {
    action: 'deploy',
    status: 503,
    message: 'The site is building as many installer files as it allows at once.',
    fix: 'try again in a few seconds.',
  },
  DEPLOY_LIMIT_REACHED: {
    action: 'deploy',
    status: 409,
    message: 'The total number of Jump Clients that can be deployed for this site has been reached.',
    fix: 'delete jump clients no longer used (`jump clients delete ID`), or raise the limit (`jump settings set jump-clients.max-total N`).',
    seeds: 'Deploy a Jump Client: total number of deployed Jump Clients reached',
  },
  DEPLOY_ACTIVE_LIMIT_REACHED: {
    action: 'deploy',
    status: 409,
    message: 'The total number of active Jump Clients that can be deployed for this site has been reached.',
    fix: 'deploy it passive (`jump installer create --mode passive`), switch others to passive, or raise the limit (`jump settings set jump-clients.max-active N`).',
    seeds: 'Deploy a Jump Client: total number of deployed active Jump Clients reached',
  },
  ACTIVE_LIMIT_REACHED: {
    action: 'manage',
    status: 409,
    message: 'The number of active Jump Clients has been reached.',
    fix: 'switch another jump client to passive (`jump clients edit ID --passive`), or raise the limit (`jump settings set jump-clients.max-active N`).',
    seeds: 'Switching a Jump Client from passive to active: the number of active Jump Clients was reached',
  },
  // The installer on the endpoint (seeds: "Installation on headless Linux systems"; issue #3)
  INSTALL_AS_ROOT: {
    action: 'install',
    status: 400,
    message: 'Installing as root would run the jump client as root, which is not recommended.',
    fix: 'pass --user <username> to name the user the jump client runs as.',
    seeds: 'Installing the Jump Client as root: warning, --user required',
  },
  INSTALL_USER_UNKNOWN: {
    action: 'install',
    status: 400,
    message: 'The user given with --user does not exist on this machine.',
    fix: 'create the user first (useradd) or name an existing one with --user.',
  },
  INSTALL_USER_NOT_ALLOWED: {
    action: 'install',
    status: 400,
    message: 'The jump client cannot run as this user here.',
    fix: 'name another user with --user.',
  },
  INSTALL_DIR_EXISTS: {
    action: 'install',
    status: 400,
    message: 'The install directory already exists; --install-dir must name a new directory.',
    fix: 'choose another path, or run the uninstall script of the jump client installed there.',
  },
  INSTALL_DIR_UNWRITABLE: {
    action: 'install',
    status: 400,
    message: 'The install directory cannot be created: its parent must exist and be writable.',
    fix: 'choose a location you may write to with --install-dir.',
  },
  INSTALL_DIR_UNSAFE: {
    action: 'install',
    status: 400,
    message: 'A service-mode install must live where only root can write: a directory on the way to it belongs to, or is writable by, another user, who could replace what root runs.',
    fix: 'choose a root-owned location such as /opt/jumpclient with --install-dir.',
  },
  INSTALLER_DAMAGED: {
    action: 'install',
    status: 400,
    message: 'The installer is incomplete or damaged.',
    fix: 'download it again from the site.',
  },
  INSTALL_FAILED: {
    action: 'install',
    status: 500,
    message: 'The install failed and was rolled back; nothing was left behind.',
    fix: 'correct the cause given here and run the installer again.',
  },
  INSTALL_IN_PROGRESS: {
    action: 'install',
    status: 409,
    message: 'Another jump client install is running on this machine (Windows: the EXE exits 1618, as msiexec does).',
    fix: 'wait for it to finish and run the installer again; a lock left by a crashed install is taken over once its process is gone.',
  },
  // Agent connection (DESIGN.md security model)
  SITE_IDENTITY_MISMATCH: {
    action: 'connect',
    status: 502,
    message: 'The site could not prove the identity pinned in this jump client, so the connection was refused.',
    fix: 'check for interception or a wrong site URL; install from an installer of the right site.',
  },
  SITE_BUSY: {
    action: 'connect',
    status: 503,
    message: 'The site is admitting connections at its configured rate.',
    fix: 'none needed: the jump client retries after the given delay.',
  },
  AGENT_AUTH_FAILED: {
    action: 'connect',
    status: 401,
    message: 'The jump client could not prove its identity to the site.',
    fix: 'reinstall the jump client with a new installer.',
  },
  PROTOCOL_VERSION_UNSUPPORTED: {
    action: 'connect',
    status: 426,
    message: 'The jump client speaks a protocol version this site does not support.',
    fix: 'update the jump client.',
  },
  PROTOCOL_INVALID_MESSAGE: {
    action: 'connect',
    status: 400,
    message: 'A message did not match its schema or exceeded its size limit.',
    fix: "use a jump client of this site's version; if it persists, report it with the site log.",
  },
  HANDSHAKE_TIMEOUT: {
    action: 'connect',
    status: 408,
    message: 'The connection handshake did not complete in time.',
    fix: 'check the network between the jump client and the site; the jump client retries by itself.',
  },
  HEARTBEAT_LOST: {
    action: 'connect',
    status: 408,
    message: 'The peer was silent for more than 1.5 heartbeat intervals; the connection was dropped.',
    fix: 'none needed: the jump client reconnects by itself; if it repeats, check the network.',
  },
  JUMP_CLIENT_DELETED: {
    action: 'connect',
    status: 403,
    message: 'This jump client was deleted on the site and may no longer connect.',
    fix: 'reinstall it with a new installer.',
  },
  JUMP_CLIENT_QUARANTINED: {
    action: 'connect',
    status: 409,
    message: 'This jump client is quarantined: its identity was used by two connections at once (a copied key). Sessions and connections are refused.',
    fix: 'an admin releases it (`jump clients release ID`) once the copy is gone, or deletes it.',
  },
  JUMP_CLIENT_CLONED: {
    action: 'connect',
    status: 409,
    message: "This jump client's identity was copied to another machine (a cloned disk or image). The copy told the site and stopped; the original keeps its place.",
    fix: 'on the copy, reinstall the jump client with an installer; for images, install with NOSTART=1 (EXE: --nostart) and capture before the first start (docs/packaging.md, "Golden images").',
  },
  // Actions on jump clients other than Jump (seeds appendix)
  JUMP_CLIENT_NOT_FOUND: {
    action: 'manage',
    status: 404,
    message: 'The jump client does not exist.',
    fix: 'find it with `jump clients --search TEXT`.',
    seeds: 'Take an action on a Jump Client: the Jump Client does not exist',
  },
  JUMP_CLIENT_OFFLINE: {
    action: 'manage',
    status: 409,
    message: 'The jump client is offline.',
    fix: 'on the endpoint, check that the jump client runs (`jump-client status`) and can reach the site.',
    seeds: 'Take an action on a Jump Client: the Jump Client is offline',
  },
  JUMP_CLIENT_UNINSTALLED: {
    action: 'manage',
    status: 409,
    message: 'The specified jump client has been uninstalled.',
    fix: 'install it again, or delete its record (`jump clients delete ID`).',
    seeds: 'Take an action on a Jump Client: the Jump Client was uninstalled',
  },
  JUMP_CLIENT_AMBIGUOUS: {
    action: 'manage',
    status: 409,
    message: 'More than one jump client has this name.',
    fix: 'use its id instead (`jump clients --search NAME` lists them).',
  },
  JUMP_GROUP_NOT_FOUND: {
    action: 'manage',
    status: 404,
    message: 'The jump group does not exist.',
    fix: 'use the name of a shared jump group (`jump groups list`) or user:<username>.',
  },
  JUMP_GROUP_EXISTS: {
    action: 'manage',
    status: 409,
    message: 'A jump group with this name already exists.',
    fix: 'choose another name, or use the existing group.',
  },
  // Jump (seeds appendix: "Jump" rows)
  JUMP_SERVER_BUSY: {
    action: 'jump',
    status: 503,
    message: 'The server is too busy. Please try again later.',
    fix: 'wait a few seconds, then try again.',
    seeds: 'Jump: more than twenty users started sessions at the same time on different Jump Clients',
  },
  JUMP_STARTS_IN_PROGRESS: {
    action: 'jump',
    status: 429,
    message: 'Too many session starts are in progress for you or for this jump client.',
    fix: 'wait for them to finish or time out, then try again.',
  },
  JUMP_INTERNAL_ERROR: {
    action: 'jump',
    status: 500,
    message: 'An internal error occurred while starting the session.',
    fix: 'try again; the site log has the details.',
    seeds: 'Jump: internal error generating the session',
  },
  JUMP_INTERNAL_TIMEOUT: {
    action: 'jump',
    status: 504,
    message: 'An internal operation took too long while starting the session.',
    fix: 'try again; if it repeats, check the load of the site.',
    seeds: 'Jump: an internal operation is taking too long',
  },
  JUMP_ACTIVE_NOT_CONNECTED: {
    action: 'jump',
    status: 409,
    message: 'The active jump client is not connected.',
    fix: 'try again in a few seconds.',
    seeds: 'Jump: the active Jump Client disconnected before the console was told',
  },
  JUMP_CONNECT_TIMEOUT: {
    action: 'jump',
    status: 504,
    message: 'Timed out while trying to connect to the jump client.',
    fix: 'check that it is online (`jump clients show ID`), then try again.',
    seeds: 'Jump: took too long to connect to the Jump Client',
  },
  JUMP_CLIENT_DISABLED: {
    action: 'jump',
    status: 403,
    message: 'The user at the remote machine has disabled this jump client, so sessions may not start now.',
    fix: 'ask that user to enable it again (`jump-client enable`).',
    seeds: 'Jump: the Jump Client was disabled on the remote machine',
  },
  JUMP_VERSION_MISMATCH: {
    action: 'jump',
    status: 409,
    message: 'The jump client is running a different version and will not update now.',
    fix: 'try again when its update completes.',
    seeds: 'Jump: version mismatch',
  },
  JUMP_TICKET_INVALID: {
    action: 'jump',
    status: 403,
    message: 'The jump client refused the session ticket (forged, expired or for another client).',
    fix: 'start the session again; a ticket is short-lived and for one jump client.',
  },
  JUMP_SESSION_NOT_FOUND: {
    action: 'jump',
    status: 404,
    message: 'No such session, or it has already ended.',
    fix: 'list live sessions with `jump sessions`.',
  },
  JUMP_FORWARD_REFUSED: {
    action: 'jump',
    status: 403,
    message: 'The jump client does not allow forwarding to that address: only its own ports are allowed unless its configuration allows its LAN.',
    fix: 'tunnel to a port of the endpoint itself (localhost:PORT).',
  },
  LOCAL_PORT_IN_USE: {
    action: 'jump',
    status: 409,
    message: 'The local port of the tunnel is already in use by another program.',
    fix: 'choose another LOCALPORT, or 0 for a free one.',
  },
  // Console authentication and authorization
  LOGIN_FAILED: {
    action: 'login',
    status: 401,
    message: 'Wrong user name or password.',
    fix: 'check both; an admin can set a new password (`jump-site user passwd NAME`).',
  },
  UNAUTHENTICATED: {
    action: 'request',
    status: 401,
    message: 'The API token is missing, expired or revoked.',
    fix: 'log in again (`jump login`).',
  },
  PERMISSION_DENIED: {
    action: 'request',
    status: 403,
    message: 'Your account does not have permission for this.',
    fix: 'ask an admin for access, or use an account that has it.',
  },
  USER_DISABLED: {
    action: 'login',
    status: 403,
    message: 'This account is disabled.',
    fix: 'ask an admin to enable it again (web console /login, USERS).',
  },
  CSRF_REJECTED: {
    action: 'request',
    status: 403,
    message: 'A state-changing request signed in by the web console cookie came without the console\'s own header or from another site (cross-site request forgery protection).',
    fix: 'use the web console pages of this site; scripts use `Authorization: Bearer <token>` from `POST /api/v1/login` instead of the cookie.',
  },
  LOGIN_THROTTLED: {
    action: 'login',
    status: 429,
    message: 'Too many login attempts.',
    fix: 'wait for the time given in Retry-After, then try again.',
  },
  PASSWORD_CHANGE_REQUIRED: {
    action: 'request',
    status: 403,
    message: 'This account must change its password before doing anything else.',
    fix: 'run `jump passwd`.',
  },
  USER_NOT_FOUND: {
    action: 'manage',
    status: 404,
    message: 'No user with this name exists.',
    fix: 'list users with `jump-site user list --data DIR`.',
  },
  USER_EXISTS: {
    action: 'manage',
    status: 409,
    message: 'A user with this name already exists.',
    fix: 'choose another name.',
  },
  SITE_DATA_NOT_FOUND: {
    action: 'manage',
    status: 404,
    message: 'This directory holds no site store (site.db).',
    fix: 'pass the data dir of the site with --data DIR (the one `jump-site serve` printed).',
  },
  SITE_ADDRESS_IN_USE: {
    action: 'manage',
    status: 500,
    message: 'The site cannot listen on this address: another program uses it, or it is not available here.',
    fix: 'stop that program or pass another --listen HOST:PORT.',
  },
  VALIDATION_FAILED: {
    action: 'request',
    status: 400,
    message: 'A field has an invalid value.',
    fix: 'see --help for the accepted values.',
  },
  NOT_FOUND: {
    action: 'request',
    status: 404,
    message: 'No such API route.',
    fix: 'check the path in docs/api.md; the console and the site may be of different versions.',
  },
  REQUEST_TIMEOUT: {
    action: 'request',
    status: 408,
    message: 'The request was not complete in time (--headers-timeout, --request-timeout of jump-site serve); the site closed the connection.',
    fix: 'send the whole request at once; on a slow link, ask the site admin for a longer --request-timeout.',
  },
  // Self-update of jump clients (issue #17, docs/updates.md)
  UPDATE_FAILED: {
    action: 'update',
    status: 500,
    message: 'The jump client could not update to the offered build and went back to its previous version.',
    fix: 'read the reason in `jump updates status`, fix the build, then `jump updates retry ID`.',
  },
  UPDATE_SIGNATURE_INVALID: {
    action: 'update',
    status: 500,
    message: "The offered build does not match its size, its sha256 or the site's update-signing signature, so the jump client refused it.",
    fix: 're-import the builds (`jump-site builds import DIR`); if it persists, check the data dir for tampering, then `jump updates retry ID`.',
  },
  UPDATE_BUILDS_NOT_FOUND: {
    action: 'update',
    status: 400,
    message: 'The folder holds no jump-client build.',
    fix: 'give the output folder of `npm run package` (it has one sub-folder per platform, e.g. linux-x64/).',
  },
  UPDATE_PLATFORM_UNKNOWN: {
    action: 'update',
    status: 400,
    message: 'The build is for a platform this site does not serve.',
    fix: 'import builds for linux-x64, linux-arm64 or win-x64 only.',
  },

  // Console side
  CONSOLE_NOT_LOGGED_IN: {
    action: 'login',
    status: 401,
    message: 'Not logged in to the site.',
    fix: 'jump login --site https://HOST:PORT',
  },
  SITE_UNREACHABLE: {
    action: 'request',
    status: 503,
    message: 'The site could not be reached.',
    fix: 'check the URL and that `jump-site serve` is running there.',
  },
  SITE_CERT_MISMATCH: {
    action: 'login',
    status: 495,
    message: 'The site presented a TLS certificate other than the one pinned or given: someone may be intercepting the connection, or the site got a new certificate. Nothing was sent.',
    fix: 'compare the fingerprints with the one `jump-site serve` printed; if the change is expected, log in again with --fingerprint and the new one.',
  },
  SITE_CERT_NOT_TRUSTED: {
    action: 'login',
    status: 495,
    message: "The site's certificate was not trusted, so nothing was sent.",
    fix: 'compare its fingerprint with the one `jump-site serve` printed and answer yes, or pass it with --fingerprint SHA256:...',
  },
  INTERNAL_ERROR: {
    action: 'request',
    status: 500,
    message: 'An internal error occurred.',
    fix: 'the site log has the details; report it with them.',
  },
} as const satisfies Record<string, CatalogRow>;

export type ErrorCode = keyof typeof ERROR_CATALOG;

export const ERROR_CODES = Object.keys(ERROR_CATALOG) as ErrorCode[];

/**
 * The codes with which a site refuses an enrollment for good: the installer (unknown, expired,
 * revoked, used up, a forbidden override), the fields asked for (jump group, a bad value) and the
 * site's license limits. The one list for the installer's preflight (a refusal fails the install,
 * agent/install/preflight.ts) and the agent (it stops instead of dialing again, agent/agent.ts).
 */
export const ENROLLMENT_REFUSALS: readonly ErrorCode[] = [
  'INSTALLER_KEY_UNKNOWN',
  'INSTALLER_EXPIRED',
  'INSTALLER_REVOKED',
  'INSTALLER_USED_UP',
  'INSTALLER_OVERRIDE_FORBIDDEN',
  'JUMP_GROUP_NOT_FOUND',
  'VALIDATION_FAILED',
  'DEPLOY_LIMIT_REACHED',
  'DEPLOY_ACTIVE_LIMIT_REACHED',
];

/** True when `s` is a code of the catalog (used to validate codes received from the network). */
export function isErrorCode(s: string): s is ErrorCode {
  return Object.prototype.hasOwnProperty.call(ERROR_CATALOG, s);
}

/**
 * An error with a catalog code. `detail` adds context to the catalog message (e.g. which field
 * and how to fix it); `field` names the offending input field for VALIDATION_FAILED.
 */
export class JumpError extends Error {
  readonly code: ErrorCode;
  readonly detail?: string;
  readonly field?: string;
  /** For SITE_BUSY: how long to wait before retrying, in ms. */
  readonly retryAfterMs?: number;

  constructor(code: ErrorCode, opts: { detail?: string; field?: string; retryAfterMs?: number } = {}) {
    super(formatMessage(code, opts.detail));
    this.name = 'JumpError';
    this.code = code;
    this.detail = opts.detail;
    this.field = opts.field;
    this.retryAfterMs = opts.retryAfterMs;
  }

  get status(): number {
    return ERROR_CATALOG[this.code].status;
  }

  /** The wire shape used by the API and the agent protocol. */
  toJSON(): { code: ErrorCode; message: string; field?: string } {
    return { code: this.code, message: this.message, ...(this.field ? { field: this.field } : {}) };
  }
}

/**
 * The text of an error: the catalog message for `code`, then `detail` when given (context: which
 * field, which value, since when), then `Fix: ` and the catalog fix, unless `detail` carries its
 * own `Fix:`. A VALIDATION_FAILED detail stands alone: it names the field and the fix
 * (`--valid-for: ... Fix: ...`), and the generic "A field has an invalid value." in front of it
 * would only hide which one.
 */
export function formatMessage(code: ErrorCode, detail?: string): string {
  if (code === 'VALIDATION_FAILED' && detail) return detail;
  const row: CatalogRow = ERROR_CATALOG[code];
  const what = detail ? `${row.message} ${detail}` : row.message;
  return /\bFix: /.test(what) ? what : `${what} Fix: ${row.fix}`;
}

/** A VALIDATION_FAILED error naming `field` and how to fix it. */
export function invalidField(field: string, fix: string): JumpError {
  return new JumpError('VALIDATION_FAILED', { field, detail: `${field}: ${fix}` });
}
