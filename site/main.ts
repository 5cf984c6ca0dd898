#!/usr/bin/env node
/**
 * `jump-site`: the site broker.
 *
 *   jump-site serve [--data DIR] [--listen HOST:PORT] [--public-url URL] [--tls-cert F --tls-key F]
 *   jump-site user add NAME [--admin] [--view-personal-groups] --password-stdin [--data DIR]
 *   jump-site user list|remove|passwd|set ...
 *
 * Exit status (EXIT_CODES_HELP, also at the end of every `--help`): 0 success, 1 an error with a
 * catalog code (printed as `CODE: message`), 2 usage (an unknown flag or command, a bad flag value).
 */
import { Command, InvalidArgumentError, Option } from 'commander';
import { durationArg, positiveInt, readStdin } from '../protocol/cli-args.js';
import { pino } from 'pino';
import { JumpError } from '../protocol/errors.js';
import { addHelpTexts } from '../protocol/cli-help.js';
import { VERSION } from '../protocol/version.js';
import { hashPassword } from './auth.js';
import { SITE_DEFAULTS as D, startSite } from './server.js';
import { formatDuration } from '../protocol/duration.js';
import { SqliteStore } from './store/sqlite.js';
import { addUser, checkPassword, removeBootstrapPasswordFile, userJson } from './users.js';
import { SiteSettings, settingKey, type SettingJson } from './settings.js';
import { buildJson, importBuilds } from './updates.js';
import { once } from 'node:events';
import { existsSync, mkdirSync, openSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { join, resolve } from 'node:path';
import { spawnSync } from 'node:child_process';
import { codeSigningFrom, type CodeSigning } from '../protocol/code-signing.js';

const DEFAULT_DATA = './jump-site-data';

function listenArg(v: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d{1,5})$/.exec(v);
  const port = m ? Number(m[3]) : NaN;
  if (!m || port > 65535) throw new InvalidArgumentError('--listen takes HOST:PORT, e.g. 0.0.0.0:8443 or [::]:8443.');
  return { host: m[1] ?? m[2], port };
}

/**
 * Opens the store of an existing site for `jump-site user ...`. Never creates one: a `--data` that
 * holds no `site.db` (e.g. the default `./jump-site-data` run from another directory) fails with
 * SITE_DATA_NOT_FOUND naming the directory, instead of adding a user to a new, empty store.
 */
function openStore(dataDir: string): SqliteStore {
  const file = join(dataDir, 'site.db');
  if (!existsSync(file)) fail(new JumpError('SITE_DATA_NOT_FOUND', { field: '--data', detail: `No site store in ${resolve(dataDir)}.` }));
  return new SqliteStore(file);
}

/**
 * Resolves when `host:port` can be listened on, else fails with SITE_ADDRESS_IN_USE (exit 1), so
 * `serve` on a busy port creates nothing (no data dir, keys or store).
 */
async function checkListen(host: string, port: number): Promise<void> {
  const probe = createServer();
  try {
    probe.listen({ host, port, exclusive: true });
    await once(probe, 'listening');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? String(err);
    fail(new JumpError('SITE_ADDRESS_IN_USE', { field: '--listen', detail: `Address ${host}:${port} (${code}).` }));
  } finally {
    probe.close();
  }
}

/** Exit codes, printed at the end of every `--help` (README.md "Exit codes" has the same table). */
const EXIT_CODES_HELP = `
Exit codes:
  0  success
  1  failure: the error is printed as CODE: message (docs/errors.md)
  2  usage: unknown command or flag, bad flag value (see --help)`;

const program = new Command('jump-site')
  .description('The jump site: the broker jump clients connect to and technicians jump through.')
  .version(VERSION)
  .showHelpAfterError("(see 'jump-site <command> --help')")
  // Usage errors (commander's own: unknown flag or command, bad value, missing argument) exit 2.
  .exitOverride((err) => process.exit(err.exitCode === 0 ? 0 : 2));

program
  .command('serve')
  .description('Run the site: HTTPS API and agent endpoint on one port, embedded SQLite store.')
  .option('--data <dir>', 'data directory (store, keys, certificate)', DEFAULT_DATA)
  .option('--listen <host:port>', 'address to listen on', listenArg, { host: '0.0.0.0', port: 8443 })
  .option('--public-url <url>', 'URL agents and consoles use to reach the site (default https://<hostname>:<port>)')
  .option('--tls-cert <file>', 'PEM certificate to use instead of the self-signed one')
  .option('--tls-key <file>', 'PEM private key for --tls-cert')
  .addOption(new Option('--heartbeat <duration>', 'agent heartbeat interval').argParser(durationArg('--heartbeat')).default(D.heartbeatMs, formatDuration(D.heartbeatMs)))
  .addOption(new Option('--stats-interval <duration>', 'how often agents check statistics for changes').argParser(durationArg('--stats-interval')).default(D.statsIntervalMs, formatDuration(D.statsIntervalMs)))
  .option('--admission-rate <n>', 'new agent connections admitted per second', positiveInt('--admission-rate'), D.admissionRate)
  .option('--max-handshakes <n>', 'agent handshakes in progress at once; more are told to retry (default: no limit)', positiveInt('--max-handshakes'))
  .option('--max-tls-handshakes <n>', 'TLS handshakes in progress at once; more connections are closed before TLS', positiveInt('--max-tls-handshakes'), D.maxTlsHandshakes)
  .option('--max-tls-handshakes-per-address <n>', 'TLS handshakes in progress at once from one IPv4 address or IPv6 /56', positiveInt('--max-tls-handshakes-per-address'), D.maxTlsHandshakesPerAddress)
  .option('--tls-hello-timeout <ms>', 'time a new connection has to send its TLS ClientHello (and an address not seen before, to finish TLS)', positiveInt('--tls-hello-timeout'), D.tlsHelloTimeoutMs)
  .option('--max-agents <n>', 'agent connections this node holds at once (default: what its open-file limit allows)', positiveInt('--max-agents'))
  .option('--max-session-starts <n>', 'Jump session starts in progress at once, site-wide', positiveInt('--max-session-starts'), D.maxSessionStarts)
  .option('--max-session-starts-per-user <n>', 'Jump session starts in progress at once for one technician', positiveInt('--max-session-starts-per-user'), D.maxSessionStartsPerUser)
  .option('--max-session-starts-per-client <n>', 'Jump session starts in progress at once into one jump client', positiveInt('--max-session-starts-per-client'), D.maxSessionStartsPerClient)
  .option('--recording-max-bytes <n>', 'bytes of terminal recording kept per Jump session (default 64 MiB, or JUMP_SITE_RECORDING_MAX_BYTES)', positiveInt('--recording-max-bytes'))
  .option('--sftp-log-max-bytes <n>', 'bytes of SFTP file log kept per Jump session (default 4 MiB, or JUMP_SITE_SFTP_LOG_MAX_BYTES)', positiveInt('--sftp-log-max-bytes'))
  .addOption(new Option('--session-connect-timeout <duration>', 'time a jump client has to answer a session start').argParser(durationArg('--session-connect-timeout')).default(D.sessionConnectTimeoutMs, formatDuration(D.sessionConnectTimeoutMs)))
  .addOption(new Option('--session-idle-timeout <duration>', 'end a Jump session after this long without traffic').argParser(durationArg('--session-idle-timeout')).default(D.sessionIdleTimeoutMs, formatDuration(D.sessionIdleTimeoutMs)))
  .addOption(new Option('--ticket-ttl <duration>', 'how long a session ticket stays usable after the jump client receives it').argParser(durationArg('--ticket-ttl')).default(D.ticketTtlMs, formatDuration(D.ticketTtlMs)))
  .addOption(
    new Option('--headers-timeout <duration>', 'close a connection whose request headers are not complete after this long')
      .argParser(durationArg('--headers-timeout'))
      .default(D.httpTimeouts.headersMs, formatDuration(D.httpTimeouts.headersMs)),
  )
  .addOption(
    new Option('--request-timeout <duration>', 'close a connection whose request (headers and body) is not complete after this long')
      .argParser(durationArg('--request-timeout'))
      .default(D.httpTimeouts.requestMs, formatDuration(D.httpTimeouts.requestMs)),
  )
  .addOption(
    new Option('--idle-timeout <duration>', 'close an HTTP connection without traffic after this long (not agent or Jump connections)')
      .argParser(durationArg('--idle-timeout'))
      .default(D.httpTimeouts.idleMs, formatDuration(D.httpTimeouts.idleMs)),
  )
  .addOption(
    new Option('--token-idle-timeout <duration>', 'an API token unused for this long stops working')
      .argParser(durationArg('--token-idle-timeout'))
      .default(D.tokenIdleMs, formatDuration(D.tokenIdleMs)),
  )
  .option('--metrics-open-loopback', 'let local processes read /metrics without a token (default: an admin token is needed)')
  .option('--client-builds <dir>', 'import the jump-client builds in this folder (the output of `npm run package`) on start and serve them to clients (docs/updates.md)')
  .option('--installer-packages <dir>', "the folder of the jump-client packages, one sub-folder per platform as `npm run package` writes them, that the web console's Download builds installer files from", D.installerPackagesDir)
  .option('--sign-cert <file>', "sign the Windows installer files the web console's Download builds with this code-signing certificate (PEM; needs --sign-key and osslsigncode)")
  .option('--sign-key <file>', 'the private key of --sign-cert (PEM)')
  .option('--sign-pass-file <file>', 'a file holding the passphrase of --sign-key')
  .option('--sign-timestamp-url <url>', 'an RFC 3161 time-stamping authority to countersign with')
  .option('--log-level <level>', 'pino log level', 'info')
  .option('--log-file <file>', 'write the JSON log to this file (default: standard output, or DATA/site.log when standard output is a terminal)')
  .action(async (o) => {
    if (Boolean(o.tlsCert) !== Boolean(o.tlsKey)) {
      fail(new JumpError('VALIDATION_FAILED', { field: '--tls-cert', detail: 'Give --tls-cert and --tls-key together.' }), 2);
    }
    if (o.publicUrl) {
      let u: URL | null = null;
      try {
        u = new URL(o.publicUrl);
      } catch {
        /* reported below */
      }
      if (!u || u.protocol !== 'https:') fail(new JumpError('VALIDATION_FAILED', { field: '--public-url', detail: '--public-url must be an https:// URL.' }), 2);
    }
    // Before anything is created: a busy port leaves no new data dir behind.
    await checkListen(o.listen.host, o.listen.port);
    const newDataDir = !existsSync(o.data);
    // On a terminal the JSON log goes to a file, not between the lines of the banner.
    const logFile: string | undefined = o.logFile ?? (process.stdout.isTTY ? join(o.data, 'site.log') : undefined);
    let log: pino.Logger;
    if (logFile) {
      mkdirSync(o.data, { recursive: true, mode: 0o700 });
      // Opened here, synchronously: a destination pino opens itself makes any exit before it is
      // open (or after it failed to open) throw "sonic boom is not ready yet".
      let fd: number;
      try {
        fd = openSync(logFile, 'a', 0o600);
      } catch (err) {
        if (newDataDir) rmSync(o.data, { recursive: true, force: true });
        fail(new JumpError('VALIDATION_FAILED', { field: '--log-file', detail: `--log-file: cannot write ${logFile}: ${(err as Error).message}` }), 1);
      }
      const dest = pino.destination({ dest: fd, sync: false });
      log = pino({ level: o.logLevel, base: { program: 'jump-site' } }, dest);
    } else log = pino({ level: o.logLevel, base: { program: 'jump-site' } });
    const site = await startSite({
      dataDir: o.data,
      host: o.listen.host,
      port: o.listen.port,
      publicUrl: o.publicUrl?.replace(/\/+$/, ''),
      tlsCertFile: o.tlsCert,
      tlsKeyFile: o.tlsKey,
      heartbeatMs: o.heartbeat,
      statsIntervalMs: o.statsInterval,
      admissionRate: o.admissionRate,
      maxHandshakes: o.maxHandshakes,
      maxTlsHandshakes: o.maxTlsHandshakes,
      maxTlsHandshakesPerAddress: o.maxTlsHandshakesPerAddress,
      tlsHelloTimeoutMs: o.tlsHelloTimeout,
      maxAgents: o.maxAgents,
      maxSessionStarts: o.maxSessionStarts,
      maxSessionStartsPerUser: o.maxSessionStartsPerUser,
      maxSessionStartsPerClient: o.maxSessionStartsPerClient,
      recordingMaxBytes: o.recordingMaxBytes,
      sftpLogMaxBytes: o.sftpLogMaxBytes,
      sessionConnectTimeoutMs: o.sessionConnectTimeout,
      sessionIdleTimeoutMs: o.sessionIdleTimeout,
      ticketTtlMs: o.ticketTtl,
      httpTimeouts: { headersMs: o.headersTimeout, requestMs: o.requestTimeout, idleMs: o.idleTimeout },
      tokenIdleMs: o.tokenIdleTimeout,
      metricsOpenLoopback: Boolean(o.metricsOpenLoopback),
      clientBuildsDir: o.clientBuilds,
      installerPackagesDir: o.installerPackages,
      codeSigning: signingOf(o),
      log,
    }).catch((err: unknown) => {
      if (err instanceof RangeError) fail(new JumpError('VALIDATION_FAILED', { field: '--max-agents', detail: err.message }));
      if (err instanceof JumpError && err.code === 'SITE_ADDRESS_IN_USE' && newDataDir) rmSync(o.data, { recursive: true, force: true });
      throw err;
    });
    const { budget } = site;
    // The bootstrap password itself is never printed: under systemd stderr is the journal.
    const lines = [
      `Jump site listening on ${site.listenUrl}`,
      `  Site URL:         ${site.url}`,
      `  Site pin:         ${site.pin}`,
      `  TLS fingerprint:  ${site.fingerprint}`,
      `  Data dir:         ${o.data}`,
      ...(logFile ? [`  Log:              ${logFile} (JSON lines)`] : []),
      `  Agent capacity:   ${
        Number.isFinite(budget.maxAgents) ? budget.maxAgents : 'no limit'
      }${budget.fileLimit !== null ? ` (open-file limit ${budget.fileLimit}; raise it to hold more, docs/operations.md)` : ''}`,
    ];
    if (site.bootstrapPasswordFile) {
      lines.push(
        `  Bootstrap admin:  user "admin", password in ${site.bootstrapPasswordFile}`,
        '                    (mode 0600; log in with `jump login --site URL --user admin`, then change it with `jump passwd`:',
        '                    until then every other call answers PASSWORD_CHANGE_REQUIRED; the file is removed on change)',
      );
    }
    process.stderr.write(lines.join('\n') + '\n');
    let stopping = false;
    const stop = async () => {
      if (stopping) return;
      stopping = true;
      log.info('site stopping');
      await site.close();
      process.exit(0);
    };
    process.on('SIGTERM', stop);
    process.on('SIGINT', stop);
  });

const user = program.command('user').description('Manage site users (works beside a running site).');
const dataOpt = () => new Option('--data <dir>', 'data directory').default(DEFAULT_DATA);

user
  .command('add <name>')
  .description('Add a technician (or an admin with --admin); the password is read from standard input.')
  .addOption(dataOpt())
  .option('--admin', 'give the user the admin role')
  .option('--view-personal-groups', "allow the user to see other users' personal jump groups")
  .requiredOption('--password-stdin', 'read the password from standard input')
  .option('--json', 'print JSON')
  .action(async (name: string, o) => {
    const store = openStore(o.data);
    const u = await addUser(store, {
      name,
      password: await readStdin(),
      role: o.admin ? 'admin' : 'technician',
      viewPersonalGroups: Boolean(o.viewPersonalGroups),
    });
    await auditCli(store, 'user.add', u.name, JSON.stringify({ role: u.role, view_personal_groups: u.viewPersonalGroups }));
    await store.close();
    print(o.json, userJson(u), `Added ${u.role} "${u.name}" with personal jump group user:${u.name}.`);
  });

user
  .command('list')
  .addOption(dataOpt())
  .option('--json', 'print JSON')
  .action(async (o) => {
    const store = openStore(o.data);
    const users = (await store.listUsers()).map(userJson);
    await store.close();
    print(o.json, { items: users }, users.map((u) => `${u.name}\t${u.role}${u.view_personal_groups ? '\tview-personal-groups' : ''}`).join('\n'));
  });

user
  .command('remove <name>')
  .addOption(dataOpt())
  .action(async (name: string, o) => {
    const store = openStore(o.data);
    const u = await store.getUserByName(name);
    if (!u) fail(new JumpError('USER_NOT_FOUND', { detail: `User: ${name}.` }));
    // Deleting the user deletes their API tokens with them (ON DELETE CASCADE): their API sessions
    // end, and the running site's sweep ends their live Jump sessions within 5 s (site/server.ts).
    await store.deleteUser(u!.id);
    await auditCli(store, 'user.remove', u!.name);
    await store.close();
    process.stdout.write(`Removed "${name}". Their personal jump group stays with its jump clients.\n`);
  });

user
  .command('passwd <name>')
  .description('Set a user password from standard input; ends their API sessions, and their Jump sessions within 5 s.')
  .addOption(dataOpt())
  .requiredOption('--password-stdin', 'read the password from standard input')
  .action(async (name: string, o) => {
    const store = openStore(o.data);
    const u = await store.getUserByName(name);
    if (!u) fail(new JumpError('USER_NOT_FOUND', { detail: `User: ${name}.` }));
    const password = await readStdin();
    checkPassword(password);
    await store.updateUser(u!.id, { passwordHash: await hashPassword(password) });
    await auditCli(store, 'user.passwd', u!.name);
    if (u!.mustChangePassword) removeBootstrapPasswordFile(o.data);
    await store.close();
    process.stdout.write(`Password of "${name}" changed.\n`);
  });

user
  .command('set <name>')
  .description('Change a user role or permissions.')
  .addOption(dataOpt())
  .addOption(new Option('--role <role>', 'admin or technician').choices(['admin', 'technician']))
  .addOption(new Option('--view-personal-groups <on|off>', "see other users' personal jump groups").choices(['on', 'off']))
  .option('--json', 'print JSON')
  .action(async (name: string, o) => {
    const store = openStore(o.data);
    const u = await store.getUserByName(name);
    if (!u) fail(new JumpError('USER_NOT_FOUND', { detail: `User: ${name}.` }));
    await store.updateUser(u!.id, {
      role: o.role,
      viewPersonalGroups: o.viewPersonalGroups === undefined ? undefined : o.viewPersonalGroups === 'on',
    });
    const after = (await store.getUserById(u!.id))!;
    await auditCli(store, 'user.set', after.name, JSON.stringify({ role: o.role, view_personal_groups: o.viewPersonalGroups }));
    await store.close();
    print(o.json, userJson(after), `${after.name}: ${after.role}${after.viewPersonalGroups ? ', may view personal jump groups' : ''}`);
  });

const settingsCmd = program
  .command('settings')
  .description('Site settings: license limits and other values that change while the site runs (works beside a running site; it applies a change within 2 s).');

/** Opens the store and the settings in it, runs `fn`, closes the store. */
async function withSettings<T>(dataDir: string, fn: (settings: SiteSettings) => Promise<T>): Promise<T> {
  const store = openStore(dataDir);
  try {
    const settings = new SiteSettings(store);
    await settings.load();
    return await fn(settings);
  } finally {
    await store.close();
  }
}

const settingLine = (s: SettingJson) => `${s.key.padEnd(28)}${s.value}${s.source === 'default' ? ' (default)' : ''}`;

settingsCmd
  .command('list', { isDefault: true })
  .description('Every setting with its value in effect; "(default)" marks one never set.')
  .addOption(dataOpt())
  .option('--json', 'print JSON')
  .action(async (o) => {
    const items = await withSettings(o.data, async (s) => s.list());
    print(o.json, { items }, items.map(settingLine).join('\n'));
  });

settingsCmd
  .command('get <key>')
  .description('One setting: its value, default and meaning.')
  .addOption(dataOpt())
  .option('--json', 'print JSON')
  .action(async (key: string, o) => {
    const item = await withSettings(o.data, async (s) => s.json(settingKey(key)));
    print(o.json, { item }, `${settingLine(item)}\n  ${item.description}`);
  });

settingsCmd
  .command('set <key> <value>')
  .description('Set a setting (validated: an unknown key or a bad value changes nothing).')
  .addOption(dataOpt())
  .option('--json', 'print JSON')
  .action(async (key: string, value: string, o) => {
    const item = await withSettings(o.data, async (s) => s.set(key, value, { userId: null, via: 'jump-site settings (on the site host)' }));
    print(o.json, { item }, `${item.key} = ${item.value}`);
  });

settingsCmd
  .command('unset <key>')
  .description('Return a setting to its default.')
  .addOption(dataOpt())
  .option('--json', 'print JSON')
  .action(async (key: string, o) => {
    const item = await withSettings(o.data, async (s) => s.set(key, null, { userId: null, via: 'jump-site settings (on the site host)' }));
    print(o.json, { item }, `${item.key} = ${item.value} (default)`);
  });

const buildsCmd = program
  .command('builds')
  .description('Jump-client builds the site serves to its clients for self-update (works beside a running site; it picks an import up within 2 s). docs/updates.md');

buildsCmd
  .command('import <dir>')
  .description('Import the builds in DIR (the output folder of `npm run package`: one sub-folder per platform): copy, sign with the update-signing key, and serve each to its platform.')
  .addOption(dataOpt())
  .option('--json', 'print JSON')
  .action(async (dir: string, o) => {
    const store = openStore(o.data);
    try {
      const builds = await importBuilds(o.data, store, dir);
      await store.audit({ at: Date.now(), userId: null, action: 'builds.import', target: `builds:${resolve(dir)}`, detail: `jump-site builds import (on the site host): ${builds.map((b) => `${b.platform} ${b.version}`).join(', ')}` });
      print(o.json, { items: builds.map((b) => buildJson(b)) }, builds.map((b) => `Imported ${b.platform} ${b.version} (${b.size} bytes, sha256 ${b.sha256}); now served.`).join('\n'));
    } finally {
      await store.close();
    }
  });

buildsCmd
  .command('list', { isDefault: true })
  .description('Every imported build; "served" marks the one offered to each platform.')
  .addOption(dataOpt())
  .option('--json', 'print JSON')
  .action(async (o) => {
    const store = openStore(o.data);
    const items = (await store.listBuilds()).map(buildJson);
    await store.close();
    const head = `${'PLATFORM'.padEnd(13)}${'VERSION'.padEnd(34)}${'SIZE'.padStart(12)}  ${'IMPORTED'.padEnd(26)}SERVED`;
    const rows = items.map((b) => `${b.platform.padEnd(13)}${b.version.padEnd(34)}${String(b.size).padStart(12)}  ${b.imported_at.padEnd(26)}${b.served ? 'yes' : ''}`);
    print(o.json, { items }, items.length === 0 ? 'No builds imported (jump-site builds import DIR).' : [head, ...rows].join('\n'));
  });

/**
 * Audits a `jump-site user` change (security issue #12 item 18). `user_id` is null: the actor is
 * whoever runs the command on the site host; `detail` says so along with the change.
 */
async function auditCli(store: SqliteStore, action: string, name: string, detail?: string): Promise<void> {
  await store.audit({ at: Date.now(), userId: null, action, target: `user:${name}`, detail: `jump-site user (on the site host)${detail ? ' ' + detail : ''}` });
}

function print(json: boolean | undefined, obj: unknown, text: string): void {
  process.stdout.write((json ? JSON.stringify(obj, null, 2) : text) + '\n');
}

/** Prints `CODE: message` and exits with `exitCode` (1 a failure, 2 a usage error). */
function fail(err: JumpError, exitCode: 1 | 2 = 1): never {
  process.stderr.write(`${err.code}: ${err.message}\n`);
  process.exit(exitCode);
}

/** The `Examples:` of every command's --help (issue #14), keyed by the command's path as typed. */
const EXAMPLES: Record<string, string[]> = {
  'jump-site': [
    'jump-site serve                                   # ./jump-site-data, port 8443',
    'jump-site user add alice --password-stdin --data ./jump-site-data',
  ],
  'jump-site serve': [
    'jump-site serve',
    'jump-site serve --data /var/lib/jump-site --listen 0.0.0.0:8443 --public-url https://jump.example.com:8443',
    'jump-site serve --tls-cert site.pem --tls-key site.key --max-agents 10000',
  ],
  'jump-site user': ['jump-site user list --data /var/lib/jump-site', 'jump-site user add alice --password-stdin --data /var/lib/jump-site'],
  'jump-site user add': [
    'printf %s "$PASSWORD" | jump-site user add alice --password-stdin --data /var/lib/jump-site',
    'jump-site user add bob --admin --password-stdin --data /var/lib/jump-site < password.txt',
  ],
  'jump-site user list': ['jump-site user list --data /var/lib/jump-site', 'jump-site user list --json --data /var/lib/jump-site'],
  'jump-site user remove': ['jump-site user remove alice --data /var/lib/jump-site   # ends her tokens and live sessions'],
  'jump-site user passwd': ['printf %s "$PASSWORD" | jump-site user passwd alice --password-stdin --data /var/lib/jump-site'],
  'jump-site settings': ['jump-site settings --data /var/lib/jump-site', 'jump-site settings set jump-clients.max-total 500 --data /var/lib/jump-site'],
  'jump-site settings list': ['jump-site settings list --data /var/lib/jump-site', 'jump-site settings list --json --data /var/lib/jump-site'],
  'jump-site settings get': ['jump-site settings get jump-clients.max-active --data /var/lib/jump-site'],
  'jump-site settings set': [
    'jump-site settings set jump-clients.max-total 500 --data /var/lib/jump-site',
    'jump-site settings set jump-clients.max-active unlimited --data /var/lib/jump-site',
  ],
  'jump-site settings unset': ['jump-site settings unset jump-clients.max-total --data /var/lib/jump-site   # back to unlimited'],
  'jump-site builds': ['jump-site builds list --data /var/lib/jump-site', 'jump-site builds import dist/package --data /var/lib/jump-site'],
  'jump-site builds import': ['npm run package -- --client-version 0.1.1 --out /tmp/b && jump-site builds import /tmp/b --data /var/lib/jump-site'],
  'jump-site builds list': ['jump-site builds list --data /var/lib/jump-site', 'jump-site builds list --json --data /var/lib/jump-site'],
  'jump-site user set': ['jump-site user set alice --role admin --data /var/lib/jump-site', 'jump-site user set bob --view-personal-groups off --data /var/lib/jump-site'],
};

addHelpTexts(program, EXAMPLES, EXIT_CODES_HELP);

program.parseAsync().catch((err: unknown) => {
  if (err instanceof JumpError) fail(err);
  process.stderr.write(`INTERNAL_ERROR: ${(err as Error).stack ?? err}\n`);
  process.exit(1);
});

/**
 * The code-signing certificate of `serve --sign-cert/--sign-key` (protocol/code-signing.ts), or null.
 * Exits 2 naming the flag when the pair is incomplete, a file is missing, or osslsigncode is not
 * installed: a site that would fail every signed Download does not start.
 */
function signingOf(o: { signCert?: string; signKey?: string; signPassFile?: string; signTimestampUrl?: string }): CodeSigning | null {
  let signing: CodeSigning | null;
  try {
    signing = codeSigningFrom({ cert: o.signCert, key: o.signKey, passFile: o.signPassFile, timestampUrl: o.signTimestampUrl });
  } catch (err) {
    return fail(new JumpError('VALIDATION_FAILED', { field: '--sign-cert', detail: (err as Error).message }), 2);
  }
  if (signing && spawnSync('osslsigncode', ['--version'], { stdio: 'ignore' }).error) {
    return fail(new JumpError('VALIDATION_FAILED', { field: '--sign-cert', detail: '--sign-cert needs osslsigncode: apt-get install osslsigncode' }), 2);
  }
  return signing;
}
