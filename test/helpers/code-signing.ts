/**
 * A throwaway code-signing PKI for the signing tests (issue #16, item 6), made with the openssl
 * command line: a CA, a leaf certificate for code signing (extendedKeyUsage codeSigning) issued by
 * it, and a second, unrelated CA that must not verify what the first one signed. Valid 2 days.
 */
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface TestPki {
  /** The CA certificate (PEM) that verifies `cert`'s signatures. */
  ca: string;
  /** The leaf certificate (PEM) and its unencrypted private key (PEM). */
  cert: string;
  key: string;
  /** Another CA's certificate: verifying with it must fail. */
  otherCa: string;
}

function openssl(args: string[], cwd: string): void {
  execFileSync('openssl', args, { cwd, stdio: 'pipe' });
}

/** Makes the PKI in `dir` (files ca.pem, leaf.pem, leaf.key, other-ca.pem). */
export function makeTestPki(dir: string): TestPki {
  const ca = (name: string, cn: string) =>
    openssl(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.pem`, '-days', '2', '-subj', `/CN=${cn}`,
      '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign'], dir);
  ca('ca', 'Jump Client Test CA');
  ca('other-ca', 'Some Other CA');
  openssl(['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'leaf.key', '-out', 'leaf.csr', '-subj', '/CN=Jump Client Test Signing'], dir);
  writeFileSync(join(dir, 'leaf.ext'), 'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=codeSigning\n');
  openssl(['x509', '-req', '-in', 'leaf.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'leaf.pem', '-days', '2', '-extfile', 'leaf.ext'], dir);
  return { ca: join(dir, 'ca.pem'), cert: join(dir, 'leaf.pem'), key: join(dir, 'leaf.key'), otherCa: join(dir, 'other-ca.pem') };
}
