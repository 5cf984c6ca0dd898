/**
 * The installer's preflight (issue #14 item 5, issue #16 item 2): before an install is committed,
 * ask the site "would this enrollment be accepted?", so a wrong, expired, revoked or used-up
 * KEY_INFO, a forbidden `--jc-*` override or a jump group the installer may not use fails the
 * install (nothing left behind) instead of the jump client's first start.
 *
 * Over the agent's own channel (docs/protocol.md "Installer preflight"): the same URL and TLS 1.3
 * options as agent/connection.ts, `hello`, then the site's `challenge` is verified against the
 * pinned site key over this connection's channel binding (protocol/handshake.ts); only then is
 * `enroll_check { key_info, requested }` sent. The site answers `check_ok` or the `error` the
 * enrollment would get, records nothing and counts no use (site/agent-gateway.ts).
 *
 * Three outcomes (docs/decisions.md, "the installer asks the site before committing an install", has the why):
 *   accepted  - go on with the install;
 *   refused   - a definitive answer: fail the install with that code. A refusal from the verified
 *               site (DEFINITIVE_REFUSALS), or a site that answered but could not prove the pinned
 *               key (SITE_IDENTITY_MISMATCH: KEY_INFO was not sent);
 *   unchecked - the site could not be asked (down, unreachable, no answer within the timeout, busy,
 *               an older site without `enroll_check`, any other error): warn and install anyway,
 *               since staged and offline installs are normal and the jump client keeps trying.
 */
import type { TLSSocket } from 'node:tls';
import WebSocket from 'ws';
import { ENROLLMENT_REFUSALS, JumpError, isErrorCode, type ErrorCode } from '../../protocol/errors.js';
import { channelBinding, newNonce, parseSitePin, verifySite } from '../../protocol/handshake.js';
import { PROTOCOL_VERSION, encodeAgentMessage, parseMessage, siteMessage, type RequestedFields } from '../../protocol/messages.js';
import type { Stamp } from '../../protocol/stamp.js';
import { VERSION } from '../../protocol/version.js';
import { AGENT_SOCKET_OPTIONS, agentSocketUrl } from '../connection.js';

/** How long the whole preflight may take, retries included, in ms (then: unchecked). */
export const PREFLIGHT_TIMEOUT_MS = 10_000;

/**
 * The site's answers to `enroll_check` that fail the install: the enrollment's own refusals
 * (protocol/errors.ts ENROLLMENT_REFUSALS, shared with the agent). Any other error code from the site (INTERNAL_ERROR, HANDSHAKE_TIMEOUT, an
 * older site's PROTOCOL_INVALID_MESSAGE...) says nothing about the installer: unchecked.
 */
export const DEFINITIVE_REFUSALS: readonly ErrorCode[] = ENROLLMENT_REFUSALS;

/** What the preflight needs from the installer's stamp (protocol/stamp.ts). */
export interface PreflightTarget {
  /** `https://host:port` */
  siteUrl: string;
  /** `ed25519:<base64url>` */
  sitePin: string;
  keyInfo: string;
}

/** How a preflight ended (see the module comment). */
export type PreflightResult =
  | { kind: 'accepted' }
  | { kind: 'refused'; error: JumpError }
  | { kind: 'unchecked'; why: string };

/** One attempt's end; `busy` is retried by `preflight` while the deadline allows. */
type Attempt = PreflightResult | { kind: 'busy'; retryAfterMs: number };

/**
 * Asks the site at `target.siteUrl` whether an enrollment with `target.keyInfo` asking for
 * `requested` would be accepted now. Never throws: every failure is a `PreflightResult`.
 * `timeoutMs` bounds the whole call (default PREFLIGHT_TIMEOUT_MS); a 503 (SITE_BUSY) is retried
 * after its Retry-After when that fits in the time left.
 */
export async function preflight(
  target: PreflightTarget,
  requested: RequestedFields,
  opts: { timeoutMs?: number } = {},
): Promise<PreflightResult> {
  let pinKey;
  try {
    pinKey = parseSitePin(target.sitePin);
  } catch (err) {
    return { kind: 'refused', error: new JumpError('INSTALLER_DAMAGED', { detail: `Its site pin is malformed: ${(err as Error).message}.` }) };
  }
  const totalMs = opts.timeoutMs ?? PREFLIGHT_TIMEOUT_MS;
  const deadline = Date.now() + totalMs;
  for (;;) {
    const r = await attempt(target, pinKey, requested, deadline, totalMs);
    if (r.kind !== 'busy') return r;
    if (Date.now() + r.retryAfterMs >= deadline) return { kind: 'unchecked', why: `the site is busy (SITE_BUSY, retry after ${Math.ceil(r.retryAfterMs / 1000)} s)` };
    await new Promise((res) => setTimeout(res, r.retryAfterMs));
  }
}

function attempt(target: PreflightTarget, pinKey: ReturnType<typeof parseSitePin>, requested: RequestedFields, deadline: number, totalMs: number): Promise<Attempt> {
  const remaining = Math.max(1, deadline - Date.now());
  const agentNonce = newNonce();
  let cb: Buffer | null = null;
  let verified = false;
  return new Promise((resolve) => {
    let ws: WebSocket;
    let done = false;
    const finish = (r: Attempt) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      ws.removeAllListeners();
      ws.on('error', () => undefined); // a late socket error after we are done
      ws.terminate();
      resolve(r);
    };
    const timer = setTimeout(() => finish({ kind: 'unchecked', why: `no answer within ${Math.max(1, Math.round(totalMs / 1000))} s` }), remaining);
    try {
      ws = new WebSocket(agentSocketUrl(target.siteUrl), { ...AGENT_SOCKET_OPTIONS, handshakeTimeout: remaining });
    } catch (err) {
      clearTimeout(timer);
      return resolve({ kind: 'unchecked', why: (err as Error).message });
    }
    ws.on('upgrade', (res: { socket: unknown }) => {
      try {
        cb = channelBinding(res.socket as TLSSocket);
      } catch {
        finish({ kind: 'refused', error: identityError('it does not speak TLS 1.3') });
      }
    });
    ws.on('unexpected-response', (_req, res) => {
      res.resume();
      if (res.statusCode === 503) {
        const ms = Number(res.headers['x-retry-after-ms']);
        const s = Number(res.headers['retry-after']);
        finish({ kind: 'busy', retryAfterMs: Number.isFinite(ms) && ms > 0 ? ms : Number.isFinite(s) && s > 0 ? s * 1000 : 1000 });
      } else finish({ kind: 'unchecked', why: `the site answered HTTP ${res.statusCode ?? '?'}` });
    });
    ws.on('open', () => {
      ws.send(encodeAgentMessage({ t: 'hello', protocol: PROTOCOL_VERSION, agent_version: VERSION, nonce: agentNonce }));
    });
    ws.on('message', (data: WebSocket.RawData, isBinary: boolean) => {
      const msg = isBinary ? null : parseMessage(siteMessage, data);
      if (!msg) return finish({ kind: 'unchecked', why: 'the site sent a message this installer does not understand' });
      if (msg.t === 'error') {
        // Before the site proved the pinned key, an error proves nothing: it cannot fail the install.
        if (!verified) return finish({ kind: 'unchecked', why: `the site answered ${msg.code} before proving its identity` });
        if (isErrorCode(msg.code) && DEFINITIVE_REFUSALS.includes(msg.code)) {
          const e = new JumpError(msg.code);
          e.message = `${msg.message} (the site ${target.siteUrl} refused this installer before anything was installed)`;
          return finish({ kind: 'refused', error: e });
        }
        return finish({ kind: 'unchecked', why: `${msg.code}: ${msg.message}` });
      }
      if (!verified) {
        if (msg.t !== 'challenge' || !cb) return finish({ kind: 'unchecked', why: `the site sent ${msg.t} instead of a challenge` });
        if (!verifySite(pinKey, msg.site_sig, cb, agentNonce, msg.nonce)) {
          return finish({ kind: 'refused', error: identityError('it could not prove the site key pinned in this installer') });
        }
        verified = true;
        // Only now, to the proven site: the installer key.
        ws.send(encodeAgentMessage({ t: 'enroll_check', key_info: target.keyInfo, requested }));
        return;
      }
      if (msg.t === 'check_ok') return finish({ kind: 'accepted' });
      finish({ kind: 'unchecked', why: `the site answered ${msg.t}` });
    });
    ws.on('error', (err: Error) => finish({ kind: 'unchecked', why: err.message }));
    ws.on('close', (code: number) => finish({ kind: 'unchecked', why: `the site closed the connection (${code})` }));
  });
}

function identityError(why: string): JumpError {
  return new JumpError('SITE_IDENTITY_MISMATCH', {
    detail: `The installer asked the site before installing and ${why}; the installer key was not sent and nothing was installed. If the site was re-keyed, use a new installer; if this network intercepts TLS, the jump client cannot connect from here either; to install anyway (e.g. a staged install), add --offline.`,
  });
}

/** The preflight target an installer's stamp names. */
export function stampTarget(stamp: Pick<Stamp, 'site_url' | 'site_pin' | 'key_info'>): PreflightTarget {
  return { siteUrl: stamp.site_url, sitePin: stamp.site_pin, keyInfo: stamp.key_info };
}

/**
 * The install's use of `preflight`: returns when the install may go on, throws the site's
 * JumpError when it must not. With `offline` nothing is dialed and nothing is said. When the site
 * cannot be asked, `warn` gets one line (default: stderr, unless `silent`) and the install goes on.
 * Returns the preflight's result, or null with `offline`.
 */
export async function checkWithSite(
  target: PreflightTarget,
  requested: RequestedFields,
  opts: { offline?: boolean; silent?: boolean; warn?: (line: string) => void; timeoutMs?: number },
): Promise<PreflightResult | null> {
  if (opts.offline) return null;
  const warn = opts.warn ?? ((line: string) => void (opts.silent ? undefined : process.stderr.write(`${line}\n`)));
  const r = await preflight(target, requested, { timeoutMs: opts.timeoutMs });
  if (r.kind === 'refused') throw r.error;
  if (r.kind === 'unchecked') {
    warn(`WARNING: could not check the installer with the site at ${target.siteUrl}: ${r.why}; installing anyway, the jump client will keep trying.`);
  }
  return r;
}
