/**
 * The installer commands: `jump installer create` (KEY_INFO, shown once, and with --platform/--out
 * the stamped installer file), list, show, revoke.
 */
import { Option, type Command } from 'commander';
import { accessSync, constants, existsSync, readdirSync, rmSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ApiInstaller, ApiInstallerCreated } from '../../protocol/api.js';
import { durationArg, positiveInt } from '../../protocol/cli-args.js';
import { formatDuration } from '../../protocol/duration.js';
import { JumpError } from '../../protocol/errors.js';
import { OVERRIDABLE_FIELDS } from '../../protocol/fields.js';
import { INSTALLER_VALID_MAX_MS, INSTALLER_VALID_MIN_MS } from '../../protocol/limits.js';
import { BIN_PLATFORMS, binFileName, missingPackageFiles, writeBinInstaller, type BinPlatform } from '../../protocol/installer-files/bin-file.js';
import { GENERIC_MSI, SITE_MSI, writeSiteMsi } from '../../protocol/installer-files/msi-file.js';
import { exeFileName, missingExeFiles, writeExeInstaller } from '../../protocol/installer-files/exe-file.js';
import { stampFromCreated } from '../../protocol/stamp.js';
import { codeSigningFrom, type CodeSigning } from '../../protocol/code-signing.js';
import { collect, out, site } from '../cli.js';
import { bytes, detailsTable, listTable, outputWidth, shortTime } from '../format.js';


/** The details table of an installer; KEY_INFO and the site's address only in the create response. */
const installerDetails = (i: ApiInstaller & Partial<ApiInstallerCreated>) =>
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

/** `jump installer create|list|show|revoke`. */
export function registerInstallerCommands(program: Command): void {
  const installer = program.command('installer').description('Mass-deployment installers (KEY_INFO).');

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
    .option('--sign-cert <file>', 'windows-x64: sign the EXE and the MSI with this code-signing certificate (PEM; needs --sign-key and osslsigncode)')
    .option('--sign-key <file>', 'the private key of --sign-cert (PEM)')
    .option('--sign-pass-file <file>', 'a file holding the passphrase of --sign-key')
    .option('--sign-timestamp-url <url>', 'an RFC 3161 time-stamping authority to countersign with')
    .action(async (o, cmd: Command) => {
      // The installer file can be made only now (KEY_INFO is shown once): check what it needs first,
      // so a bad --out or a missing package does not leave an installer on the site.
      let packageDir: string | undefined;
      let signing: CodeSigning | null = null;
      try {
        signing = codeSigningFrom({ cert: o.signCert, key: o.signKey, passFile: o.signPassFile, timestampUrl: o.signTimestampUrl });
      } catch (err) {
        throw new JumpError('VALIDATION_FAILED', { field: '--sign-cert', detail: (err as Error).message });
      }
      if (signing && o.platform !== 'windows-x64') {
        throw new JumpError('VALIDATION_FAILED', { field: '--sign-cert', detail: '--sign-cert signs Windows files: give it with --platform windows-x64.' });
      }
      if (o.platform !== undefined || o.out !== undefined) {
        if (o.platform === undefined || o.out === undefined) {
          throw new JumpError('VALIDATION_FAILED', { field: o.out === undefined ? '--out' : '--platform', detail: 'Give --platform and --out together.' });
        }
        const pkgPlatform = o.platform === 'windows-x64' ? 'win-x64' : o.platform;
        packageDir = resolve(o.packageDir ?? fileURLToPath(new URL(`../../package/${pkgPlatform}`, import.meta.url)));
        const missing =
          o.platform === 'windows-x64' ? [...(existsSync(join(packageDir, GENERIC_MSI)) ? [] : [GENERIC_MSI]), ...missingExeFiles(packageDir)] : missingPackageFiles(packageDir);
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
      // Ctrl-C before KEY_INFO is shown: the key would be lost with a valid installer on the site
      // and a half-written file left behind. Revoke it, remove what this run wrote, exit 130.
      let r: ApiInstallerCreated | null = null;
      let interrupted = false;
      const abandon = async (): Promise<never> => {
        if (r) await client.request('POST', `/api/v1/installers/${encodeURIComponent(r.uid)}/revoke`, {}).catch(() => undefined);
        if (o.out !== undefined) {
          for (const f of readdirSync(o.out)) {
            const ours = f.endsWith(`.partial-${process.pid}`) || (r !== null && f.includes(r.uid));
            if (ours) rmSync(join(o.out, f), { force: true });
          }
        }
        process.stderr.write(r ? `\nInterrupted: installer ${r.uid} was revoked and its files removed.\n` : '\nInterrupted.\n');
        process.exit(130);
      };
      let inFlight = true;
      const onInterrupt = () => {
        interrupted = true;
        if (!inFlight) void abandon();
      };
      process.once('SIGINT', onInterrupt);
      r = await client.request<ApiInstallerCreated>('POST', '/api/v1/installers', body);
      inFlight = false;
      if (interrupted) await abandon();
      let file: { path: string; bytes: number } | null = null;
      let msiFile: { path: string; bytes: number } | null = null;
      if (packageDir !== undefined) {
        try {
          if (o.platform === 'windows-x64') {
            file = await writeExeInstaller(packageDir, stampFromCreated(r), o.out, signing);
            msiFile = await writeSiteMsi(packageDir, r.site_url, r.site_pin, o.out, signing);
          } else file = await writeBinInstaller(packageDir, stampFromCreated(r), o.out, o.platform as BinPlatform);
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
      // KEY_INFO is shown: from now on Ctrl-C is an ordinary interrupt.
      process.off('SIGINT', onInterrupt);
    });

  installer
    .command('list')
    .addOption(new Option('-o, --output <format>', 'wide: every column whole, never cut to the terminal width').choices(['wide']))
    .option('--no-headers', 'no header row (for scripts)')
    .action(async (o, cmd: Command) => {
      const r = await site(cmd).request<{ items: ApiInstaller[] }>('GET', '/api/v1/installers');
      out(r, () =>
        r.items.length === 0
          ? 'No installers.'
          : listTable(
              ['UID', 'STATE', 'JUMP GROUP', 'TAG', 'VALID UNTIL', 'USES'],
              r.items.map((i) => [i.uid, i.state, i.jump_group, i.tag, shortTime(i.expires_at), `${i.uses}${i.max_uses ? `/${i.max_uses}` : ''}`]),
              { wide: o.output === 'wide', headers: o.headers !== false, width: outputWidth(), shrink: { 'JUMP GROUP': 10, TAG: 6 } },
            ),
      );
    });

  installer
    .command('show <uid>')
    .action(async (uid: string, _o, cmd: Command) => {
      const r = await site(cmd).request<{ item: ApiInstaller }>('GET', `/api/v1/installers/${encodeURIComponent(uid)}`);
      out(r, () => installerDetails(r.item));
    });

  installer
    .command('revoke <uid>')
    .description('Revoke an installer: no jump client may enroll with it any more.')
    .action(async (uid: string, _o, cmd: Command) => {
      const r = await site(cmd).request<{ item: ApiInstaller }>('POST', `/api/v1/installers/${encodeURIComponent(uid)}/revoke`, {});
      out(r, `Installer ${uid} revoked.`);
    });
}
