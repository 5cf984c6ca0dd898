/**
 * The site's identity, kept in its data dir (all key files mode 0600):
 *
 * - `site-identity.key`: the Ed25519 key that agents pin (DESIGN.md "Security model"). Its public
 *   half, as `ed25519:<base64url>`, is the site pin stamped into every installer.
 * - `tls.key` / `tls.crt`: a self-signed ECDSA P-256 certificate made on first start with the
 *   `selfsigned` library, unless `--tls-cert/--tls-key` are given. Consoles pin it (trust on first
 *   use, or by the SHA-256 fingerprint printed at start).
 */
import { X509Certificate, type KeyObject } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import selfsigned from 'selfsigned';
import { newEd25519Key, privateKeyFromPem, sitePin } from '../protocol/handshake.js';

export interface SiteIdentity {
  key: KeyObject;
  pin: string;
  tlsKeyPem: string;
  tlsCertPem: string;
  /** `SHA256:AA:BB:...`, the certificate fingerprint consoles verify. */
  fingerprint: string;
  /** True when this call created the identity (first start). */
  created: boolean;
}

/** Writes `data` to `file` with mode 0600, refusing to overwrite (flag `wx`). */
function writeSecret(file: string, data: string): void {
  writeFileSync(file, data, { mode: 0o600, flag: 'wx' });
}

/** The `SHA256:AA:BB:...` fingerprint of a PEM certificate. */
export function certFingerprint(certPem: string): string {
  return 'SHA256:' + new X509Certificate(certPem).fingerprint256;
}

/**
 * Loads the identity from `dataDir`, creating what is missing. `tls` overrides the self-signed
 * certificate with files the operator gave. `hosts` become the certificate's subject alt names.
 * Throws when a given TLS file cannot be read or parsed.
 */
export async function loadSiteIdentity(
  dataDir: string,
  opts: { tlsCertFile?: string; tlsKeyFile?: string; hosts?: string[] } = {},
): Promise<SiteIdentity> {
  let created = false;
  const keyFile = join(dataDir, 'site-identity.key');
  if (!existsSync(keyFile)) {
    const privateKey = newEd25519Key();
    writeSecret(keyFile, privateKey.export({ format: 'pem', type: 'pkcs8' }).toString());
    created = true;
  }
  const key = privateKeyFromPem(readFileSync(keyFile, 'utf8'));

  let tlsKeyPem: string;
  let tlsCertPem: string;
  if (opts.tlsCertFile && opts.tlsKeyFile) {
    tlsCertPem = readFileSync(opts.tlsCertFile, 'utf8');
    tlsKeyPem = readFileSync(opts.tlsKeyFile, 'utf8');
  } else {
    const certFile = join(dataDir, 'tls.crt');
    const tlsKeyFile = join(dataDir, 'tls.key');
    if (!existsSync(certFile) || !existsSync(tlsKeyFile)) {
      const names = [...new Set(['localhost', hostname(), ...(opts.hosts ?? [])])];
      const notAfter = new Date();
      notAfter.setFullYear(notAfter.getFullYear() + 5);
      const pems = await selfsigned.generate([{ name: 'commonName', value: hostname() }], {
        keyType: 'ec',
        curve: 'P-256',
        algorithm: 'sha256',
        notAfterDate: notAfter,
        extensions: [
          { name: 'basicConstraints', cA: false },
          { name: 'keyUsage', digitalSignature: true, keyEncipherment: true },
          { name: 'extKeyUsage', serverAuth: true },
          {
            name: 'subjectAltName',
            altNames: [
              ...names.filter((n) => !/^[\d.:]+$/.test(n)).map((value) => ({ type: 2 as const, value })),
              { type: 7 as const, ip: '127.0.0.1' },
              { type: 7 as const, ip: '::1' },
              ...names.filter((n) => /^[\d.:]+$/.test(n) && n !== '127.0.0.1' && n !== '::1').map((ip) => ({ type: 7 as const, ip })),
            ],
          },
        ],
      });
      writeSecret(tlsKeyFile, pems.private);
      writeFileSync(certFile, pems.cert, { mode: 0o644, flag: 'wx' });
      created = true;
    }
    tlsCertPem = readFileSync(certFile, 'utf8');
    tlsKeyPem = readFileSync(tlsKeyFile, 'utf8');
  }
  return { key, pin: sitePin(key), tlsKeyPem, tlsCertPem, fingerprint: certFingerprint(tlsCertPem), created };
}
