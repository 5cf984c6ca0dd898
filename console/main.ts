#!/usr/bin/env node
/**
 * `jump`: the technician's console (the Jump interface, on the command line).
 *
 *   jump login --site URL [--user U] [--password-stdin] [--fingerprint SHA256:...]
 *   jump clients [list] [--search TEXT] [--field F ...] [--group G] [--tag T]
 *   jump clients show|edit|delete ...     jump installer create|list|show|revoke ...
 *   jump groups list|create|delete|add-member|remove-member ...
 *
 * Every command takes --json (machine output on stdout) and --site (or JUMP_SITE) to pick a stored
 * login. Exit status: 0 success; 1 an error, printed as `CODE: message` (with --json, as
 * `{"error":{...}}` on stdout); 2 usage.
 */
import { Command, CommanderError, Option } from 'commander';
import { createInterface } from 'node:readline';
import { Writable } from 'node:stream';
import { durationArg, positiveInt, readStdin } from '../protocol/cli-args.js';
import { JumpError } from '../protocol/errors.js';
import { formatDuration } from '../protocol/duration.js';
import { OVERRIDABLE_FIELDS, SEARCH_FIELDS } from '../protocol/fields.js';
import { INSTALLER_VALID_MAX_MS, INSTALLER_VALID_MIN_MS } from '../protocol/limits.js';
import { VERSION } from '../protocol/version.js';
import { ConsoleConfig, normalizeSiteUrl } from './config.js';
import { bytes, clientsTable, detailsTable, jsonSafe, safeLines, safeText, shortTime, summaryLine, type ClientRow, type Summary } from './format.js';
import { SiteClient, certFingerprint, certMismatch, probeCertificate, sameFingerprint } from './http.js';
import { connectSsh, ephemeralKey, identityPublicLine, jumpIdentity, openSession } from './ssh.js';
import { sshConfigFiles } from './ssh-config.js';
import { accessSync, constants, existsSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BIN_PLATFORMS, binFileName, missingPackageFiles, writeBinInstaller, type BinPlatform } from './installer-files/bin-file.js';
import { GENERIC_MSI, SITE_MSI, writeSiteMsi } from './installer-files/msi-file.js';
import { EXE_PAYLOAD, WIN_EXE } from '../protocol/exe-overlay.js';
import { exeFileName, writeExeInstaller } from './installer-files/exe-file.js';
import type { Stamp } from '../protocol/stamp.js';
import shellQuote from 'shell-quote';

const { quote } = shellQuote;

let jsonMode = false;

/**
 * Prints a result: `obj` as JSON with --json, else `text`. Both pass a last guard (`jsonSafe`,
 * `safeLines`), so no control or bidi character from the site reaches the terminal raw; the
 * pieces of `text` that come from the site go through `safeText` where the text is built, so a
 * newline cannot forge a line either.
 */
function out(obj: unknown, text: string | (() => string)): void {
  process.stdout.write((jsonMode ? jsonSafe(JSON.stringify(obj, null, 2)) : safeLines(typeof text === 'function' ? text() : text)) + '\n');
}

/** Prints an error (its message may be the site's own text: escaped) and exits 1. */
function fail(err: unknown): never {
  const e = err instanceof JumpError ? err : new JumpError('INTERNAL_ERROR', { detail: (err as Error)?.message });
  if (jsonMode) process.stdout.write(jsonSafe(JSON.stringify({ error: e.toJSON() })) + '\n');
  else process.stderr.write(`${e.code}: ${safeText(e.message)}\n`);
  process.exit(1);
}

/** Asks for a line on the terminal without echoing it. */
function promptHidden(question: string): Promise<string> {
  if (!process.stdin.isTTY) {
    throw new JumpError('VALIDATION_FAILED', { field: '--password-stdin', detail: 'No terminal to ask on: pass the password with --password-stdin.' });
  }
  process.stderr.write(question);
  const muted = new Writable({ write: (_c, _e, cb) => cb() });
  const rl = createInterface({ input: process.stdin, output: muted, terminal: true });
  return new Promise((resolve) =>
    rl.question('', (answer) => {
      rl.close();
      process.stderr.write('\n');
      resolve(answer);
    }),
  );
}

/** Asks a yes/no question on the terminal (stdin/stderr); true only for "yes" or "y". */
function promptYesNo(question: string): Promise<boolean> {
  const rl = createInterface({ input: process.stdin, output: process.stderr, terminal: true });
  return new Promise((resolve) =>
    rl.question(question, (answer) => {
      rl.close();
      resolve(/^\s*y(es)?\s*$/i.test(answer));
    }),
  );
}

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

/** The API client for the chosen site's stored login. Throws CONSOLE_NOT_LOGGED_IN. */
function site(cmd: Command): SiteClient {
  const opts = cmd.optsWithGlobals() as { site?: string };
  const cfg = new ConsoleConfig();
  const found = cfg.login(opts.site ?? process.env.JUMP_SITE);
  if (!found) throw new JumpError('CONSOLE_NOT_LOGGED_IN');
  return new SiteClient(found.url, { certPem: found.login.cert_pem, token: found.login.token });
}

function collect(value: string, prev: string[] = []): string[] {
  return prev.concat(value.split(',').map((s) => s.trim()).filter(Boolean));
}

const program = new Command('jump')
  .description('The Jump interface on the command line: jump clients, installers, jump groups.')
  .version(VERSION)
  .option('--site <url>', 'site to use (default: the last one logged in to, or $JUMP_SITE)')
  .showHelpAfterError()
  .exitOverride()
  .hook('preAction', (_program, action) => {
    jsonMode = Boolean(action.optsWithGlobals().json);
  });

// ---- login ----
program
  .command('login')
  .description('Log in to a site and keep the API token for the next commands.')
  .option('--user <name>', 'user name', 'admin')
  .option('--password-stdin', 'read the password from standard input')
  .option('--fingerprint <sha256>', 'expected TLS certificate fingerprint (SHA256:...) instead of trust on first use')
  .action(async (_o, cmd: Command) => {
    const o = cmd.optsWithGlobals();
    const url = normalizeSiteUrl(o.site ?? process.env.JUMP_SITE ?? '');
    if (!url) throw new JumpError('VALIDATION_FAILED', { field: '--site', detail: 'Give the site URL with --site https://HOST:PORT, as `jump-site serve` printed it.' });
    const probe = await probeCertificate(url);
    const certPem = await checkSiteCertificate(url, probe, o.fingerprint, new ConsoleConfig().pin(url), !o.passwordStdin);
    // Only now, with the certificate checked, is the password asked for; the login request
    // verifies against `certPem` alone, so a certificate swapped since the probe gets nothing.
    const password = o.passwordStdin ? await readStdin() : await promptHidden(`Password for ${o.user}: `);
    const client = new SiteClient(url, { certPem });
    const r = await client.request<{ token: string; user: { name: string; role: string }; expires_at: string }>('POST', '/api/v1/login', {
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
    const me = await client.request<{ user: { name: string; role: string } }>('GET', '/api/v1/me');
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
      current = await promptHidden('Current password: ');
      next = await promptHidden('New password: ');
    }
    const r = await client.request<{ token?: string }>('POST', '/api/v1/me/password', { current_password: current ?? '', new_password: next ?? '' });
    // The change ends every token of the old password; the site answers a fresh one: keep it.
    const cfg = new ConsoleConfig();
    const found = cfg.login(client.siteUrl);
    if (r.token && found) cfg.save(found.url, { ...found.login, token: r.token });
    out({ ok: true }, r.token ? 'Password changed.' : 'Password changed. Log in again with `jump login`.');
  });

// ---- jump clients ----
const clients = program.command('clients').description('List, search, show, edit and delete jump clients.');

clients
  .command('list', { isDefault: true })
  .description('List jump clients, grouped by jump group and tag.')
  .option('--search <text>', 'text to find (case-insensitive substring)')
  .addOption(new Option('--field <field...>', `fields to search: ${SEARCH_FIELDS.join(', ')} (default: all)`).argParser(collect))
  .option('--group <group>', 'only this jump group (a shared group or user:<name>)')
  .option('--tag <tag>', 'only this tag')
  .action(async (o, cmd: Command) => {
    const fields = (o.field as string[] | undefined) ?? [];
    for (const f of fields) {
      if (!(SEARCH_FIELDS as readonly string[]).includes(f)) {
        throw new JumpError('VALIDATION_FAILED', { field: '--field', detail: `Unknown field "${f}"; use ${SEARCH_FIELDS.join(', ')}.` });
      }
    }
    const q = new URLSearchParams();
    if (o.search) q.set('search', o.search);
    if (fields.length) q.set('fields', fields.join(','));
    if (o.group) q.set('group', o.group);
    if (o.tag !== undefined) q.set('tag', o.tag);
    const r = await site(cmd).request<{ items: ClientRow[]; summary: Summary }>('GET', `/api/v1/jump-clients?${q}`);
    out(r, () => {
      const dups = r.items.filter((c) => c.duplicate_machine_id).length;
      const note = dups ? `\n${dups} online jump clients share a machine id with another one (a cloned disk image?).` : '';
      return `${clientsTable(r.items)}\n${summaryLine(r.summary)}${note}`;
    });
  });

async function resolveClient(client: SiteClient, ref: string): Promise<ClientRow & { stats: Record<string, unknown> }> {
  const r = await client.request<{ item: ClientRow & { stats: Record<string, unknown> } }>('GET', `/api/v1/jump-clients/${encodeURIComponent(ref)}`);
  return r.item;
}

clients
  .command('show <id|name>')
  .description('Show one jump client with all its statistics.')
  .action(async (ref: string, _o, cmd: Command) => {
    const c = await resolveClient(site(cmd), ref);
    const s = c.stats as Record<string, unknown>;
    const bootTime = typeof s.boot_time === 'number' ? s.boot_time : null;
    out({ item: c }, () =>
      detailsTable([
        ['ID', c.id],
        ['Name', c.name],
        ['Status', c.status + (c.duplicate_machine_id ? ' (another online jump client has the same machine id)' : '')],
        ['Mode', c.mode],
        ['Jump Group', c.jump_group],
        ['Tag', c.tag],
        ['Comments', c.comments],
        ['Jump Method', c.jump_method],
        ['Hostname', c.hostname],
        ['FQDN', s.fqdn],
        ['Public IP', c.public_ip],
        ['Private IP', c.private_ips],
        ['Console User', c.console_user],
        ['Domain', c.domain],
        ['Workgroup', c.workgroup],
        ['Operating System', [s.os_name, s.os_version].filter(Boolean).join(' ')],
        ['Platform', [s.platform, s.arch].filter(Boolean).join(' ')],
        ['CPU', s.cpu_model ? `${s.cpu_model} (${s.cpu_cores} cores), load ${s.cpu_load_pct}%` : ''],
        ['Memory', s.mem_total_bytes ? `${bytes(s.mem_used_bytes)} of ${bytes(s.mem_total_bytes)} used` : ''],
        ['Disk', s.disk_total_bytes ? `${bytes(s.disk_used_bytes)} of ${bytes(s.disk_total_bytes)} used` : ''],
        ['Up Since', bootTime ? shortTime(new Date(bootTime).toISOString()) : ''],
        ['Agent Version', s.agent_version],
        ['Last Connected', shortTime(c.last_connected)],
        ['Last Disconnected', shortTime(c.last_disconnected as string | null)],
        ['Last Access', shortTime(c.last_access as string | null)],
        ['Installer', c.installer],
        ['Created', shortTime(c.created_at as string | null)],
      ]),
    );
  });

clients
  .command('edit <id|name...>')
  .description('Edit jump clients (seeds: Properties). An empty --tag returns them to the group top level.')
  .option('--name <name>', 'jump item name, at most 128 characters ("" shows the hostname again)')
  .option('--jump-group <group>', 'move to this jump group (a shared group or user:<name>)')
  .option('--tag <tag>', 'tag, at most 64 characters ("" for none)')
  .option('--comments <text>', 'comments, at most 1024 characters')
  .action(async (refs: string[], o, cmd: Command) => {
    const body: Record<string, string> = {};
    if (o.name !== undefined) body.name = o.name;
    if (o.jumpGroup !== undefined) body.jump_group = o.jumpGroup;
    if (o.tag !== undefined) body.tag = o.tag;
    if (o.comments !== undefined) body.comments = o.comments;
    if (Object.keys(body).length === 0) {
      throw new JumpError('VALIDATION_FAILED', { field: 'options', detail: 'Give at least one of --name, --jump-group, --tag, --comments.' });
    }
    const client = site(cmd);
    // Resolve every reference first, so an unknown one changes nothing.
    const targets = [];
    for (const ref of refs) targets.push(await resolveClient(client, ref));
    const items = [];
    for (const t of targets) items.push((await client.request<{ item: ClientRow }>('PATCH', `/api/v1/jump-clients/${t.id}`, body)).item);
    out({ items }, items.map((c) => `Updated jump client ${safeText(c.id)} (${safeText(c.name)}).`).join('\n'));
  });

clients
  .command('delete <id|name...>')
  .description('Delete jump clients: they are revoked, disconnected and removed from the Jump interface.')
  .action(async (refs: string[], _o, cmd: Command) => {
    const client = site(cmd);
    const ids: number[] = [];
    for (const ref of refs) ids.push((await resolveClient(client, ref)).id);
    const r = await client.request<{ deleted: number[] }>('POST', '/api/v1/jump-clients/delete', { ids });
    out(r, `Deleted ${r.deleted.length} jump client${r.deleted.length === 1 ? '' : 's'}: ${r.deleted.map(safeText).join(', ')}.`);
  });

// ---- installers ----
const installer = program.command('installer').description('Mass-deployment installers (KEY_INFO).');

interface InstallerRow {
  uid: string;
  name: string | null;
  jump_group: string | null;
  tag: string;
  comments: string;
  mode: string;
  allow_override: string[];
  created_at: string;
  expires_at: string;
  max_uses: number | null;
  uses: number;
  revoked_at: string | null;
  state: string;
  key_info?: string;
  site_url?: string;
  site_pin?: string;
}

/** The settings stamped into an installer file, from the create response (which has the key). */
function stampOf(r: InstallerRow): Stamp {
  return {
    format: 1,
    uid: r.uid,
    site_url: r.site_url!,
    site_pin: r.site_pin!,
    key_info: r.key_info!,
    expires_at: r.expires_at,
    defaults: { name: r.name, jump_group: r.jump_group, tag: r.tag, comments: r.comments },
    allow_override: r.allow_override as Stamp['allow_override'],
  };
}

const installerDetails = (i: InstallerRow) =>
  detailsTable([
    ['Installer uid', i.uid],
    ...(i.key_info ? ([['KEY_INFO', i.key_info]] as [string, unknown][]) : []),
    ...(i.site_url ? ([['Site URL', i.site_url], ['Site pin', i.site_pin]] as [string, unknown][]) : []),
    ['State', i.state],
    ['Name', i.name],
    ['Jump Group', i.jump_group],
    ['Tag', i.tag],
    ['Comments', i.comments],
    ['Mode', i.mode],
    ['Overridable', i.allow_override.join(', ') || 'none'],
    ['Valid until', shortTime(i.expires_at)],
    ['Uses', i.max_uses === null ? `${i.uses}` : `${i.uses} of ${i.max_uses}`],
    ['Revoked', shortTime(i.revoked_at)],
  ]);

installer
  .command('create')
  .description('Create an installer; prints its uid and KEY_INFO (shown only now).')
  .addOption(
    new Option('--valid-for <duration>', 'how long the installer may enroll jump clients: 10m to 365d')
      .argParser(durationArg('--valid-for', { min: INSTALLER_VALID_MIN_MS, max: INSTALLER_VALID_MAX_MS, hint: 'a duration from 10m to 365d, e.g. 90m, 12h or 7d' }))
      .default(24 * 3_600_000, '1d'),
  )
  .option('--jump-group <group>', 'jump group for its jump clients (default: your personal group)')
  .option('--tag <tag>', 'tag for its jump clients')
  .option('--comments <text>', 'comments for its jump clients')
  .option('--name <name>', 'name for its jump clients (default: their hostname)')
  .option('--max-uses <n>', 'how many jump clients may enroll with it (default: 100)', positiveInt('--max-uses'))
  .addOption(new Option('--mode <mode>', 'jump client mode').choices(['active', 'passive']).default('active'))
  .option(
    '--allow-override <fields>',
    `fields the install command may override: ${OVERRIDABLE_FIELDS.join(',')}, or "none" (default: none)`,
  )
  .addOption(
    new Option('--platform <platform>', 'also write the installer file for this platform (needs --out)').choices([...BIN_PLATFORMS, 'windows-x64']),
  )
  .option('--out <dir>', 'directory to write the installer file to (bomgar-scc-<uid>.bin; for windows-x64 bomgar-scc-<uid>.exe and the site\'s bomgar-scc-win64.msi)')
  .option('--package-dir <dir>', 'the packaged jump-client to stamp (default: dist/package/<platform>, from `npm run package`)')
  .action(async (o, cmd: Command) => {
    // The installer file can be made only now (KEY_INFO is shown once): check what it needs first,
    // so a bad --out or a missing package does not leave an installer on the site.
    let packageDir: string | undefined;
    if (o.platform !== undefined || o.out !== undefined) {
      if (o.platform === undefined || o.out === undefined) {
        throw new JumpError('VALIDATION_FAILED', { field: o.out === undefined ? '--out' : '--platform', detail: 'Give --platform and --out together.' });
      }
      const pkgPlatform = o.platform === 'windows-x64' ? 'win-x64' : o.platform;
      packageDir = resolve(o.packageDir ?? fileURLToPath(new URL(`../package/${pkgPlatform}`, import.meta.url)));
      const missing =
        o.platform === 'windows-x64' ? [GENERIC_MSI, WIN_EXE, ...EXE_PAYLOAD].filter((f) => !existsSync(join(packageDir!, f))) : missingPackageFiles(packageDir);
      if (missing.length > 0) {
        throw new JumpError('VALIDATION_FAILED', {
          field: '--package-dir',
          detail: `${packageDir} lacks ${missing.join(', ')}: run \`npm run package\` first, or pass --package-dir.`,
        });
      }
      try {
        if (!statSync(o.out).isDirectory()) throw new Error('not a directory');
        accessSync(o.out, constants.W_OK);
      } catch {
        throw new JumpError('VALIDATION_FAILED', { field: '--out', detail: `--out: ${o.out} is not a writable directory.` });
      }
    }
    let allow: string[] | undefined;
    if (o.allowOverride !== undefined) {
      allow = o.allowOverride === 'none' ? [] : collect(o.allowOverride);
      for (const f of allow) {
        if (!(OVERRIDABLE_FIELDS as readonly string[]).includes(f)) {
          throw new JumpError('VALIDATION_FAILED', { field: '--allow-override', detail: `Unknown field "${f}"; use ${OVERRIDABLE_FIELDS.join(', ')} or none.` });
        }
      }
    }
    const body = {
      valid_for_ms: o.validFor,
      jump_group: o.jumpGroup,
      tag: o.tag,
      comments: o.comments,
      name: o.name,
      max_uses: o.maxUses,
      mode: o.mode,
      allow_override: allow,
    };
    const client = site(cmd);
    const r = await client.request<InstallerRow>('POST', '/api/v1/installers', body);
    let file: { path: string; bytes: number } | null = null;
    let msiFile: { path: string; bytes: number } | null = null;
    if (packageDir !== undefined) {
      try {
        if (o.platform === 'windows-x64') {
          file = await writeExeInstaller(packageDir, stampOf(r), o.out);
          msiFile = await writeSiteMsi(packageDir, r.site_url!, r.site_pin!, o.out);
        } else file = await writeBinInstaller(packageDir, stampOf(r), o.out, o.platform as BinPlatform);
      } catch (err) {
        // Without its files the installer is of no use and its key is lost: revoke it, and remove
        // the EXE when the MSI after it failed (a file holding a revoked key helps nobody).
        if (file) rmSync(file.path, { force: true });
        await client.request('POST', `/api/v1/installers/${encodeURIComponent(r.uid)}/revoke`, {}).catch(() => undefined);
        throw new JumpError('INTERNAL_ERROR', { detail: `Writing the installer file failed (${(err as Error).message}); installer ${r.uid} was revoked.` });
      }
    }
    const result = file ? { ...r, file: file.path, file_bytes: file.bytes, ...(msiFile ? { msi: msiFile.path, msi_bytes: msiFile.bytes } : {}) } : r;
    out(result, () =>
      [
        installerDetails(r),
        ...(file && msiFile
          ? [
              `Installer file: ${file.path} (${bytes(file.bytes)}). Run it as: ${exeFileName(r.uid)} --install-dir DIR [--jc-tag T] [--silent]`,
              `The site's generic MSI (one for every installer): ${msiFile.path} (${bytes(msiFile.bytes)}). Deploy with:`,
              `  msiexec /i ${SITE_MSI} KEY_INFO=${r.key_info} jc_jump_group=... jc_tag=... /quiet`,
            ]
          : file
            ? [`Installer file: ${file.path} (${bytes(file.bytes)}). Run it as: sh ./${binFileName(r.uid, o.platform as BinPlatform)} --install-dir DIR [--user USER]`]
            : []),
        `Valid for ${formatDuration(o.validFor)}. Keep KEY_INFO${file ? ' and the installer file' : ''} secret: the key is not shown again.`,
      ].join('\n'),
    );
  });

installer
  .command('list')
  .action(async (_o, cmd: Command) => {
    const r = await site(cmd).request<{ items: InstallerRow[] }>('GET', '/api/v1/installers');
    out(r, () =>
      r.items.length === 0
        ? 'No installers.'
        : r.items
            .map((i) => `${safeText(i.uid)}  ${safeText(i.state).padEnd(20)} ${safeText(i.jump_group)}  tag=${safeText(i.tag)}  until ${shortTime(i.expires_at)}  uses ${safeText(i.uses)}${i.max_uses ? '/' + safeText(i.max_uses) : ''}`)
            .join('\n'),
    );
  });

installer
  .command('show <uid>')
  .action(async (uid: string, _o, cmd: Command) => {
    const r = await site(cmd).request<{ item: InstallerRow }>('GET', `/api/v1/installers/${encodeURIComponent(uid)}`);
    out(r, () => installerDetails(r.item));
  });

installer
  .command('revoke <uid>')
  .description('Revoke an installer: no jump client may enroll with it any more.')
  .action(async (uid: string, _o, cmd: Command) => {
    const r = await site(cmd).request<{ item: InstallerRow }>('POST', `/api/v1/installers/${encodeURIComponent(uid)}/revoke`, {});
    out(r, `Installer ${uid} revoked.`);
  });

// ---- jump groups ----
const groups = program.command('groups').description('Jump groups: shared groups and their members, personal groups.');

groups
  .command('list', { isDefault: true })
  .action(async (_o, cmd: Command) => {
    const r = await site(cmd).request<{ items: { name: string; kind: string; members?: string[] }[] }>('GET', '/api/v1/jump-groups');
    out(r, () => r.items.map((g) => `${safeText(g.name)}\t${safeText(g.kind)}${g.members ? '\t' + g.members.map(safeText).join(', ') : ''}`).join('\n'));
  });

groups
  .command('create <name>')
  .description('Create a shared jump group (admins).')
  .action(async (name: string, _o, cmd: Command) => {
    const r = await site(cmd).request<{ item: unknown }>('POST', '/api/v1/jump-groups', { name });
    out(r, `Created jump group "${name}".`);
  });

groups
  .command('delete <name>')
  .description('Delete an empty shared jump group (admins).')
  .action(async (name: string, _o, cmd: Command) => {
    const r = await site(cmd).request('DELETE', `/api/v1/jump-groups/${encodeURIComponent(name)}`);
    out(r, `Deleted jump group "${name}".`);
  });

groups
  .command('add-member <group> <user>')
  .description('Give a user access to a shared jump group (admins).')
  .action(async (group: string, user: string, _o, cmd: Command) => {
    const r = await site(cmd).request('POST', `/api/v1/jump-groups/${encodeURIComponent(group)}/members`, { user });
    out(r, `${user} is now a member of "${group}".`);
  });

groups
  .command('remove-member <group> <user>')
  .description("Remove a user's access to a shared jump group (admins).")
  .action(async (group: string, user: string, _o, cmd: Command) => {
    const r = await site(cmd).request('DELETE', `/api/v1/jump-groups/${encodeURIComponent(group)}/members/${encodeURIComponent(user)}`);
    out(r, `${user} is no longer a member of "${group}".`);
  });

// ---- Jump ----

/** Splits `jump-7` or `7` into the id; anything else is a name. */
function clientRef(ref: string): string {
  const m = /^jump-(\d+)$/.exec(ref);
  return m ? m[1] : ref;
}

function configDir(): string {
  return dirname(new ConsoleConfig().path);
}

program
  .command('jump <id|name> [command...]')
  .description('Jump into a jump client: an interactive shell, or run COMMAND (after --) and exit with its status.')
  .action(async (ref: string, command: string[], _o, cmd: Command) => {
    const client = site(cmd);
    const key = ephemeralKey();
    const { info, stream } = await openSession(client, clientRef(ref), command.length ? 'exec' : 'shell', key.publicLine);
    const conn = await connectSsh(stream, info.host_key, key.privatePem);
    const code = await (command.length ? runRemoteCommand(conn, quote(command)) : runShell(conn));
    conn.end();
    process.exit(code);
  });

/** Runs a command; streams stdout/stderr; resolves with its exit status (255 when there is none). */
function runRemoteCommand(conn: import('ssh2').Client, command: string): Promise<number> {
  return new Promise((resolve, reject) => {
    conn.exec(command, (err, ch) => {
      if (err) return reject(new JumpError('JUMP_INTERNAL_ERROR', { detail: err.message }));
      let code = 255;
      ch.on('exit', (c: number | null, signal?: string) => (code = c ?? (signal ? 128 + 15 : 255)));
      ch.pipe(process.stdout, { end: false });
      ch.stderr.pipe(process.stderr, { end: false });
      if (process.stdin.isTTY) ch.end();
      else process.stdin.pipe(ch);
      ch.on('close', () => resolve(code));
    });
  });
}

/** An interactive shell on a PTY sized like this terminal; resizes follow. */
function runShell(conn: import('ssh2').Client): Promise<number> {
  const tty = process.stdout.isTTY;
  return new Promise((resolve, reject) => {
    conn.shell({ term: process.env.TERM ?? 'xterm-256color', cols: process.stdout.columns ?? 80, rows: process.stdout.rows ?? 24 }, (err, ch) => {
      if (err) return reject(new JumpError('JUMP_INTERNAL_ERROR', { detail: err.message }));
      let code = 0;
      if (process.stdin.isTTY) process.stdin.setRawMode(true);
      const onResize = () => ch.setWindow(process.stdout.rows ?? 24, process.stdout.columns ?? 80, 0, 0);
      if (tty) process.stdout.on('resize', onResize);
      process.stdin.pipe(ch);
      ch.pipe(process.stdout, { end: false });
      ch.stderr.pipe(process.stderr, { end: false });
      ch.on('exit', (c: number | null) => (code = c ?? 255));
      ch.on('close', () => {
        if (process.stdin.isTTY) process.stdin.setRawMode(false);
        process.stdin.unpipe(ch);
        if (tty) process.stdout.off('resize', onResize);
        resolve(code);
      });
    });
  });
}

program
  .command('proxy <id|name>')
  .description('Bridge standard input/output to a jump client, for OpenSSH: ProxyCommand "jump proxy %n".')
  .option('--identity <file>', 'the OpenSSH key ssh will offer (default: <config dir>/id_ed25519)')
  .action(async (ref: string, o, cmd: Command) => {
    const client = site(cmd);
    const publicLine = o.identity ? identityPublicLine(o.identity) : jumpIdentity(configDir()).publicLine;
    const { stream } = await openSession(client, clientRef(ref), 'proxy', publicLine);
    process.stdin.pipe(stream);
    stream.pipe(process.stdout);
    stream.on('close', () => process.exit(0));
    stream.on('end', () => process.exit(0));
  });

program
  .command('ssh-config')
  .description('Print OpenSSH Host blocks for every jump client you may reach, and write their known_hosts entries.')
  .option('--write', 'also write the blocks to <config dir>/ssh_config (use it with `ssh -F` or an Include line)')
  .action(async (o, cmd: Command) => {
    const client = site(cmd);
    const dir = configDir();
    const identity = jumpIdentity(dir);
    const r = await client.request<{ items: (ClientRow & { host_key: string })[] }>('GET', '/api/v1/jump-clients');
    const knownHosts = join(dir, 'known_hosts');
    // Site text goes into these files only as validated tokens (console/ssh-config.ts).
    const files = sshConfigFiles(Array.isArray(r.items) ? r.items : [], {
      proxyArgv: [process.execPath, process.argv[1], '--site', client.siteUrl],
      proxyEnv: process.env.JUMP_CONFIG_DIR ? { JUMP_CONFIG_DIR: process.env.JUMP_CONFIG_DIR } : {},
      knownHostsFile: knownHosts,
      identityFile: identity.file,
    });
    for (const s of files.skipped) process.stderr.write(`Left out jump client ${safeText(s.id)}: ${s.reason}.\n`);
    writeFileSync(knownHosts, files.knownHosts, { mode: 0o600 });
    const text = files.sshConfig;
    if (o.write) writeFileSync(join(dir, 'ssh_config'), text, { mode: 0o600 });
    out({ ssh_config: text, known_hosts: knownHosts, identity: identity.file, clients: files.ids.length, skipped: files.skipped }, text.trimEnd());
  });

program
  .command('tunnel <id|name> <spec>')
  .description('Forward LOCALPORT:HOST:PORT through a jump client (HOST as seen from the endpoint), until interrupted.')
  .option('--bind <address>', 'local address to listen on', '127.0.0.1')
  .action(async (ref: string, spec: string, o, cmd: Command) => {
    const m = /^(\d{1,5}):(\[[^\]]+\]|[^:]+):(\d{1,5})$/.exec(spec);
    if (!m || Number(m[1]) > 65535 || Number(m[3]) > 65535 || Number(m[3]) === 0) {
      throw new JumpError('VALIDATION_FAILED', { field: 'spec', detail: 'Give LOCALPORT:HOST:PORT, e.g. 8080:127.0.0.1:80 (LOCALPORT 0 picks a free port).' });
    }
    const [localPort, host, port] = [Number(m[1]), m[2].replace(/^\[|\]$/g, ''), Number(m[3])];
    const client = site(cmd);
    const key = ephemeralKey();
    const { info, stream } = await openSession(client, clientRef(ref), 'tunnel', key.publicLine);
    const conn = await connectSsh(stream, info.host_key, key.privatePem);
    const server = createServer((sock) => {
      conn.forwardOut(sock.remoteAddress ?? '127.0.0.1', sock.remotePort ?? 0, host, port, (err, ch) => {
        if (err) {
          process.stderr.write(`JUMP_FORWARD_REFUSED: ${new JumpError('JUMP_FORWARD_REFUSED').message} (${host}:${port})\n`);
          sock.destroy();
          return;
        }
        sock.pipe(ch).pipe(sock);
        sock.on('error', () => ch.close());
        ch.on('close', () => sock.destroy());
      });
    });
    server.listen(localPort, o.bind, () => {
      const addr = server.address() as { port: number };
      out({ local_port: addr.port, host, port, client: info.name }, `Forwarding ${o.bind}:${addr.port} -> ${host}:${port} via ${safeText(info.name)}. Ctrl-C to stop.`);
    });
    conn.on('close', () => {
      process.stderr.write('The jump session ended.\n');
      process.exit(1);
    });
    const stop = () => {
      server.close();
      conn.end();
      process.exit(0);
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });

// ---- sessions ----
const sessions = program.command('sessions').description('Recorded Jump sessions.');

interface SessionRow {
  id: string;
  client_id: number;
  client: string | null;
  user: string | null;
  kind: string;
  started_at: string;
  ended_at: string | null;
  bytes_to_client: number;
  bytes_from_client: number;
  exit_status: number | null;
  end_reason: string | null;
  /** A terminal recording (asciicast v2) exists. */
  recording: boolean;
  /** An SFTP file-operation log exists (a `proxy` session may have both). */
  file_log?: boolean;
  /** Every command line the session ran, oldest first. */
  commands?: string[];
}

sessions
  .command('list', { isDefault: true })
  .option('--client <id|name>', 'only sessions into this jump client')
  .option('--limit <n>', 'at most this many', positiveInt('--limit'), 100)
  .action(async (o, cmd: Command) => {
    const client = site(cmd);
    const q = new URLSearchParams({ limit: String(o.limit) });
    if (o.client) q.set('client', String((await resolveClient(client, clientRef(o.client))).id));
    const r = await client.request<{ items: SessionRow[] }>('GET', `/api/v1/sessions?${q}`);
    out(r, () =>
      r.items.length === 0
        ? 'No sessions.'
        : r.items
            .map(
              (s) =>
                `${safeText(s.id)}  ${shortTime(s.started_at)}  ${safeText(s.user).padEnd(12)} ${safeText(s.kind).padEnd(6)} ${safeText(s.client ?? s.client_id)}  exit=${safeText(s.exit_status ?? '-')}  ${bytes(s.bytes_to_client)} in / ${bytes(s.bytes_from_client)} out${s.recording ? '  [recorded]' : ''}${s.file_log ? '  [file log]' : ''}`,
            )
            .join('\n'),
    );
  });

sessions
  .command('show <id>')
  .option('--recording', 'print the asciicast v2 recording instead (play it with `asciinema play`)')
  .option('--file-log', 'print the SFTP file-operation log instead (JSON lines)')
  .action(async (id: string, o, cmd: Command) => {
    const client = site(cmd);
    if (o.recording || o.fileLog) {
      // Both are JSON lines: text inside them is already \u-escaped, so escaping what a site sends
      // raw keeps a valid recording valid and a hostile one harmless.
      const part = o.fileLog ? 'file_log' : 'terminal';
      process.stdout.write(jsonSafe(await client.requestText('GET', `/api/v1/sessions/${encodeURIComponent(id)}/recording?part=${part}`)));
      return;
    }
    const r = await client.request<{ item: SessionRow }>('GET', `/api/v1/sessions/${encodeURIComponent(id)}`);
    const s = r.item;
    out(r, () =>
      detailsTable([
        ['Session', s.id],
        ['Jump client', `${safeText(s.client)} (${safeText(s.client_id)})`],
        ['Technician', s.user],
        ['Kind', s.kind],
        ['Started', shortTime(s.started_at)],
        ['Ended', shortTime(s.ended_at)],
        ['Bytes to client', s.bytes_to_client],
        ['Bytes from client', s.bytes_from_client],
        ['Exit status', s.exit_status],
        ['End reason', s.end_reason],
        ['Recording', s.recording ? 'yes (jump sessions show --recording)' : 'no'],
        ['SFTP file log', s.file_log ? 'yes (jump sessions show --file-log)' : 'no'],
        ...(s.commands ?? []).map((c, i): [string, string] => [i === 0 ? 'Commands' : '', safeText(c)]),
      ]),
    );
  });

/**
 * Commander hands options to one level of subcommands only, so `--json` and `--site` are attached
 * to every leaf command as well (`jump installer create --json` works as written).
 */
function addLeafOptions(cmd: Command): void {
  for (const c of cmd.commands) {
    if (c.commands.length > 0) addLeafOptions(c);
    else {
      c.option('--json', 'machine-readable output');
      c.option('--site <url>', 'site to use (default: the last one logged in to, or $JUMP_SITE)');
    }
  }
}
addLeafOptions(program);

program.parseAsync().catch((err: unknown) => {
  if (err instanceof CommanderError) {
    process.exit(err.exitCode === 0 ? 0 : 2);
  }
  fail(err);
});
