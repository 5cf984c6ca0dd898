/**
 * The agent-side fuzzer (docs/reliability.md section 1): every message type an agent may send the
 * site, in the handshake and after it, generated valid, at the boundaries and invalid, plus junk
 * frames (binary, truncated JSON, not UTF-8, past the 64 KiB `maxPayload`), each answered as
 * docs/protocol.md says:
 * - a refused input gets `{ t: "error", code }` and close 4000 (CLOSE.refused) with the code;
 * - a frame past AGENT_MESSAGE_MAX_BYTES is closed 1009, a text frame that is not UTF-8 1007
 *   (RFC 6455 §7.4.1, by the WebSocket layer);
 * - a valid message after the welcome keeps the connection (a heartbeat sent after it is acked).
 *
 * Connections: the handshake phase needs a connection per input (a refusal closes it); the
 * session phase keeps one per lane until an input is refused. Each lane has its own loopback
 * source address (127.0.x.y) and the site runs with a high admission rate, so the fuzz reaches the
 * parsers and not the per-address TLS gate or the admission limiter; each lane keeps under the
 * per-connection message rate (50 a second) with a sliding window.
 */
import { request as httpsRequest } from 'node:https';
import { connect as netConnect } from 'node:net';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import fc from 'fast-check';
import WebSocket from 'ws';
import { channelBinding, newEd25519Key, newNonce, parseSitePin, rawPublicKey, signAsAgent, verifySite } from '../../protocol/handshake.js';
import { AGENT_MESSAGE_MAX_BYTES } from '../../protocol/limits.js';
import { SFTP_OPS, UPDATE_STATUS_CODES } from '../../protocol/messages.js';
import { CLIENT_PLATFORMS } from '../../protocol/update.js';
import { sshPublicKey } from '../../protocol/ssh-keys.js';
import { waitFor } from '../helpers/processes.js';
import { rawAgent, type RawAgent } from '../helpers/raw-agent.js';
import {
  UNSAFE_MULTILINE_CHARS,
  anyJsonText,
  array,
  b64,
  b64urlString,
  badUtf8,
  bool,
  int,
  invalidObject,
  literal,
  notOfType,
  nastyString,
  nullable,
  num,
  numMin,
  object,
  oneOf,
  printable,
  printableString,
  text,
  toJsonText,
  truncated,
  tuple,
  validObject,
  deepNest,
  type Kind,
  type ObjectSpec,
} from './fuzz-gen.js';

const STATS_FIELDS: Record<string, Kind> = {
  hostname: text(255),
  fqdn: text(255),
  os_name: text(128),
  os_version: text(128),
  platform: text(32),
  arch: text(32),
  private_ips: array(text(45), 0, 64),
  console_user: nullable(text(64)),
  domain: nullable(text(255)),
  workgroup: nullable(text(64)),
  cpu_model: text(128),
  cpu_cores: int(0, 4096),
  cpu_load_pct: num(0, 100),
  mem_total_bytes: int(0),
  mem_used_bytes: int(0),
  disk_total_bytes: int(0),
  disk_used_bytes: int(0),
  boot_time: int(0),
  agent_version: text(32),
};
const REQUESTED: ObjectSpec = {
  fields: { name: printable(128, 1), jump_group: printable(69, 1), tag: printable(64), comments: printable(1024, 0, UNSAFE_MULTILINE_CHARS) },
  optional: ['name', 'jump_group', 'tag', 'comments'],
};
const keyInfo: Kind = {
  valid: fc.string({ unit: fc.constantFrom(...'abcdefghijklmnopqrstuvwxyz0123456789'), minLength: 8, maxLength: 128 }),
  invalid: fc.oneof(notOfType('string'), fc.string({ maxLength: 7 }), fc.string({ minLength: 129, maxLength: 200 }), fc.constantFrom('ABCDEFGHIJ', 'abc def ghi', 'abcdefgh\u0000', 'abcdefgé1')),
};
const sid = b64(22);
/** `<semver>[-pre]+<build id>` (protocol/update.ts clientVersionField). */
const clientVersion: Kind = {
  valid: fc
    .tuple(int(0, 9999).valid, int(0, 9999).valid, int(0, 9999).valid, fc.option(fc.stringMatching(/^[0-9A-Za-z.-]{1,12}$/), { nil: undefined }), fc.stringMatching(/^[0-9a-z]{3,12}$/))
    .map(([a, b, c, pre, id]) => `${a}.${b}.${c}${pre ? `-${pre}` : ''}+${id}`)
    .filter((v) => v.length <= 32),
  invalid: fc.oneof(notOfType('string'), fc.constantFrom('latest', '0.1.0', '0.1.0+', '0.1.0+AB', '0.1+abc', '00001.0.0+abc', '0.1.0+abc\n', `0.1.0-${'r'.repeat(12)}+${'a'.repeat(12)}x`), nastyString(40).filter((v) => !/^\d{1,4}\.\d{1,4}\.\d{1,4}(-[0-9A-Za-z.-]{1,12})?\+[0-9a-z]{3,12}$/.test(v) || v.length > 32)),
};

/** Every message type an agent may send (protocol/messages.ts), written out from docs/protocol.md. */
export const AGENT_MESSAGES: Record<string, ObjectSpec> = {
  // The one version spoken today (1) most often; others of 0..1000 are well-formed but unsupported.
  hello: {
    fields: {
      t: literal('hello'),
      protocol: { valid: fc.oneof({ weight: 3, arbitrary: fc.constant(1) }, { weight: 1, arbitrary: int(0, 1000).valid }), invalid: int(0, 1000).invalid },
      agent_version: text(32),
      nonce: b64(43),
      platform: oneOf(CLIENT_PLATFORMS),
    },
    optional: ['platform'],
  },
  enroll: {
    fields: { t: literal('enroll'), key_info: keyInfo, public_key: b64(43), machine_id: printable(128, 1), requested: object(REQUESTED), sig: b64(86) },
  },
  auth: { fields: { t: literal('auth'), client_id: int(1), machine_id: printable(128, 1), sig: b64(86) } },
  hb: { fields: { t: literal('hb'), seq: int(0) } },
  stats: { fields: { t: literal('stats'), full: bool, stats: object({ fields: STATS_FIELDS, optional: Object.keys(STATS_FIELDS) }) } },
  uninstalled: { fields: { t: literal('uninstalled') } },
  session_accepted: { fields: { t: literal('session_accepted'), session_id: sid } },
  session_refused: { fields: { t: literal('session_refused'), session_id: sid, code: oneOf(['JUMP_CLIENT_DISABLED', 'JUMP_TICKET_INVALID', 'JUMP_INTERNAL_ERROR']) } },
  session_ended: { fields: { t: literal('session_ended'), session_id: sid, exit_status: nullable(int(0, 255)) } },
  rec: {
    fields: {
      t: literal('rec'),
      session_id: sid,
      header: object({ fields: { width: int(1, 10_000), height: int(1, 10_000), term: text(64) } }),
      events: array(tuple(numMin(0), oneOf(['o', 'r']), text(48 * 1024)), 0, 256),
    },
    optional: ['header'],
  },
  sftp_log: { fields: { t: literal('sftp_log'), session_id: sid, ops: array(tuple(numMin(0), oneOf(SFTP_OPS), text(4096), nullable(text(4096))), 1, 256) } },
  session_exec: { fields: { t: literal('session_exec'), session_id: sid, command: text(8192), pty: bool } },
  // Self-update (issue #17): the fuzz's agents are never offered an update (no platform), so a valid
  // update_check is answered with nothing and a valid update_status is refused (expectSession).
  update_check: { fields: { t: literal('update_check') } },
  update_status: {
    fields: { t: literal('update_status'), version: clientVersion, state: oneOf(['downloading', 'installing', 'failed']), code: oneOf(UPDATE_STATUS_CODES), reason: text(512) },
    optional: ['code', 'reason'],
  },
};
const HANDSHAKE_TYPES = ['hello', 'enroll', 'auth'];
const SESSION_TYPES = Object.keys(AGENT_MESSAGES).filter((t) => !HANDSHAKE_TYPES.includes(t));

/** A WebSocket frame to send: text, or raw bytes sent as a binary or (not UTF-8) text frame. */
export type Frame = { kind: 'text'; text: string } | { kind: 'bytes'; data: Buffer; binary: boolean };

/** One generated input: a frame, what it is, and whether its message was valid. */
export interface AgentInput {
  label: string;
  frame: Frame;
  /** The message type and validity when the frame is a generated message; null for junk. */
  msg: { t: string; valid: boolean; broke: string | null; value: unknown } | null;
}

function msgInput(t: string, valid: boolean, broke: string | null, value: unknown): AgentInput {
  return { label: `${t}${valid ? '' : ` broken:${broke}`}`, frame: { kind: 'text', text: toJsonText(value) }, msg: { t, valid, broke, value } };
}

/** Valid and invalid messages of type `t`. */
export function messageOf(t: string, validWeight = 1): fc.Arbitrary<AgentInput> {
  const spec = AGENT_MESSAGES[t];
  return fc.oneof(
    { weight: validWeight, arbitrary: validObject(spec).map((v) => msgInput(t, true, null, v)) },
    { weight: 2, arbitrary: invalidObject(spec).map(({ value, broke }) => msgInput(t, false, broke, value)) },
  );
}

/** Frames that are not a message: junk text, random JSON, truncated JSON, binary, not UTF-8, oversized, deep nesting. */
export const junkFrame: fc.Arbitrary<AgentInput> = fc.oneof(
  anyJsonText.map((text) => ({ label: 'random json', frame: { kind: 'text' as const, text }, msg: null })),
  fc.string({ maxLength: 60 }).map((text) => ({ label: 'random text', frame: { kind: 'text' as const, text }, msg: null })),
  truncated(fc.constantFrom(...Object.keys(AGENT_MESSAGES)).chain((t) => validObject(AGENT_MESSAGES[t]).map(toJsonText))).map((text) => ({ label: 'truncated json', frame: { kind: 'text' as const, text }, msg: null })),
  fc.constantFrom('', ' ', 'null', '[]', '{}', '""', '{"t":null}', '{"t":"hb"}', '{"t":"hb","seq":1}{"t":"hb","seq":2}', '{"__proto__":{"t":"hb"},"t":"hb","seq":1,"x":1}', '{"t":"hb","t":"hb","seq":1,"seq":"x"}').map((text) => ({ label: 'fixed junk', frame: { kind: 'text' as const, text }, msg: null })),
  deepNest.map((v) => ({ label: 'deep nesting', frame: { kind: 'text' as const, text: toJsonText(v) }, msg: null })),
  fc.integer({ min: 2_000, max: 40_000 }).map((n) => ({ label: 'deep nesting (unclosed)', frame: { kind: 'text' as const, text: '['.repeat(n) }, msg: null })),
  fc.constantFrom(...Object.keys(AGENT_MESSAGES)).chain((t) => validObject(AGENT_MESSAGES[t])).map((v) => ({ label: 'binary frame', frame: { kind: 'bytes' as const, data: Buffer.from(toJsonText(v)), binary: true }, msg: null })),
  fc.uint8Array({ maxLength: 64 }).map((b) => ({ label: 'binary junk', frame: { kind: 'bytes' as const, data: Buffer.from(b), binary: true }, msg: null })),
  badUtf8.map((data) => ({ label: 'text frame not UTF-8', frame: { kind: 'bytes' as const, data, binary: false }, msg: null })),
  fc.tuple(fc.integer({ min: AGENT_MESSAGE_MAX_BYTES - 40, max: AGENT_MESSAGE_MAX_BYTES + 4096 }), fc.constantFrom('a', 'é', '\u0000')).map(([n, ch]) => {
    const pad = ch.repeat(Math.max(0, Math.ceil((n - 30) / Buffer.byteLength(JSON.stringify(ch).slice(1, -1)))));
    return { label: 'near or past maxPayload', frame: { kind: 'text' as const, text: toJsonText({ t: 'hb', seq: 1, pad }) }, msg: { t: 'hb', valid: false, broke: 'extra:pad', value: null } };
  }),
);

/** What the site must answer to an input: keep going (challenge, welcome, or an acked heartbeat), refuse with one of `codes`, or close with `close`. */
export type Expect = { ok: 'challenge' | 'welcome' | 'open' } | { codes: string[] } | { close: number };

/** Frame-level answers that do not depend on the phase: too big (1009), not UTF-8 (1007), binary. */
function frameExpect(f: Frame): Expect | null {
  if (f.kind === 'bytes') {
    if (!f.binary) return { close: 1007 };
    if (f.data.length > AGENT_MESSAGE_MAX_BYTES) return { close: 1009 };
    return { codes: ['PROTOCOL_INVALID_MESSAGE'] };
  }
  if (Buffer.byteLength(f.text) > AGENT_MESSAGE_MAX_BYTES) return { close: 1009 };
  return null;
}

/** An enrollment whose requested fields are refused is answered VALIDATION_FAILED naming the flag (agent-gateway.ts requestedFieldError). */
function requestedBad(i: AgentInput): boolean {
  return i.msg !== null && i.msg.t === 'enroll' && !i.msg.valid && (i.msg.broke === 'requested' || i.msg.broke === 'missing:requested');
}

/** The answer to the first message of a connection. */
export function expectFirst(i: AgentInput): Expect {
  const f = frameExpect(i.frame);
  if (f) return f;
  if (!i.msg) return { codes: ['PROTOCOL_INVALID_MESSAGE', 'VALIDATION_FAILED'] }; // random JSON may look like an enroll
  if (requestedBad(i)) return { codes: ['VALIDATION_FAILED'] };
  if (i.msg.t === 'hello' && i.msg.valid) return (i.msg.value as { protocol: number }).protocol === 1 ? { ok: 'challenge' } : { codes: ['PROTOCOL_VERSION_UNSUPPORTED'] };
  return { codes: ['PROTOCOL_INVALID_MESSAGE'] };
}

/** The answer to the message after a valid hello. */
export function expectAfterHello(i: AgentInput): Expect {
  const f = frameExpect(i.frame);
  if (f) return f;
  if (!i.msg) return { codes: ['PROTOCOL_INVALID_MESSAGE', 'VALIDATION_FAILED'] };
  if (requestedBad(i)) return { codes: ['VALIDATION_FAILED'] };
  if (!i.msg.valid || i.msg.t === 'hello' || SESSION_TYPES.includes(i.msg.t)) return { codes: ['PROTOCOL_INVALID_MESSAGE'] };
  // A well-formed enroll or auth with a random key and signature: not a key (enroll), or the signature does not verify.
  return i.msg.t === 'enroll' ? { codes: ['PROTOCOL_INVALID_MESSAGE', 'AGENT_AUTH_FAILED'] } : { codes: ['AGENT_AUTH_FAILED'] };
}

/** The answer to a message after the welcome. */
export function expectSession(i: AgentInput): Expect {
  const f = frameExpect(i.frame);
  if (f) return f;
  // update_status from a client the site never offered an update is refused (site/updates.ts).
  if (i.msg && i.msg.valid && SESSION_TYPES.includes(i.msg.t) && i.msg.t !== 'uninstalled' && i.msg.t !== 'update_status') return { ok: 'open' };
  return { codes: ['PROTOCOL_INVALID_MESSAGE'] };
}

/** A real enrollment after a valid hello: a new key, a right signature, the installer's key or an unknown one. */
export interface RealEnroll {
  label: string;
  knownKey: boolean;
  machineId: string;
  requested: Record<string, unknown>;
}
export const realEnroll: fc.Arbitrary<RealEnroll> = fc
  .record({
    knownKey: fc.boolean(),
    machineId: printableString(128, 1),
    requested: validObject({ fields: { name: printable(128, 1), tag: printable(64), comments: printable(1024, 0, UNSAFE_MULTILINE_CHARS) }, optional: ['name', 'tag', 'comments'] }),
  })
  .map((r) => ({ ...r, label: r.knownKey ? 'enroll (real, known key)' : 'enroll (real, unknown key)' }));

/** Inputs of the handshake: the first message of a connection, or the one after a valid hello. */
export type HandshakeCase = { stage: 'first'; input: AgentInput } | { stage: 'afterHello'; input: AgentInput } | { stage: 'real'; enroll: RealEnroll };
export const handshakeCase: fc.Arbitrary<HandshakeCase> = fc.oneof(
  { weight: 4, arbitrary: fc.oneof({ weight: 3, arbitrary: messageOf('hello', 2) }, { weight: 2, arbitrary: fc.constantFrom(...Object.keys(AGENT_MESSAGES)).chain((t) => messageOf(t)) }, { weight: 2, arbitrary: junkFrame }).map((input) => ({ stage: 'first' as const, input })) },
  { weight: 4, arbitrary: fc.oneof({ weight: 4, arbitrary: fc.constantFrom('enroll', 'auth').chain((t) => messageOf(t)) }, { weight: 1, arbitrary: fc.constantFrom(...Object.keys(AGENT_MESSAGES)).chain((t) => messageOf(t)) }, { weight: 2, arbitrary: junkFrame }).map((input) => ({ stage: 'afterHello' as const, input })) },
  { weight: 1, arbitrary: realEnroll.map((enroll) => ({ stage: 'real' as const, enroll })) },
);

/** Inputs after the welcome. */
export const sessionInput: fc.Arbitrary<AgentInput> = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom(...SESSION_TYPES).chain((t) => messageOf(t, t === 'uninstalled' ? 0 : 3)) },
  { weight: 1, arbitrary: fc.constantFrom(...HANDSHAKE_TYPES).chain((t) => messageOf(t)) },
  { weight: 2, arbitrary: junkFrame },
);

/** What came back on a connection. */
interface Seen {
  messages: Record<string, unknown>[];
  close: { code: number; reason: string } | null;
}

/** Resolves when `pred` holds (checked on every event `onEvent` is called for) or rejects after `ms`. */
class Waiter {
  private waiters: (() => void)[] = [];
  wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }
  async until(pred: () => boolean, ms: number, what: string): Promise<void> {
    const deadline = Date.now() + ms;
    while (!pred()) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, Math.min(left, 250));
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }
}

function sendFrame(ws: WebSocket, f: Frame): void {
  if (f.kind === 'text') ws.send(f.text);
  else ws.send(f.data, { binary: f.binary });
}

function describe(i: AgentInput): string {
  const t = i.frame.kind === 'text' ? i.frame.text : `<${i.frame.binary ? 'binary' : 'text'} ${i.frame.data.length} bytes: ${i.frame.data.subarray(0, 40).toString('hex')}>`;
  return `${i.label}: ${t.length > 300 ? `${t.slice(0, 300)}... (${t.length} chars)` : t}`;
}

/** Checks what was seen against `e` once the connection has given its answer; throws naming the input. */
function checkAnswer(e: Expect, seen: Seen, got: 'challenge' | 'welcome' | 'open' | null, what: string): void {
  const errors = seen.messages.filter((m) => m.t === 'error').map((m) => String(m.code));
  const detail = `${what}\n  expected ${JSON.stringify(e)}, got ${got ?? 'no go-ahead'}, errors [${errors.join(', ')}], close ${seen.close ? `${seen.close.code} ${seen.close.reason}` : 'none'}`;
  if (errors.includes('INTERNAL_ERROR') || errors.includes('JUMP_INTERNAL_ERROR')) throw new Error(`internal error for ${detail}`);
  if ('ok' in e) {
    if (got !== e.ok) throw new Error(`refused a valid input: ${detail}`);
    return;
  }
  if (got) throw new Error(`accepted an invalid input: ${detail}`);
  if ('close' in e) {
    if (seen.close?.code !== e.close) throw new Error(`wrong close: ${detail}`);
    return;
  }
  if (seen.close?.code !== 4000 || errors.length !== 1 || !e.codes.includes(errors[0]) || seen.close.reason !== errors[0]) throw new Error(`wrong refusal: ${detail}`);
}

/** The address of the site's agent endpoint. */
function wsUrl(siteUrl: string, path: string): string {
  return siteUrl.replace(/^https/, 'wss') + path;
}

/**
 * One handshake input on a new connection from `localAddress`; checks the answer (throws naming
 * the input when it is wrong).
 */
export async function runHandshakeCase(site: { url: string; pin: string }, keyInfo: string, localAddress: string, c: HandshakeCase): Promise<void> {
  const ws = new WebSocket(wsUrl(site.url, '/agent/v1'), { rejectUnauthorized: false, localAddress, maxPayload: 1 << 20 });
  const seen: Seen = { messages: [], close: null };
  const waiter = new Waiter();
  let cb: Buffer | null = null;
  let opened = false;
  let failure: string | null = null;
  ws.on('upgrade', (res) => (cb = channelBinding(res.socket as TLSSocket)));
  ws.on('open', () => ((opened = true), waiter.wake()));
  ws.on('unexpected-response', (_req, res) => {
    failure = `upgrade answered ${res.statusCode} (retry-after ${String(res.headers['retry-after'])}): the fuzz hit a limiter`;
    ws.terminate();
    waiter.wake();
  });
  ws.on('error', (err) => {
    if (!opened) failure ??= `connection failed: ${err.message}`;
    waiter.wake();
  });
  ws.on('message', (data) => {
    try {
      seen.messages.push(JSON.parse(data.toString()) as Record<string, unknown>);
    } catch {
      seen.messages.push({ t: 'unparsable', data: data.toString() });
    }
    waiter.wake();
  });
  ws.on('close', (code, reason) => {
    seen.close = { code, reason: reason.toString() };
    waiter.wake();
  });
  const what = c.stage === 'real' ? `${c.enroll.label} ${JSON.stringify(c.enroll)}` : `${c.stage}: ${describe(c.input)}`;
  try {
    await waiter.until(() => opened || failure !== null || seen.close !== null, 15_000, `connection for ${what}`);
    if (failure || !opened) throw new Error(`${failure ?? 'closed before open'} (${what})`);
    const agentNonce = newNonce();
    let challenge: Record<string, unknown> | null = null;
    if (c.stage !== 'first') {
      ws.send(JSON.stringify({ t: 'hello', protocol: 1, agent_version: '0.1.0', nonce: agentNonce }));
      await waiter.until(() => seen.messages.length > 0 || seen.close !== null, 15_000, `challenge (${what})`);
      challenge = seen.messages.shift() ?? null;
      if (challenge?.t !== 'challenge') throw new Error(`valid hello not answered with a challenge: ${JSON.stringify(challenge)} (${what})`);
      if (!verifySite(parseSitePin(site.pin), String(challenge.site_sig), cb!, agentNonce, String(challenge.nonce))) throw new Error('challenge signature does not verify');
    }
    let e: Expect;
    if (c.stage === 'real') {
      const key = newEd25519Key();
      const pub = rawPublicKey(key);
      const sig = signAsAgent(key, cb!, agentNonce, String(challenge!.nonce), pub);
      ws.send(JSON.stringify({ t: 'enroll', key_info: c.enroll.knownKey ? keyInfo : 'fuzz0unknown0key0info0000000000000000000000000', public_key: pub, machine_id: c.enroll.machineId, requested: c.enroll.requested, sig }));
      e = c.enroll.knownKey ? { ok: 'welcome' } : { codes: ['INSTALLER_KEY_UNKNOWN'] };
    } else {
      sendFrame(ws, c.input.frame);
      e = c.stage === 'first' ? expectFirst(c.input) : expectAfterHello(c.input);
    }
    const goAhead = () => seen.messages.find((m) => m.t === 'challenge' || m.t === 'welcome');
    await waiter.until(() => seen.close !== null || goAhead() !== undefined, 15_000, `the answer to ${what}`);
    const g = goAhead();
    if (g?.t === 'challenge' && c.stage === 'first') {
      if (!verifySite(parseSitePin(site.pin), String(g.site_sig), cb!, (c.input.msg!.value as { nonce: string }).nonce, String(g.nonce))) throw new Error(`challenge signature does not verify (${what})`);
    }
    checkAnswer(e, seen, g ? (g.t as 'challenge' | 'welcome') : null, what);
  } finally {
    ws.terminate();
  }
}

/**
 * A lane of the session-phase fuzz: one jump client (enrolled once), one connection at a time from
 * `localAddress`, re-authenticated after each refused input; at most 20 of its own messages in
 * any 1.1 s (the site allows 50 a second per connection, the raw agent's heartbeat is 1 a second).
 */
export class SessionLane {
  private agent: RawAgent | null = null;
  private key = newEd25519Key();
  private clientId: number | undefined;
  private sent: number[] = [];
  private seq = 1_000_000_000;
  private seen: Seen = { messages: [], close: null };
  private readonly waiter = new Waiter();

  constructor(
    private readonly inst: { site_url: string; site_pin: string; key_info: string },
    readonly localAddress: string,
    private readonly behaviour: 'ignore' | 'accept-and-attach' = 'ignore',
  ) {}

  get id(): number | undefined {
    return this.clientId;
  }

  /** The live connection's raw agent (connecting first when needed). */
  async connection(): Promise<RawAgent> {
    if (this.agent && this.seen.close === null) return this.agent;
    const a = await rawAgent(this.inst, this.behaviour, { key: this.key, clientId: this.clientId, localAddress: this.localAddress, heartbeatMs: 1000, machineId: `fuzz-lane-${this.localAddress}` });
    this.clientId = a.clientId;
    this.agent = a;
    const seen: Seen = (this.seen = { messages: [], close: null });
    a.ws.on('message', (d) => {
      try {
        seen.messages.push(JSON.parse(d.toString()) as Record<string, unknown>);
      } catch {
        seen.messages.push({ t: 'unparsable' });
      }
      this.waiter.wake();
    });
    void a.closed.then((c) => {
      seen.close = c;
      this.waiter.wake();
    });
    return a;
  }

  private async pace(): Promise<void> {
    const now = Date.now();
    this.sent = this.sent.filter((t) => now - t < 1100);
    if (this.sent.length >= 20) await new Promise((r) => setTimeout(r, 1100 - (now - this.sent[0]) + 5));
    this.sent.push(Date.now());
  }

  /** Sends a message of its own (paced), e.g. a recording batch into a live session. */
  async send(f: Frame): Promise<void> {
    const a = await this.connection();
    await this.pace();
    sendFrame(a.ws, f);
  }

  /** Sends a heartbeat and waits for its ack: everything sent before it was taken without a refusal. */
  async barrier(what: string): Promise<void> {
    const a = await this.connection();
    const seen = this.seen;
    const seq = this.seq++;
    await this.pace();
    a.ws.send(JSON.stringify({ t: 'hb', seq }));
    await this.waiter.until(() => seen.close !== null || seen.messages.some((m) => (m.t === 'hb_ack' && m.seq === seq) || m.t === 'error'), 15_000, `hb_ack after ${what}`);
    checkAnswer({ ok: 'open' }, seen, seen.messages.some((m) => m.t === 'hb_ack' && m.seq === seq) && seen.close === null ? 'open' : null, what);
    seen.messages.length = 0;
  }

  /** One session-phase input; checks the answer (throws naming the input when it is wrong). */
  async run(i: AgentInput): Promise<void> {
    const a = await this.connection();
    const seen = this.seen;
    const e = expectSession(i);
    const what = `session: ${describe(i)}`;
    await this.pace();
    sendFrame(a.ws, i.frame);
    if ('ok' in e) return this.barrier(what);
    // A heartbeat right behind it: the site reads in order, so an ack means the input was taken.
    const seq = this.seq++;
    await this.pace();
    if (a.ws.readyState === WebSocket.OPEN) a.ws.send(JSON.stringify({ t: 'hb', seq }));
    const acked = () => seen.messages.some((m) => m.t === 'hb_ack' && m.seq === seq);
    await this.waiter.until(() => seen.close !== null || acked(), 15_000, `refusal of ${what}`);
    checkAnswer(e, seen, acked() ? 'open' : null, what);
  }

  close(): void {
    this.agent?.close();
  }
}

/**
 * Upgrade requests to the agents' session-socket path (AGENT_SESSION_WS_PATH) and update-download
 * path (AGENT_UPDATE_WS_PATH) with generated attach headers: none names a pending session or an
 * offer's token (the fuzz's agents are never offered an update), so every one is answered 404 before any WebSocket
 * (a request whose headers break HTTP framing may get Node's 400, one past 16 KiB of headers 431).
 */
export interface SessionSocketCase {
  label: string;
  path: string;
  headers: [string, string][];
}
const headerValue = fc.oneof(b64urlString(22), b64urlString(43), sid.invalid.map((v) => (typeof v === 'string' ? v : toJsonText(v))), fc.string({ maxLength: 80 }), fc.constantFrom('', ' ', '%00', 'x'.repeat(9000)));
export const sessionSocketCase: fc.Arbitrary<SessionSocketCase> = fc.record({
  label: fc.constant('session socket upgrade'),
  path: fc.constantFrom('/agent/v1/session', '/agent/v1/session?x=1', '/agent/v1/session/', '/agent/v1//session', '/agent/v1/session#a', '/agent/v1/%73ession', '/agent/v1/update', '/agent/v1/update?x=1', '/agent/v1/%75pdate'),
  headers: fc.array(
    fc.tuple(fc.constantFrom('x-jump-session-id', 'x-jump-session-token', 'X-Jump-Session-Id', 'x-jump-session', 'x-jump-update-token', 'X-Jump-Update-Offset', 'x-jump-update-offset'), fc.oneof(headerValue, fc.constantFrom('0', '1', '99999999999', '-1', '1e3'))),
    { maxLength: 4 },
  ),
});

/** Sends one session-socket upgrade on a new TLS connection and checks the status. */
export async function runSessionSocketCase(site: { port: number }, localAddress: string, c: SessionSocketCase): Promise<number> {
  const clean = c.headers.every(([, v]) => /^[\x21-\x7e]([\x20-\x7e]*[\x21-\x7e])?$/.test(v) || v === '');
  const size = c.headers.reduce((n, [k, v]) => n + k.length + Buffer.byteLength(v) + 4, 0);
  const req =
    `GET ${c.path} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: ${Buffer.alloc(16, 7).toString('base64')}\r\n` +
    c.headers.map(([k, v]) => `${k}: ${v}\r\n`).join('') +
    '\r\n';
  const status = await new Promise<number>((resolve, reject) => {
    const tcp = netConnect({ host: '127.0.0.1', port: site.port, localAddress });
    const s = tlsConnect({ socket: tcp, servername: 'localhost', rejectUnauthorized: false }, () => s.write(Buffer.from(req, 'utf8')));
    tcp.on('error', () => undefined);
    let buf = '';
    const timer = setTimeout(() => (s.destroy(), reject(new Error(`no answer within 10 s to ${JSON.stringify(c)}`))), 10_000);
    s.on('data', (d: Buffer) => {
      buf += d.toString('latin1');
      const m = /^HTTP\/1\.1 (\d{3})/.exec(buf);
      if (m) {
        clearTimeout(timer);
        s.destroy();
        resolve(Number(m[1]));
      }
    });
    s.on('error', () => undefined);
    s.on('close', () => {
      clearTimeout(timer);
      const m = /^HTTP\/1\.1 (\d{3})/.exec(buf);
      if (m) resolve(Number(m[1]));
      else reject(new Error(`closed without an answer: ${JSON.stringify(c).slice(0, 300)}`));
    });
  });
  const allowed = clean && size < 12_000 ? [404] : [400, 404, 431];
  if (!allowed.includes(status)) throw new Error(`session socket upgrade answered ${status}, expected ${allowed.join('|')}: ${JSON.stringify(c).slice(0, 500)}`);
  return status;
}

/** Valid recording-type messages (rec, sftp_log, session_exec) for the live session `sessionId`. */
export function liveRecordingInput(sessionId: string): fc.Arbitrary<AgentInput> {
  return fc
    .constantFrom('rec', 'rec', 'sftp_log', 'session_exec')
    .chain((t) => validObject(AGENT_MESSAGES[t]).map((v) => msgInput(t, true, null, { ...v, session_id: sessionId })))
    .filter((i) => i.frame.kind === 'text' && Buffer.byteLength(i.frame.text) <= AGENT_MESSAGE_MAX_BYTES);
}

/** A GET over HTTPS with a bearer token; resolves with status and body text. */
export function httpsGet(url: string, token: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const r = httpsRequest(url, { method: 'GET', headers: { authorization: `Bearer ${token}` }, rejectUnauthorized: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    r.on('error', reject);
    r.end();
  });
}

/** How many inputs of each part of the agent fuzz to try. */
export interface AgentFuzzRuns {
  handshake: number;
  session: number;
  sessionSocket: number;
  live: number;
}

const LANES = 4;
/**
 * Shrink a failing input to a smallest one (JUMP_FUZZ_SHRINK=1): off by default, since each
 * shrinking step is a real exchange with the site; the failure names the input, the seed and the
 * fast-check path replay it.
 */
export const SHRINK = process.env.JUMP_FUZZ_SHRINK === '1';
const UNPRINTABLE = /[\u0000-\u001f\u007f-\u009f\u200b\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069\ufeff]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/**
 * The whole agent-side fuzz against the harness's site: handshake inputs, session-phase inputs,
 * session-socket upgrades, and recording messages into a live Jump session (whose stored
 * recording, file log and command list must then parse and be printable). fast-check runs each
 * part with `seed`; each run hands one input to each of 4 lanes at once.
 */
export async function fuzzAgentSide(
  h: { site: { url: string; pin: string; port: number; api: { request<T>(m: string, p: string, b?: unknown): Promise<T> } }; inst: { site_url: string; site_pin: string; key_info: string }; count(name: string, n?: number): void },
  token: string,
  seed: number,
  runs: AgentFuzzRuns,
): Promise<void> {
  const { site, inst } = h;
  const opts = (n: number) => ({ seed, numRuns: Math.max(1, Math.ceil(n / LANES)), endOnFailure: !SHRINK });

  await fc.assert(
    fc.asyncProperty(fc.array(handshakeCase, { minLength: LANES, maxLength: LANES }), async (cases) => {
      await Promise.all(cases.map((c, i) => runHandshakeCase(site, inst.key_info, `127.0.1.${i + 1}`, c)));
      h.count('agent handshake', cases.length);
    }),
    opts(runs.handshake),
  );

  const lanes = Array.from({ length: LANES }, (_, i) => new SessionLane(inst, `127.0.2.${i + 1}`));
  try {
    await fc.assert(
      fc.asyncProperty(fc.array(sessionInput, { minLength: LANES, maxLength: LANES }), async (inputs) => {
        await Promise.all(inputs.map((input, i) => lanes[i].run(input)));
        h.count('agent session phase', inputs.length);
      }),
      opts(runs.session),
    );
  } finally {
    for (const l of lanes) l.close();
  }

  await fc.assert(
    fc.asyncProperty(fc.array(sessionSocketCase, { minLength: LANES, maxLength: LANES }), async (cases) => {
      await Promise.all(cases.map((c, i) => runSessionSocketCase(site, `127.0.3.${i + 1}`, c)));
      h.count('session socket upgrade', cases.length);
    }),
    opts(runs.sessionSocket),
  );

  // A live Jump session (kind proxy: terminal recording and SFTP log), its relay attached so it
  // stays live, then valid recording messages of every shape into it.
  const lane = new SessionLane(inst, '127.0.4.1', 'accept-and-attach');
  const relay = { ws: null as WebSocket | null };
  try {
    await lane.connection();
    const started = await site.api.request<{ session_id: string }>('POST', `/api/v1/jump-clients/${lane.id}/sessions`, { public_key: sshPublicKey(newEd25519Key()), kind: 'proxy' });
    const sessionId = started.session_id;
    relay.ws = new WebSocket(wsUrl(site.url, `/api/v1/sessions/${sessionId}/relay`), { rejectUnauthorized: false, headers: { authorization: `Bearer ${token}` } });
    relay.ws.on('error', () => undefined);
    await new Promise<void>((resolve, reject) => {
      relay.ws!.once('open', () => resolve());
      relay.ws!.once('unexpected-response', (_q, r) => reject(new Error(`relay refused: ${r.statusCode}`)));
    });
    let execs = 0;
    let recs = 0;
    let sftp = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(liveRecordingInput(sessionId), { minLength: 1, maxLength: LANES }), async (inputs) => {
        for (const i of inputs) {
          await lane.send(i.frame);
          if (i.msg!.t === 'session_exec') execs++;
          else if (i.msg!.t === 'sftp_log') sftp++;
          else recs++;
        }
        await lane.barrier(`recording batch: ${inputs.map(describe).join(' | ').slice(0, 2000)}`);
        h.count('live session recording', inputs.length);
      }),
      { seed, numRuns: Math.max(1, Math.ceil(runs.live / 2.5)), endOnFailure: !SHRINK },
    );
    // What the site kept: the commands (printable, every one up to the cap of 1000), and files
    // whose every line is JSON.
    const base = site.url;
    await waitFor(
      async () => {
        const r = await httpsGet(`${base}/api/v1/sessions/${sessionId}`, token);
        if (r.status !== 200) throw new Error(`GET session: ${r.status} ${r.body}`);
        const item = (JSON.parse(r.body) as { item: { commands: string[]; recording: boolean; file_log: boolean } }).item;
        if (item.commands.length !== Math.min(execs, 1000)) return null; // still being written
        const bad = item.commands.find((c) => UNPRINTABLE.test(c));
        if (bad !== undefined) throw new Error(`a stored command is not printable: ${JSON.stringify(bad)}`);
        for (const [part, sent] of [['file_log', sftp], ['terminal', recs]] as const) {
          if (sent === 0) continue;
          const f = await httpsGet(`${base}/api/v1/sessions/${sessionId}/recording?part=${part}`, token);
          if (f.status === 404 && part === 'terminal') continue; // no rec with a header came first: nothing is recorded
          if (f.status !== 200) throw new Error(`GET ${part}: ${f.status} ${f.body.slice(0, 300)}`);
          const lines = f.body.split('\n').filter((l) => l !== '');
          for (const l of lines) JSON.parse(l);
        }
        return true;
      },
      20_000,
      200,
      'the live session records written',
    );
  } finally {
    relay.ws?.terminate();
    lane.close();
  }
}
