/**
 * The agent <-> site control protocol: one JSON object per WebSocket text message, `t` names the
 * type. Every message read from the network is parsed with these schemas; anything else closes the
 * connection with PROTOCOL_INVALID_MESSAGE. See docs/protocol.md for the flow.
 *
 * Byte strings travel as base64url without padding.
 */
import { z } from 'zod';
import { agentText, commentsField, isPrintableText, jumpGroupRef, nameField, tagField } from './fields.js';
import { ERROR_CODES, type ErrorCode } from './errors.js';
import { keyInfoField } from './key-info.js';
import { CLIENT_PLATFORMS, MAX_BUILD_BYTES, clientVersionField, sha256Hex } from './update.js';

/** Protocol version spoken by this build. The site accepts versions in [PROTOCOL_MIN, PROTOCOL_VERSION]. */
export const PROTOCOL_VERSION = 1;
export const PROTOCOL_MIN = 1;

/** Path of the agent control WebSocket on the site. */
export const AGENT_WS_PATH = '/agent/v1';

/**
 * WebSocket close codes of the agent connection (4000-4999 are for applications, RFC 6455 §7.4.2;
 * docs/protocol.md). `replaced` and `timeout` are reserved: no longer sent (a second live
 * connection is quarantined, a handshake timeout is a `refused` with HANDSHAKE_TIMEOUT).
 */
export const CLOSE = {
  refused: 4000,
  replaced: 4001,
  timeout: 4002,
  invalid: 4003,
  shutdown: 4004,
  /** The client's settings changed (active/passive): reconnect now for a new welcome. */
  restart: 4005,
} as const;
/** Path of the socket an agent opens for one Jump session's bytes. */
export const AGENT_SESSION_WS_PATH = '/agent/v1/session';
/** Path prefix of the technician's relay socket: `/api/v1/sessions/<id>/relay`. */
export const RELAY_WS_PREFIX = '/api/v1/sessions/';

const b64url = (maxChars: number) =>
  z.string().max(maxChars).regex(/^[A-Za-z0-9_-]*$/, 'base64url');
/** 32 random bytes -> 43 base64url characters. */
const nonce = b64url(43).length(43);
/** An Ed25519 signature: 64 bytes -> 86 characters. */
const signature = b64url(86).length(86);
/** An Ed25519 public key: 32 bytes -> 43 characters. */
const publicKey = b64url(43).length(43);

/**
 * Text an agent reports: length-checked, then cleaned of control characters, bidi overrides and
 * other non-printable characters (protocol/fields.ts `cleanText`, security issue #12 item 1).
 */
const shortText = agentText;
/** An identifier an agent sends (machine id): printable text only, refused otherwise. */
const agentId = z.string().min(1).max(128).refine(isPrintableText, 'must be printable text');

/** Statistics an agent reports (seeds: the Jump interface's statistics pane). Sizes in bytes, times in ms since the epoch. */
export const statsSchema = z.strictObject({
  hostname: shortText(255),
  fqdn: shortText(255),
  os_name: shortText(128),
  os_version: shortText(128),
  platform: shortText(32),
  arch: shortText(32),
  private_ips: z.array(shortText(45)).max(64),
  console_user: shortText(64).nullable(),
  domain: shortText(255).nullable(),
  workgroup: shortText(64).nullable(),
  cpu_model: shortText(128),
  cpu_cores: z.number().int().min(0).max(4096),
  /** Whole-machine CPU load in percent, rounded to 5 points so small jitter is not reported. */
  cpu_load_pct: z.number().min(0).max(100),
  mem_total_bytes: z.number().int().min(0),
  mem_used_bytes: z.number().int().min(0),
  disk_total_bytes: z.number().int().min(0),
  disk_used_bytes: z.number().int().min(0),
  /** Boot time in ms since the epoch; uptime is derived from it, so it does not change every minute. */
  boot_time: z.number().int().min(0),
  agent_version: shortText(32),
});
export type Stats = z.infer<typeof statsSchema>;
export const statsDeltaSchema = statsSchema.partial();
export type StatsDelta = z.infer<typeof statsDeltaSchema>;

/** Fields an installer run may ask for; the site checks them against the installer's allow-override list. */
export const requestedFieldsSchema = z.strictObject({
  name: nameField.optional(),
  jump_group: jumpGroupRef.optional(),
  tag: tagField.optional(),
  comments: commentsField.optional(),
  /**
   * Enroll passive (`--jc-passive`, MSI `jc_passive=1`; issue #18): checks in instead of holding a
   * connection. Never needs the installer's permission: passive is the smaller footprint.
   */
  passive: z.literal(true).optional(),
});
export type RequestedFields = z.infer<typeof requestedFieldsSchema>;

// ---- agent -> site ----

export const helloSchema = z.strictObject({
  t: z.literal('hello'),
  protocol: z.number().int().min(0).max(1000),
  /** `<semver>+<build id>` (protocol/update.ts); older agents sent the bare version. */
  agent_version: shortText(32),
  nonce,
  /** The packaged build's platform (protocol/update.ts); absent for an unpackaged agent, which is never offered an update. */
  platform: z.enum(CLIENT_PLATFORMS).optional(),
});
export const enrollSchema = z.strictObject({
  t: z.literal('enroll'),
  key_info: keyInfoField,
  public_key: publicKey,
  machine_id: agentId,
  requested: requestedFieldsSchema,
  sig: signature,
});
export const authSchema = z.strictObject({
  t: z.literal('auth'),
  client_id: z.number().int().positive(),
  machine_id: agentId,
  sig: signature,
  /**
   * Sent by a copy of an enrolled jump client on another machine (issue #16, item 5;
   * agent/config.ts identityFromConfig): `key_machine_id` is the machine id its key was made on,
   * `machine_id` above this machine's. The site records the report on the jump client and answers
   * JUMP_CLIENT_CLONED; no session starts and the original is not disturbed.
   */
  clone: z.strictObject({ key_machine_id: agentId }).optional(),
});
/**
 * The installer's preflight (issue #14 item 5, issue #16 item 2): "would this enrollment be
 * accepted?", sent instead of `enroll`/`auth` after a verified challenge. The site runs the
 * enrollment's own checks (site/installers.ts `enrollmentCheck` and `installerRefusal`) and answers
 * `check_ok` or the `error` an enrollment would get, then closes; it records nothing and counts no
 * use. No key and no signature: nothing is enrolled, so there is nothing to prove possession of.
 */
export const enrollCheckSchema = z.strictObject({
  t: z.literal('enroll_check'),
  key_info: keyInfoField,
  requested: requestedFieldsSchema,
});
export const heartbeatSchema = z.strictObject({ t: z.literal('hb'), seq: z.number().int().min(0) });
export const statsMessageSchema = z.strictObject({
  t: z.literal('stats'),
  full: z.boolean(),
  stats: statsDeltaSchema,
});

/** What an agent may send before it is authenticated. */
export const agentHandshakeMessage = z.discriminatedUnion('t', [helloSchema, enrollSchema, authSchema, enrollCheckSchema]);
/** A Jump session id: 16 random bytes, base64url. */
export const sessionId = b64url(22).length(22);

export const sessionAcceptedSchema = z.strictObject({ t: z.literal('session_accepted'), session_id: sessionId });
export const sessionRefusedSchema = z.strictObject({
  t: z.literal('session_refused'),
  session_id: sessionId,
  code: z.enum(['JUMP_CLIENT_DISABLED', 'JUMP_TICKET_INVALID', 'JUMP_INTERNAL_ERROR']),
});
export const sessionEndedSchema = z.strictObject({
  t: z.literal('session_ended'),
  session_id: sessionId,
  /** Exit status of the shell or command, when the session ran one. */
  exit_status: z.number().int().min(0).max(255).nullable(),
});
/**
 * A chunk of a shell session's recording (asciicast v2 events, RFC-free format of asciinema):
 * `[seconds since start, "o" | "r", data]`, data base64 (output bytes) or `COLSxROWS` for "r".
 */
export const recordingSchema = z.strictObject({
  t: z.literal('rec'),
  session_id: sessionId,
  header: z.strictObject({ width: z.number().int().min(1).max(10_000), height: z.number().int().min(1).max(10_000), term: agentText(64) }).optional(),
  events: z.array(z.tuple([z.number().min(0), z.enum(['o', 'r']), z.string().max(48 * 1024)])).max(256),
});

/**
 * What an SFTP session did to a file, as the agent read it from the client's SFTP requests.
 * `fsetstat` and `copy-data` name open handles (`handle:<hex>`), not paths; `posix-rename`,
 * `hardlink` and `lsetstat` are OpenSSH's extensions (what OpenSSH's sftp uses for rename, ln);
 * `extended` is any other SSH_FXP_EXTENDED request: its name, and its first string when there is one.
 */
export const SFTP_OPS = [
  'open', 'remove', 'rename', 'mkdir', 'rmdir', 'setstat', 'symlink',
  'fsetstat', 'posix-rename', 'hardlink', 'lsetstat', 'copy-data', 'extended',
] as const;
/**
 * A batch of an SFTP session's file operations (the SFTP "recording"): `[seconds since start, op,
 * path, second path or open mode]`, e.g. `[0.2, "open", "/etc/hosts", "r"]`, `[1.5, "rename", "a", "b"]`.
 * Open modes: `r`, `w`, `rw`, plus `+create`, `+trunc`, `+append`. Paths are cleaned like statistics.
 */
export const sftpLogSchema = z.strictObject({
  t: z.literal('sftp_log'),
  session_id: sessionId,
  ops: z.array(z.tuple([z.number().min(0), z.enum(SFTP_OPS), agentText(4096), agentText(4096).nullable()])).min(1).max(256),
});
export type SftpLog = z.infer<typeof sftpLogSchema>;

/**
 * A command a session ran (SSH `exec`), sent when the agent starts it, with or without a PTY: the
 * site keeps the command lines of every session (`commands` in the API), since a command without a
 * PTY has no terminal recording (security issue #12 item 12). Cleaned like statistics.
 */
export const sessionExecSchema = z.strictObject({
  t: z.literal('session_exec'),
  session_id: sessionId,
  command: agentText(8192),
  pty: z.boolean(),
});
export type SessionExec = z.infer<typeof sessionExecSchema>;

/** The agent is being uninstalled on its machine (DESIGN.md flow step 8); the site keeps the item as "uninstalled". */
export const uninstalledSchema = z.strictObject({ t: z.literal('uninstalled') });
/** Self-update (issue #17): after an `update_later`, the agent asks again whether an update is due. */
export const updateCheckSchema = z.strictObject({ t: z.literal('update_check') });
/** Codes an agent may report in `update_status` (protocol/errors.ts). */
export const UPDATE_STATUS_CODES = ['UPDATE_FAILED', 'UPDATE_SIGNATURE_INVALID'] as const;
/**
 * Self-update progress of the offered `version` (issue #17). `downloading` and `installing` as they
 * start; `failed` with a code and a reason (endpoint text: cleaned like statistics) when the build
 * was refused, the download failed, or the new version did not come online and the old one was
 * restored. Success is not reported: the site sees the new version in the next hello.
 */
export const updateStatusSchema = z.strictObject({
  t: z.literal('update_status'),
  version: clientVersionField,
  state: z.enum(['downloading', 'installing', 'failed']),
  code: z.enum(UPDATE_STATUS_CODES).optional(),
  reason: agentText(512).optional(),
});

/** What an authenticated agent may send. */
export const agentSessionMessage = z.discriminatedUnion('t', [
  heartbeatSchema,
  uninstalledSchema,
  statsMessageSchema,
  sessionAcceptedSchema,
  sessionRefusedSchema,
  sessionEndedSchema,
  recordingSchema,
  sftpLogSchema,
  sessionExecSchema,
  updateCheckSchema,
  updateStatusSchema,
]);

/**
 * How an agent's session socket (`AGENT_SESSION_WS_PATH`) names its session: HTTP headers on the
 * upgrade request carrying the session id and the one-time token of `session_open`. The site
 * checks them before it accepts the upgrade, so an unauthenticated caller never gets to send a
 * WebSocket frame (security issue #12 item 14; before, the first frame carried them, and a stranger
 * could hold a 1 MiB frame buffer per socket for 10 s).
 */
export const SESSION_ATTACH_HEADERS = { sessionId: 'x-jump-session-id', token: 'x-jump-session-token' } as const;
/** The values of SESSION_ATTACH_HEADERS, as the site parses them. */
export const sessionAttachSchema = z.strictObject({ session_id: sessionId, token: b64url(43).length(43) });

/**
 * What a Jump session is for; signed into its ticket and enforced by the agent:
 * - `shell`: a PTY and an interactive shell (recorded);
 * - `exec`: one command per channel, with or without a PTY (a PTY is recorded);
 * - `sftp`: the `sftp` subsystem only;
 * - `tunnel`: direct-tcpip port forwards only;
 * - `proxy`: an OpenSSH client through `jump proxy`: any of the above (every PTY recorded).
 */
export const SESSION_KINDS = ['shell', 'exec', 'sftp', 'proxy', 'tunnel'] as const;
export type SessionKind = (typeof SESSION_KINDS)[number];

/**
 * A session ticket, signed by the site key: who may open SSH into which jump client, with which
 * SSH public key, until when. The agent accepts only this key for this session.
 */
export const ticketSchema = z.strictObject({
  v: z.literal(2),
  /** What the session may do; the agent enforces it (SESSION_KIND_RULES in docs/protocol.md). */
  kind: z.enum(SESSION_KINDS),
  sid: sessionId,
  cid: z.number().int().positive(),
  user: z.string().max(64),
  /** The technician's key, `ssh-ed25519 AAAA...`. */
  key: z.string().max(256),
  /** Issued and expiry times, ms since the epoch (site clock). */
  iat: z.number().int(),
  exp: z.number().int(),
});
export type Ticket = z.infer<typeof ticketSchema>;

// ---- site -> agent ----
//
// Site messages are objects that drop unknown fields (z.object), where agent messages are strict:
// the site is authenticated (its pinned key signed this connection) and may be newer than the
// agent, so a field a newer site adds (as welcome.max_offline_ms and .passive were) must not make
// an older agent refuse the connection and reconnect for ever; the fields it knows are still
// checked. What an agent sends is checked strictly: an endpoint is hostile until proven otherwise.

const errorCode = z.enum(ERROR_CODES as [ErrorCode, ...ErrorCode[]]);

export const challengeSchema = z.object({
  t: z.literal('challenge'),
  protocol: z.number().int(),
  nonce,
  site_sig: signature,
});
export const welcomeSchema = z.object({
  t: z.literal('welcome'),
  client_id: z.number().int().positive(),
  /** Heartbeat interval the agent must use, in ms. */
  heartbeat_ms: z.number().int().min(100).max(3_600_000),
  /** How often the agent checks its statistics for changes, in ms. */
  stats_interval_ms: z.number().int().min(1_000).max(86_400_000),
  /**
   * How long this jump client may go without reaching its site before it uninstalls itself, in ms
   * (its own max-offline, else the site's jump-clients.max-offline; issue #18, agent/offline-clock.ts).
   */
  max_offline_ms: z.number().int().min(1_000).max(3_650 * 86_400_000).optional(),
  /**
   * A passive jump client (issue #18 item 1): it reports its statistics and closes, then checks in
   * again after `check_in_ms` (with jitter). `stay`: a Jump is waiting for it, so it stays connected
   * until it has had no session for a minute.
   */
  passive: z.object({ check_in_ms: z.number().int().min(1_000).max(86_400_000), stay: z.boolean() }).optional(),
  /**
   * The site's update-signing key, `ed25519:<base64url>` (issue #17, protocol/update.ts): an agent
   * with no stamped `update_pin` pins the first one it receives over this authenticated channel.
   */
  update_pin: z.string().regex(/^ed25519:[A-Za-z0-9_-]{43}$/).optional(),
});
export const heartbeatAckSchema = z.object({ t: z.literal('hb_ack'), seq: z.number().int().min(0) });
export const errorMessageSchema = z.object({
  t: z.literal('error'),
  code: errorCode,
  message: z.string().max(2048),
  retry_after_ms: z.number().int().min(0).optional(),
});
/** The answer to `enroll_check`: the enrollment would be accepted now. The site then closes (1000). */
export const checkOkSchema = z.object({ t: z.literal('check_ok') });
/** The site asks the agent to open a Jump session: attach a session socket with `token`. */
export const sessionOpenSchema = z.object({
  t: z.literal('session_open'),
  session_id: sessionId,
  token: b64url(43).length(43),
  /** The ticket as signed: JSON text of `ticketSchema`. */
  ticket: z.string().max(2048),
  ticket_sig: signature,
});
/** The site ends a session (technician gone, idle, or the client deleted). */
export const sessionCloseSchema = z.object({ t: z.literal('session_close'), session_id: sessionId });
/**
 * Self-update (issue #17, protocol/update.ts): the site offers its build for the agent's platform.
 * The agent downloads it on AGENT_UPDATE_WS_PATH with `token`, checks `size`, `sha256` and `sig`
 * against its pinned update key, swaps and restarts; if the new version is not online within
 * `health_timeout_ms` it restores the old one and reports `update_status` failed. An agent sends
 * `update_check` / `update_status` only to a site that sent it `update_offer` or `update_later`
 * (an older site would refuse the unknown message).
 */
export const updateOfferSchema = z.object({
  t: z.literal('update_offer'),
  version: clientVersionField,
  platform: z.enum(CLIENT_PLATFORMS),
  size: z.number().int().min(1).max(MAX_BUILD_BYTES),
  sha256: sha256Hex,
  sig: signature,
  token: b64url(43).length(43),
  health_timeout_ms: z.number().int().min(5_000).max(3_600_000),
});
/**
 * Self-update: an update is due but not now (updates.max-concurrent reached, paused, bandwidth):
 * send `update_check` again after `retry_after_ms` (the site has added jitter).
 */
export const updateLaterSchema = z.object({ t: z.literal('update_later'), retry_after_ms: z.number().int().min(1_000).max(86_400_000) });

export const siteMessage = z.discriminatedUnion('t', [
  challengeSchema,
  welcomeSchema,
  checkOkSchema,
  heartbeatAckSchema,
  errorMessageSchema,
  sessionOpenSchema,
  sessionCloseSchema,
  updateOfferSchema,
  updateLaterSchema,
]);

export type Hello = z.infer<typeof helloSchema>;
export type Enroll = z.infer<typeof enrollSchema>;
export type Auth = z.infer<typeof authSchema>;
export type EnrollCheck = z.infer<typeof enrollCheckSchema>;
export type AgentHandshakeMessage = z.infer<typeof agentHandshakeMessage>;
export type AgentSessionMessage = z.infer<typeof agentSessionMessage>;
export type SiteMessage = z.infer<typeof siteMessage>;
export type Welcome = z.infer<typeof welcomeSchema>;
export type SessionOpen = z.infer<typeof sessionOpenSchema>;
export type UpdateOffer = z.infer<typeof updateOfferSchema>;
export type UpdateStatus = z.infer<typeof updateStatusSchema>;
export type Recording = z.infer<typeof recordingSchema>;

/**
 * Parses one WebSocket message with `schema`. Returns `null` (never throws) when the data is not
 * JSON, not text, or does not match, so callers can answer PROTOCOL_INVALID_MESSAGE.
 */
export function parseMessage<T>(schema: z.ZodType<T>, data: unknown): T | null {
  let text: string;
  if (typeof data === 'string') text = data;
  else if (Buffer.isBuffer(data)) text = data.toString('utf8');
  else return null;
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return null;
  }
  const r = schema.safeParse(json);
  return r.success ? r.data : null;
}

/** Every message an agent sends on its control connection: the handshake, then the session phase. */
export type AgentMessage = AgentHandshakeMessage | AgentSessionMessage;

/**
 * The wire text of a message the site sends an agent. Typed, so a misspelt or missing field is a
 * compile error at the call site, not a PROTOCOL_INVALID_MESSAGE in production.
 */
export function encodeSiteMessage(m: SiteMessage): string {
  return JSON.stringify(m);
}

/** The wire text of a message an agent sends the site (see `encodeSiteMessage`). */
export function encodeAgentMessage(m: AgentMessage): string {
  return JSON.stringify(m);
}
