/**
 * Ed25519 keys in OpenSSH's formats, for the Jump sessions that run SSH end to end
 * (RFC 8709 for the wire key; the private key file format is OpenSSH's PROTOCOL.key,
 * "openssh-key-v1", unencrypted). The jump client's SSH host key is its identity key.
 */
import { createPrivateKey, createPublicKey, randomBytes, type KeyObject } from 'node:crypto';

function sshString(b: Buffer | string): Buffer {
  const buf = typeof b === 'string' ? Buffer.from(b) : b;
  const len = Buffer.alloc(4);
  len.writeUInt32BE(buf.length);
  return Buffer.concat([len, buf]);
}

function rawKeys(key: KeyObject): { pub: Buffer; seed: Buffer | null } {
  const jwk = key.export({ format: 'jwk' }) as { crv?: string; x?: string; d?: string };
  if (jwk.crv !== 'Ed25519' || !jwk.x) throw new Error('not an Ed25519 key');
  return { pub: Buffer.from(jwk.x, 'base64url'), seed: jwk.d ? Buffer.from(jwk.d, 'base64url') : null };
}

/** The SSH wire blob of an Ed25519 public key (RFC 8709 §4). */
export function sshPublicKeyBlob(key: KeyObject): Buffer {
  return Buffer.concat([sshString('ssh-ed25519'), sshString(rawKeys(key).pub)]);
}

/** `ssh-ed25519 AAAA...` (an authorized_keys / known_hosts line without host or comment). */
export function sshPublicKey(key: KeyObject): string {
  return `ssh-ed25519 ${sshPublicKeyBlob(key).toString('base64')}`;
}

/** `ssh-ed25519 AAAA...` for a raw 32-byte base64url public key (as the site stores them). */
export function sshPublicKeyFromRaw(raw: string): string {
  const pub = Buffer.from(raw, 'base64url');
  return `ssh-ed25519 ${Buffer.concat([sshString('ssh-ed25519'), sshString(pub)]).toString('base64')}`;
}

/**
 * Parses `ssh-ed25519 AAAA... [comment]` into a KeyObject. Throws `Error` for any other key type
 * or a malformed blob.
 */
export function parseSshPublicKey(line: string): KeyObject {
  const m = /^ssh-ed25519 ([A-Za-z0-9+/=]{60,80})(?:\s.*)?$/.exec(line.trim());
  if (!m) throw new Error('expected an "ssh-ed25519 AAAA..." public key');
  const blob = Buffer.from(m[1], 'base64');
  const typeLen = blob.readUInt32BE(0);
  const type = blob.subarray(4, 4 + typeLen).toString();
  const keyLen = blob.readUInt32BE(4 + typeLen);
  const pub = blob.subarray(8 + typeLen, 8 + typeLen + keyLen);
  if (type !== 'ssh-ed25519' || pub.length !== 32) throw new Error('malformed ssh-ed25519 key');
  return createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: pub.toString('base64url') }, format: 'jwk' });
}

/** An unencrypted OpenSSH private key file (`-----BEGIN OPENSSH PRIVATE KEY-----`) for an Ed25519 key. */
export function opensshPrivateKey(key: KeyObject, comment = ''): string {
  const { pub, seed } = rawKeys(key);
  if (!seed) throw new Error('a private key is needed');
  const check = randomBytes(4);
  let priv = Buffer.concat([
    check,
    check,
    sshString('ssh-ed25519'),
    sshString(pub),
    sshString(Buffer.concat([seed, pub])),
    sshString(comment),
  ]);
  const pad = (8 - (priv.length % 8)) % 8;
  priv = Buffer.concat([priv, Buffer.from(Array.from({ length: pad }, (_, i) => i + 1))]);
  const count = Buffer.alloc(4);
  count.writeUInt32BE(1);
  const body = Buffer.concat([
    Buffer.from('openssh-key-v1\0'),
    sshString('none'),
    sshString('none'),
    sshString(''),
    count,
    sshString(sshPublicKeyBlob(key)),
    sshString(priv),
  ]);
  const lines = body.toString('base64').match(/.{1,70}/g)!;
  return `-----BEGIN OPENSSH PRIVATE KEY-----\n${lines.join('\n')}\n-----END OPENSSH PRIVATE KEY-----\n`;
}

/** Reads the Ed25519 key of an unencrypted OpenSSH private key file. Throws for anything else. */
export function parseOpensshPrivateKey(text: string): KeyObject {
  const b64 = text.replace(/-----(BEGIN|END) OPENSSH PRIVATE KEY-----/g, '').replace(/\s+/g, '');
  const buf = Buffer.from(b64, 'base64');
  const magic = 'openssh-key-v1\0';
  if (buf.subarray(0, magic.length).toString() !== magic) throw new Error('not an OpenSSH private key');
  let off = magic.length;
  const str = () => {
    const len = buf.readUInt32BE(off);
    const v = buf.subarray(off + 4, off + 4 + len);
    off += 4 + len;
    return v;
  };
  if (str().toString() !== 'none') throw new Error('encrypted keys are not supported; use an unencrypted key for jump');
  str();
  str();
  off += 4;
  str();
  const priv = str();
  off = 0;
  const pbuf = priv;
  const pstr = () => {
    const len = pbuf.readUInt32BE(off);
    const v = pbuf.subarray(off + 4, off + 4 + len);
    off += 4 + len;
    return v;
  };
  off = 8;
  if (pstr().toString() !== 'ssh-ed25519') throw new Error('only ssh-ed25519 keys are supported');
  const pub = pstr();
  const both = pstr();
  return createPrivateKey({
    key: { kty: 'OKP', crv: 'Ed25519', x: pub.toString('base64url'), d: both.subarray(0, 32).toString('base64url') },
    format: 'jwk',
  });
}
