/**
 * The cryptographic part of the agent handshake (docs/protocol.md, DESIGN.md "Security model").
 *
 * Both sides sign a transcript that contains both fresh nonces and the TLS channel binding
 * (RFC 9266 `tls-exporter`: the RFC 5705 keying-material exporter with label
 * "EXPORTER-Channel-Binding", 32 bytes, TLS 1.3 only). A signature therefore cannot be replayed on
 * another connection nor relayed by a machine in the middle that terminates TLS itself: that is
 * why the agent may accept any TLS certificate and still refuse any site but the pinned one.
 *
 * Keys are Ed25519. A public key travels as 32 raw bytes in base64url; the site pin stamped into
 * installers is `ed25519:<that base64url>`.
 */
import { createPrivateKey, createPublicKey, randomBytes, sign, verify, type KeyObject } from 'node:crypto';
import type { TLSSocket } from 'node:tls';

const SITE_CONTEXT = 'jump-site-handshake-v1';
const AGENT_CONTEXT = 'jump-agent-handshake-v1';
const PIN_PREFIX = 'ed25519:';
/** DER prefix of an Ed25519 SubjectPublicKeyInfo (RFC 8410); the raw 32-byte key follows it. */
const ED25519_SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');
/** PKCS#8 DER of an Ed25519 private key, before its 32-byte seed (RFC 8410 §7). */
const ED25519_PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');

/**
 * A new Ed25519 private key: 32 random bytes imported as the key's seed (RFC 8032 §5.1.5: the
 * private key is 32 random bytes), which is all `generateKeyPairSync('ed25519')` does too.
 *
 * Not `generateKeyPairSync`: in Node 20 a key it made shares a lock with its generator job, and
 * when garbage collection frees that job while the key is being exported as JWK (which the SSH key
 * code does) the process deadlocks for good. Seen with gdb in a fleet simulator process that hung
 * (docs/benchmarks.md); a key imported from DER has no generator job.
 */
export function newEd25519Key(): KeyObject {
  return createPrivateKey({ key: Buffer.concat([ED25519_PKCS8_PREFIX, randomBytes(32)]), format: 'der', type: 'pkcs8' });
}

/** 32 random bytes, base64url. */
export function newNonce(): string {
  return randomBytes(32).toString('base64url');
}

/**
 * The RFC 9266 channel binding of a TLS 1.3 connection: 32 bytes.
 * Throws when the connection is not TLS 1.3 (the exporter is not a safe binding before it).
 */
export function channelBinding(socket: TLSSocket): Buffer {
  if (socket.getProtocol() !== 'TLSv1.3') {
    throw new Error(`channel binding needs TLS 1.3, connection uses ${socket.getProtocol() ?? 'no TLS'}`);
  }
  return socket.exportKeyingMaterial(32, 'EXPORTER-Channel-Binding', Buffer.alloc(0));
}

/** Length-prefixed concatenation, so no two different part lists give the same bytes. */
function transcript(parts: (Buffer | string)[]): Buffer {
  const chunks: Buffer[] = [];
  for (const p of parts) {
    const b = typeof p === 'string' ? Buffer.from(p, 'utf8') : p;
    const len = Buffer.alloc(4);
    len.writeUInt32BE(b.length);
    chunks.push(len, b);
  }
  return Buffer.concat(chunks);
}

function siteTranscript(cb: Buffer, agentNonce: string, siteNonce: string): Buffer {
  return transcript([SITE_CONTEXT, cb, agentNonce, siteNonce]);
}

/** `subject` is the client id for `auth`, or the enrolling public key for `enroll`. */
function agentTranscript(cb: Buffer, agentNonce: string, siteNonce: string, subject: string): Buffer {
  return transcript([AGENT_CONTEXT, cb, siteNonce, agentNonce, subject]);
}

/** The site's proof of its identity key: an Ed25519 signature (base64url). */
export function signAsSite(key: KeyObject, cb: Buffer, agentNonce: string, siteNonce: string): string {
  return sign(null, siteTranscript(cb, agentNonce, siteNonce), key).toString('base64url');
}

export function verifySite(pub: KeyObject, sig: string, cb: Buffer, agentNonce: string, siteNonce: string): boolean {
  return safeVerify(pub, siteTranscript(cb, agentNonce, siteNonce), sig);
}

/** The agent's proof of its own key for `subject` (client id or enrolling public key). */
export function signAsAgent(key: KeyObject, cb: Buffer, agentNonce: string, siteNonce: string, subject: string): string {
  return sign(null, agentTranscript(cb, agentNonce, siteNonce, subject), key).toString('base64url');
}

export function verifyAgent(
  pub: KeyObject,
  sig: string,
  cb: Buffer,
  agentNonce: string,
  siteNonce: string,
  subject: string,
): boolean {
  return safeVerify(pub, agentTranscript(cb, agentNonce, siteNonce, subject), sig);
}

function safeVerify(pub: KeyObject, data: Buffer, sig: string): boolean {
  const s = Buffer.from(sig, 'base64url');
  if (s.length !== 64) return false;
  try {
    return verify(null, data, pub, s);
  } catch {
    return false;
  }
}

/** The raw 32-byte public key of an Ed25519 key, base64url. */
export function rawPublicKey(key: KeyObject): string {
  const pub = key.type === 'private' ? createPublicKey(key) : key;
  const der = pub.export({ format: 'der', type: 'spki' });
  return der.subarray(ED25519_SPKI_PREFIX.length).toString('base64url');
}

/** A KeyObject from a raw 32-byte base64url Ed25519 public key. Throws on a malformed key. */
export function publicKeyFromRaw(raw: string): KeyObject {
  const bytes = Buffer.from(raw, 'base64url');
  if (bytes.length !== 32) throw new Error('an Ed25519 public key is 32 bytes');
  // JWK, not DER: OpenSSL's SPKI decoder took 120 µs per key, the raw OKP import 12 µs (the site
  // imports one per agent reconnect; docs/benchmarks.md, P2).
  return createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: bytes.toString('base64url') }, format: 'jwk' });
}

/** The site pin for a site public key: `ed25519:<base64url raw key>`. */
export function sitePin(key: KeyObject): string {
  return PIN_PREFIX + rawPublicKey(key);
}

/** The public key named by a site pin. Throws `Error` with a readable message on a malformed pin. */
export function parseSitePin(pin: string): KeyObject {
  if (!pin.startsWith(PIN_PREFIX)) throw new Error(`a site pin starts with "${PIN_PREFIX}"`);
  return publicKeyFromRaw(pin.slice(PIN_PREFIX.length));
}

/** Loads an Ed25519 private key from PEM. */
export function privateKeyFromPem(pem: string): KeyObject {
  const key = createPrivateKey(pem);
  if (key.asymmetricKeyType !== 'ed25519') throw new Error('the key is not an Ed25519 key');
  return key;
}
