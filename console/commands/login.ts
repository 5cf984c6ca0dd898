/**
 * The login commands: `jump login` (pins the site's certificate, ssh known_hosts style, then asks
 * for the password), `logout`, `whoami` and `passwd`. Logins are kept by console/config.ts.
 */
import type { Command } from 'commander';
import type { ApiUser } from '../../protocol/api.js';
import { readStdin } from '../../protocol/cli-args.js';
import { JumpError, invalidField } from '../../protocol/errors.js';
import { PASSWORD_RULES } from '../../protocol/passwords.js';
import { out, requestTimeout, site, siteOption } from '../cli.js';
import { ConsoleConfig } from '../config.js';
import { safeText } from '../format.js';
import { SiteClient, certFingerprint, certMismatch, probeCertificate, sameFingerprint } from '../http.js';
import { promptHidden, promptYesNo } from '../prompt.js';

/**
 * Decides which certificate `jump login` pins for `url`, before any password is asked for or sent
 * (issue #12 item 10; the model is ssh's known_hosts). Returns the PEM to pin, or null for a
 * certificate a public authority signed for the host name.
 *  - `--fingerprint` given: the presented certificate must match it (else SITE_CERT_MISMATCH naming
 *    both); it then replaces any earlier pin, as the user's explicit choice.
 *  - a pin stored for this URL and another certificate presented: SITE_CERT_MISMATCH naming the
 *    pinned and the presented fingerprint, like "REMOTE HOST IDENTIFICATION HAS CHANGED"; the pin
 *    is kept. (A site that was trusted through a public authority may change to another
 *    authority-signed certificate; not to a self-signed one.)
 *  - first use of a self-signed certificate: on a terminal (`interactive`, stdin and stderr TTYs)
 *    the fingerprint is shown and the user must answer yes (else SITE_CERT_NOT_TRUSTED); without a
 *    terminal (scripts, --password-stdin) it is trusted on first use with a printed warning, so
 *    scripted logins keep working; scripts that care pass --fingerprint.
 */
async function checkSiteCertificate(
  url: string,
  probe: { authorized: boolean; certPem: string; fingerprint: string },
  given: string | undefined,
  stored: { cert_pem: string | null; fingerprint: string | null } | null,
  interactive: boolean,
): Promise<string | null> {
  const pinned = stored?.cert_pem ? certFingerprint(stored.cert_pem) : stored?.fingerprint ?? null;
  if (given) {
    if (!sameFingerprint(given, probe.fingerprint)) throw certMismatch(url, safeText(given), probe.fingerprint, 'Given with --fingerprint');
    if (pinned && !sameFingerprint(pinned, probe.fingerprint)) {
      process.stderr.write(`Replacing the pinned certificate of ${url} (${pinned}) with the one given: ${probe.fingerprint}\n`);
    }
    return probe.certPem;
  }
  if (pinned && !sameFingerprint(pinned, probe.fingerprint) && (stored?.cert_pem || !probe.authorized)) {
    throw certMismatch(url, pinned, probe.fingerprint);
  }
  if (stored?.cert_pem && pinned && sameFingerprint(pinned, probe.fingerprint)) return stored.cert_pem;
  if (probe.authorized) return null;
  if (interactive && process.stdin.isTTY && process.stderr.isTTY) {
    process.stderr.write(
      `The certificate of ${url} is not signed by a known authority. Its fingerprint is:\n  ${probe.fingerprint}\n` +
        'Compare it with the TLS fingerprint `jump-site serve` printed.\n',
    );
    if (!(await promptYesNo('Trust this certificate and log in (yes/no)? '))) throw new JumpError('SITE_CERT_NOT_TRUSTED', { detail: `(${probe.fingerprint})` });
    return probe.certPem;
  }
  process.stderr.write(
    `Warning: the site's certificate is not signed by a known authority. Trusting it on first use:\n  ${probe.fingerprint}\n` +
      'Compare it with the fingerprint `jump-site serve` printed; pass --fingerprint to check it automatically.\n',
  );
  return probe.certPem;
}

/** `jump login`, `logout`, `whoami`, `passwd`. */
export function registerLoginCommands(program: Command): void {
  program
    .command('login')
    .description('Log in to a site and keep the API token for the next commands (default: the current site and its user, to log in again).')
    .option('--user <name>', 'user name (default: the user of the stored login for the site, else admin)')
    .option('--password-stdin', 'read the password from standard input')
    .option('--fingerprint <sha256>', 'expected TLS certificate fingerprint (SHA256:...) instead of trust on first use')
    .action(async (_o, cmd: Command) => {
      const o = cmd.optsWithGlobals();
      // No --site: the current site (logging in again after a token expired or was revoked).
      const cfg0 = new ConsoleConfig();
      const url = siteOption(cmd) ?? cfg0.current() ?? '';
      if (!url) {
        throw new JumpError('VALIDATION_FAILED', {
          field: '--site',
          detail: '--site: no site given and none logged in to before. Fix: jump login --site https://HOST:PORT (the URL `jump-site serve` printed).',
        });
      }
      o.user ??= cfg0.login(url)?.login.user ?? 'admin';
      const probe = await probeCertificate(url, requestTimeout(cmd));
      const certPem = await checkSiteCertificate(url, probe, o.fingerprint, new ConsoleConfig().pin(url), !o.passwordStdin);
      // Only now, with the certificate checked, is the password asked for; the login request
      // verifies against `certPem` alone, so a certificate swapped since the probe gets nothing.
      const password = o.passwordStdin ? await readStdin() : await promptHidden(`Password for ${o.user}: `);
      const client = new SiteClient(url, { certPem, timeoutMs: requestTimeout(cmd) });
      const r = await client.request<{ token: string; user: ApiUser; expires_at: string }>('POST', '/api/v1/login', {
        user: o.user,
        password,
      });
      new ConsoleConfig().save(url, { user: r.user.name, token: r.token, cert_pem: certPem, fingerprint: probe.fingerprint });
      out({ site: url, user: r.user, expires_at: r.expires_at, fingerprint: probe.fingerprint }, `Logged in to ${url} as ${safeText(r.user.name)} (${safeText(r.user.role)}).`);
    });

  program
    .command('logout')
    .description('End the API session and forget the stored token.')
    .action(async (_o, cmd: Command) => {
      const client = site(cmd);
      await client.request('POST', '/api/v1/logout', {}).catch(() => undefined);
      new ConsoleConfig().remove(client.siteUrl);
      out({ ok: true }, `Logged out of ${client.siteUrl}.`);
    });

  program
    .command('whoami')
    .description('Show the logged-in user and site.')
    .action(async (_o, cmd: Command) => {
      const client = site(cmd);
      const me = await client.request<{ user: ApiUser }>('GET', '/api/v1/me');
      const info = await client.request<{ site_url: string; site_pin: string; tls_fingerprint: string; version: string }>('GET', '/api/v1/site');
      out({ ...me, site: info }, `${safeText(me.user.name)} (${safeText(me.user.role)}) on ${safeText(info.site_url)}, site version ${safeText(info.version)}`);
    });

  program
    .command('passwd')
    .description('Change your password (with --password-stdin: current and new password on two lines).')
    .option('--password-stdin', 'read the current and the new password from standard input, one per line')
    .action(async (o, cmd: Command) => {
      const client = site(cmd);
      let current: string;
      let next: string;
      if (o.passwordStdin) {
        [current, next] = (await readStdin()).split(/\r?\n/);
      } else {
        // The rules before anything is typed; the new password twice, compared before it is sent.
        current = await promptHidden('Current password: ');
        process.stderr.write(`${PASSWORD_RULES}\n`);
        next = await promptHidden('New password: ');
        if ((await promptHidden('Repeat the new password: ')) !== next) {
          throw invalidField('new password', 'the two entries differ; nothing was changed. Run `jump passwd` again.');
        }
      }
      const r = await client.request<{ token?: string }>('POST', '/api/v1/me/password', { current_password: current ?? '', new_password: next ?? '' });
      // The change ends every token of the old password; the site answers a fresh one: keep it.
      const cfg = new ConsoleConfig();
      const found = cfg.login(client.siteUrl);
      if (r.token && found) cfg.save(found.url, { ...found.login, token: r.token });
      out({ ok: true }, r.token ? 'Password changed.' : 'Password changed. Log in again with `jump login`.');
    });
}
