/**
 * The installer's command-line flags, one table for every form of the installer.
 *
 * The seeds ("Mass deployment", the command-line parameter table) give the flags of the .bin and
 * EXE installers, and the rule for the MSI: drop the leading dashes, turn the remaining dashes
 * into underscores, give the value with `=`; with two exceptions, `installdir` (no dash) and
 * `/quiet` instead of `--silent`. `msiProperty` is that MSI twin. Made from this table: the
 * commander options of `jump-client install` and the `--jc-*` options of `jump-client run` and
 * `jump-client msi-configure` (agent/main.ts, agent/install/cli.ts), the mapping from those options
 * to the requested fields (protocol/jc-options.ts), and the MSI's properties and custom actions
 * (packaging/build.mjs fills packaging/jump-client.wxs). It imports nothing but types, so the build
 * can load it with esbuild without the rest of the code.
 */
import type { OverridableField } from './fields.js';

/** One installer flag and its MSI twin. */
export interface InstallerFlag {
  /** The long flag as the seeds write it, e.g. `--jc-tag`. */
  flag: string;
  /** Value placeholder for help, or null for a switch. */
  value: string | null;
  /** The MSI property (or msiexec switch) carrying the same setting. */
  msiProperty: string;
  /** The jump client field it asks for, when it is one of the overridable fields. */
  field?: OverridableField;
  /** Help text of the commander option. */
  help: string;
}

/** Every flag of the installer, in the seeds' order. */
export const INSTALLER_FLAGS: readonly InstallerFlag[] = [
  {
    flag: '--install-dir',
    value: '<directory_path>',
    msiProperty: 'installdir',
    help: 'a new directory to install into: it must not exist and its parent must be writable (default: ~/jumpclient of the run-as user)',
  },
  { flag: '--jc-jump-group', value: '<group>', msiProperty: 'jc_jump_group', field: 'jump_group', help: 'jump group: user:<username> or a shared group name' },
  { flag: '--jc-tag', value: '<tag-name>', msiProperty: 'jc_tag', field: 'tag', help: 'tag of the jump client' },
  { flag: '--jc-comments', value: '<comments ...>', msiProperty: 'jc_comments', field: 'comments', help: 'comments of the jump client' },
  { flag: '--jc-name', value: '<name>', msiProperty: 'jc_name', field: 'name', help: 'name of the jump client (default: its hostname)' },
  {
    flag: '--jc-passive',
    value: null,
    msiProperty: 'jc_passive',
    help: 'enroll as a passive jump client: it checks in every jump-clients.passive-interval instead of holding a connection (our addition to the seeds\' flags; MSI: jc_passive=1)',
  },
  { flag: '--silent', value: null, msiProperty: '/quiet', help: 'no messages, prompts or spinners; failures go to the exit status and the install log' },
  { flag: '--user', value: '<username>', msiProperty: 'jc_user', help: 'Linux: the user the jump client runs as (required when installing as root)' },
  { flag: '--nostart', value: null, msiProperty: 'NOSTART', help: 'Windows: register the jump client but do not start it now (e.g. in an image template)' },
  {
    flag: '--offline',
    value: null,
    msiProperty: 'OFFLINE',
    help: 'do not check the installer with the site before installing (a staged or offline install); the jump client enrolls at its first start',
  },
];

/**
 * The seeds' rule from a flag to its MSI property, before the exceptions: `--jc-tag` → `jc_tag`.
 * `--install-dir` and `--silent` are the documented exceptions (`installdir`, `/quiet`).
 */
export function msiPropertyOf(flag: string): string {
  if (flag === '--install-dir') return 'installdir';
  if (flag === '--silent') return '/quiet';
  // Our own addition, not the seeds': a public (uppercase) property, so no copy is needed.
  if (flag === '--nostart') return 'NOSTART';
  if (flag === '--offline') return 'OFFLINE';
  return flag.replace(/^-+/, '').replace(/-/g, '_');
}

/** The `--jc-*` flags: those that ask for one of the overridable fields, in INSTALLER_FLAGS' order. */
export const JC_FLAGS: readonly (InstallerFlag & { field: OverridableField })[] = INSTALLER_FLAGS.filter(
  (f): f is InstallerFlag & { field: OverridableField } => f.field !== undefined,
);

/** The flag that asks for `field`, e.g. `jump_group` → `--jc-jump-group`. */
export function flagOfField(field: OverridableField): string {
  return JC_FLAGS.find((f) => f.field === field)!.flag;
}

/** Commander's attribute name for a long flag: `--jc-jump-group` → `jcJumpGroup`. */
export function optionKey(flag: string): string {
  return flag.replace(/^-+/, '').replace(/-([a-z])/g, (_m, c: string) => c.toUpperCase());
}

/** A flag's commander spelling: `--jc-tag <tag-name>`, or the bare flag for a switch. */
export function optionSpec(f: InstallerFlag): string {
  return f.value ? `${f.flag} ${f.value}` : f.flag;
}
