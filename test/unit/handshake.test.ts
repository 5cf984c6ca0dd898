import { createPublicKey, generateKeyPairSync, sign, verify } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  newEd25519Key,
  newNonce,
  parseSitePin,
  publicKeyFromRaw,
  rawPublicKey,
  signAsAgent,
  signAsSite,
  sitePin,
  verifyAgent,
  verifySite,
} from '../../protocol/handshake.js';
import { opensshPrivateKey } from '../../protocol/ssh-keys.js';

const cb = Buffer.alloc(32, 1);

describe('handshake signatures', () => {
  const site = generateKeyPairSync('ed25519');
  const agent = generateKeyPairSync('ed25519');
  const an = newNonce();
  const sn = newNonce();

  it('verifies the site signature only for the same binding, nonces and key', () => {
    const sig = signAsSite(site.privateKey, cb, an, sn);
    expect(verifySite(site.publicKey, sig, cb, an, sn)).toBe(true);
    expect(verifySite(site.publicKey, sig, Buffer.alloc(32, 2), an, sn)).toBe(false);
    expect(verifySite(site.publicKey, sig, cb, newNonce(), sn)).toBe(false);
    expect(verifySite(generateKeyPairSync('ed25519').publicKey, sig, cb, an, sn)).toBe(false);
  });

  it('does not accept a site signature as an agent signature (separate contexts)', () => {
    const sig = signAsSite(agent.privateKey, cb, an, sn);
    expect(verifyAgent(agent.publicKey, sig, cb, an, sn, '')).toBe(false);
  });

  it('binds the agent signature to its subject (client id)', () => {
    const sig = signAsAgent(agent.privateKey, cb, an, sn, '7');
    expect(verifyAgent(agent.publicKey, sig, cb, an, sn, '7')).toBe(true);
    expect(verifyAgent(agent.publicKey, sig, cb, an, sn, '8')).toBe(false);
  });

  it('rejects malformed signatures without throwing', () => {
    expect(verifyAgent(agent.publicKey, 'AAAA', cb, an, sn, '7')).toBe(false);
  });

  it('round-trips raw public keys and site pins', () => {
    const raw = rawPublicKey(site.privateKey);
    expect(Buffer.from(raw, 'base64url')).toHaveLength(32);
    expect(rawPublicKey(publicKeyFromRaw(raw))).toBe(raw);
    const pin = sitePin(site.publicKey);
    expect(pin).toMatch(/^ed25519:[A-Za-z0-9_-]{43}$/);
    expect(rawPublicKey(parseSitePin(pin))).toBe(raw);
    expect(() => parseSitePin('rsa:abc')).toThrow(/ed25519:/);
    expect(() => parseSitePin('ed25519:abc')).toThrow(/32 bytes/);
  });
});

describe('newEd25519Key', () => {
  it('makes a working Ed25519 key from 32 random bytes, a different one each time', () => {
    const a = newEd25519Key();
    const b = newEd25519Key();
    expect(a.asymmetricKeyType).toBe('ed25519');
    expect(rawPublicKey(a)).not.toBe(rawPublicKey(b));
    const data = Buffer.from('channel binding');
    const sig = sign(null, data, a);
    expect(verify(null, data, createPublicKey(a), sig)).toBe(true);
    expect(verify(null, data, publicKeyFromRaw(rawPublicKey(a)), sig)).toBe(true);
    expect(verify(null, data, createPublicKey(b), sig)).toBe(false);
    // The SSH host key and the JWK export that used to deadlock with generated keys.
    expect(opensshPrivateKey(a, 'test')).toMatch(/^-----BEGIN OPENSSH PRIVATE KEY-----/);
  });
});
