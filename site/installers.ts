/**
 * Mass-deployment installers (seeds: "Before support", "Mass Deployment Help").
 *
 * An installer is a secret key (KEY_INFO) with a validity window ("This installer is valid for"),
 * an optional use limit (many endpoints may enroll with one key), the jump client defaults it
 * stamps (jump group, tag, comments, name, mode) and the list of fields the install command may
 * override. Only the key's SHA-256 is stored: KEY_INFO is shown once, at creation.
 *
 * An installer key is a bearer secret that ends up in files on many machines, so it is treated as
 * leakable (security issue #12 item 2): by default it allows no overrides (`allow_override: []`)
 * and DEFAULT_MAX_USES enrollments, and a jump group asked for at install time must be one the
 * installer's creator may use. The creator's rights are checked at every enrollment, for the group
 * fixed at creation too: a creator removed from the group (or deleted) no longer enrolls into it.
 */
import type { CodeSigning } from '../protocol/code-signing.js';
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { accessSync, constants, existsSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { z } from 'zod';
import type { ApiInstaller, ApiInstallerCreated } from '../protocol/api.js';
import { Worker } from 'node:worker_threads';
import { binFileName, missingPackageFiles } from '../protocol/installer-files/bin-file.js';
import { exeFileName, missingExeFiles } from '../protocol/installer-files/exe-file.js';
import { GENERIC_MSI, SITE_MSI } from '../protocol/installer-files/msi-file.js';
import { KEY_INFO_MAX, KEY_INFO_MIN } from '../protocol/key-info.js';
import { stampFromCreated } from '../protocol/stamp.js';
import { JumpError, type ErrorCode } from '../protocol/errors.js';
import {
  JUMP_CLIENT_MODES,
  OVERRIDABLE_FIELDS,
  commentsField,
  jumpGroupRef,
  nameField,
  tagField,
  type JumpClientMode,
  type OverridableField,
} from '../protocol/fields.js';
import { INSTALLER_VALID_DEFAULT_MS, INSTALLER_VALID_MAX_MS, INSTALLER_VALID_MIN_MS } from '../protocol/limits.js';
import type { RequestedFields } from '../protocol/messages.js';
import { hashToken } from './auth.js';
import { canUseGroup } from './access.js';
import type { InstallerFileJob, InstallerFileResult } from './installer-file-worker.js';
import { resolveGroup } from './jump-groups.js';
import type { Installer, Store, User } from './store/store.js';

/**
 * Enrollments an installer allows when `max_uses` is not given: enough for a small deployment,
 * finite so a leaked installer file cannot enroll machines without end. Give `max_uses` (up to
 * 1 000 000) for a larger mass deployment.
 */
export const DEFAULT_MAX_USES = 100;

/**
 * The API body of `POST /api/v1/installers`. `valid_for_ms` within [10 min, 365 days]; `max_uses`
 * defaults to DEFAULT_MAX_USES and `allow_override` to none.
 */
export const createInstallerBody = z.strictObject({
  valid_for_ms: z
    .number()
    .int()
    .min(INSTALLER_VALID_MIN_MS, 'must be at least 10m')
    .max(INSTALLER_VALID_MAX_MS, 'must be at most 365d')
    .default(INSTALLER_VALID_DEFAULT_MS),
  jump_group: jumpGroupRef.optional(),
  tag: tagField.default(''),
  comments: commentsField.default(''),
  name: nameField.optional(),
  max_uses: z.number().int().min(1, 'must be at least 1').max(1_000_000, 'must be at most 1000000').default(DEFAULT_MAX_USES),
  mode: z.enum(JUMP_CLIENT_MODES).default('active'),
  allow_override: z.array(z.enum(OVERRIDABLE_FIELDS)).default([]),
});
export type CreateInstallerBody = z.input<typeof createInstallerBody>;

/** A new KEY_INFO: 240 random bits as 47 lowercase base-36 characters (the seeds' key shape). */
export function newKeyInfo(): string {
  const n = BigInt('0x' + randomBytes(30).toString('hex'));
  return n.toString(36).padStart(47, '0');
}

/** A new installer uid: 16 hex characters, used in file names (`bomgar-scc-<uid>.bin`). */
export function newInstallerUid(): string {
  return randomBytes(8).toString('hex');
}

/**
 * Why `inst` may not enroll a jump client at `now`, or null when it may.
 * Order: revoked, expired, used up (the most permanent reason first).
 */
export function installerRefusal(inst: Pick<Installer, 'revokedAt' | 'expiresAt' | 'maxUses' | 'uses'>, now: number): ErrorCode | null {
  if (inst.revokedAt !== null) return 'INSTALLER_REVOKED';
  if (inst.expiresAt <= now) return 'INSTALLER_EXPIRED';
  if (inst.maxUses !== null && inst.uses >= inst.maxUses) return 'INSTALLER_USED_UP';
  return null;
}

/**
 * Creates an installer for `user`. The default jump group is the user's personal group.
 * Throws VALIDATION_FAILED, JUMP_GROUP_NOT_FOUND or PERMISSION_DENIED (a group the user cannot see).
 * Returns the stored record and the KEY_INFO (not stored).
 */
export async function createInstaller(
  store: Store,
  user: User,
  body: z.output<typeof createInstallerBody>,
  now: number,
): Promise<{ installer: Installer; keyInfo: string }> {
  const group = await resolveGroup(store, body.jump_group ?? `user:${user.name}`, 'jump_group', user);
  const keyInfo = newKeyInfo();
  const installer: Installer = {
    uid: newInstallerUid(),
    name: body.name ?? null,
    keyHash: hashToken(keyInfo),
    createdAt: now,
    expiresAt: now + body.valid_for_ms,
    maxUses: body.max_uses,
    uses: 0,
    revokedAt: null,
    jumpGroupId: group.id,
    tag: body.tag,
    comments: body.comments,
    mode: body.mode,
    allowOverride: [...new Set(body.allow_override)],
    createdBy: user.id,
  };
  await store.createInstaller(installer);
  return { installer, keyInfo };
}

/**
 * The jump client fields an enrollment gets: the installer's defaults, overridden by what the
 * install command asked for. Throws INSTALLER_OVERRIDE_FORBIDDEN (naming the field) when a value
 * differs from the default and the installer does not allow overriding it, and
 * JUMP_GROUP_NOT_FOUND for a group that does not exist or that the installer's creator may not use
 * (one code for both, so an installer key does not reveal which groups exist), and
 * INSTALLER_REVOKED when the creator no longer exists (their installers die with them; deleteUser
 * also revokes them in the store). The creator's rights are read now, not at creation, and for the
 * group the enrollment ends up in, whether fixed at creation or asked for: a technician removed from
 * a shared group no longer lends it to their installers (security issue #12 item 2).
 */
export async function enrollmentFields(
  store: Store,
  inst: Installer,
  requested: RequestedFields,
): Promise<{ name: string | null; jumpGroupId: number; tag: string; comments: string; mode: JumpClientMode }> {
  const creator = await store.getUserById(inst.createdBy);
  if (!creator) {
    throw new JumpError('INSTALLER_REVOKED', { detail: "The installer's creator has been deleted; an admin makes a new installer." });
  }
  const defaults = await store.getGroupById(inst.jumpGroupId);
  const current: Record<OverridableField, string | null> = {
    name: inst.name,
    jump_group: defaults?.name ?? null,
    tag: inst.tag,
    comments: inst.comments,
  };
  for (const field of OVERRIDABLE_FIELDS) {
    const value = requested[field];
    if (value === undefined || value === current[field]) continue;
    if (!inst.allowOverride.includes(field)) {
      throw new JumpError('INSTALLER_OVERRIDE_FORBIDDEN', { field, detail: `Field: --jc-${field.replace('_', '-')}.` });
    }
    current[field] = value;
  }
  let group = current.jump_group === null ? null : await store.getGroupByName(current.jump_group);
  // The fixed group as much as an asked-for one: only a group the creator may use today.
  if (group && !(await canUseGroup(store, creator, group))) group = null;
  if (!group) {
    throw new JumpError('JUMP_GROUP_NOT_FOUND', {
      field: 'jump_group',
      detail: `--jc-jump-group: "${current.jump_group}" is not a jump group the installer's creator may use.`,
    });
  }
  // `--jc-passive` makes any installer's client passive (the smaller footprint: no permission needed).
  const mode: JumpClientMode = requested.passive ? 'passive' : inst.mode;
  return { name: current.name || null, jumpGroupId: group.id, tag: current.tag ?? '', comments: current.comments ?? '', mode };
}

/**
 * The checks an enrollment with `keyInfo` asking for `requested` passes before the store records
 * it, in the enrollment's order: the key (INSTALLER_KEY_UNKNOWN), then `enrollmentFields` (creator
 * gone: INSTALLER_REVOKED; INSTALLER_OVERRIDE_FORBIDDEN; JUMP_GROUP_NOT_FOUND). The one home of
 * these checks for `enroll` and for the installer's preflight `enroll_check` (site/agent-gateway.ts),
 * so the two cannot disagree. What is left is `installerRefusal` (revoked, expired, used up): the
 * enrollment runs it inside its transaction (a re-sent enrollment of a known key skips it), the
 * preflight right after this. Reads only: records nothing, counts no use.
 */
export async function enrollmentCheck(
  store: Store,
  keyInfo: string,
  requested: RequestedFields,
): Promise<{ inst: Installer; keyHash: string; fields: Awaited<ReturnType<typeof enrollmentFields>> }> {
  const keyHash = hashToken(keyInfo);
  const inst = await store.getInstallerByKeyHash(keyHash);
  if (!inst) throw new JumpError('INSTALLER_KEY_UNKNOWN');
  const fields = await enrollmentFields(store, inst, requested);
  return { inst, keyHash, fields };
}

/** The JSON shape of an installer in the API, never the key (protocol/api.ts ApiInstaller). */
export function installerJson(i: Installer, groupName: string | null, now: number): ApiInstaller {
  return {
    uid: i.uid,
    name: i.name,
    jump_group: groupName,
    tag: i.tag,
    comments: i.comments,
    mode: i.mode,
    allow_override: i.allowOverride,
    created_at: new Date(i.createdAt).toISOString(),
    expires_at: new Date(i.expiresAt).toISOString(),
    max_uses: i.maxUses,
    uses: i.uses,
    revoked_at: i.revokedAt === null ? null : new Date(i.revokedAt).toISOString(),
    state: installerRefusal(i, now) ?? 'VALID',
  };
}

/**
 * The installer files the wizard's Download builds (`POST /api/v1/installers/:uid/file`): the Linux
 * `.bin` for x64 and ARM64, the per-installer Windows EXE, and the site's MSI (KEY_INFO then goes on
 * the msiexec line).
 */
export const INSTALLER_FILE_PLATFORMS = ['linux-x64', 'linux-arm64', 'windows-x64-msi', 'windows-x64-exe'] as const;
export type InstallerFilePlatform = (typeof INSTALLER_FILE_PLATFORMS)[number];

/** Installer files built (and streamed) at once, site-wide: each is a temp file of up to ~100 MB and seconds of gzip. */
export const MAX_INSTALLER_FILE_BUILDS = 2;
/** ... and per user, so one user (or one slow reader) cannot hold every slot. */
export const MAX_INSTALLER_FILE_BUILDS_PER_USER = 1;
/** The longest a download may take, build included, in ms (10 min: ~100 MB at 170 KB/s); then it is cut and its slot freed. */
export const INSTALLER_DOWNLOAD_MAX_MS = 10 * 60_000;

/**
 * The body of `POST /api/v1/installers/:uid/file`: the installer's KEY_INFO (the site keeps only its
 * hash, so the caller sends it back) and the platform. The error names the field, never its value.
 */
export const installerFileBody = z.strictObject({
  key_info: z
    .string({ error: 'must be the KEY_INFO shown when the installer was created' })
    .regex(new RegExp(`^[a-z0-9]{${KEY_INFO_MIN},${KEY_INFO_MAX}}$`), 'must be the KEY_INFO shown when the installer was created (lowercase letters and digits)'),
  platform: z.enum(INSTALLER_FILE_PLATFORMS, { error: `must be one of ${INSTALLER_FILE_PLATFORMS.join(', ')}` }),
});

/** The folder of `npm run package`'s output that holds the package of `platform`. */
export function packagePlatformDir(platform: InstallerFilePlatform): string {
  return platform.startsWith('windows-') ? 'win-x64' : platform;
}

/** The file name the download is saved as: `bomgar-scc-<uid>.bin` (`-arm64.bin`), `bomgar-scc-<uid>.exe`, `bomgar-scc-win64.msi`. */
export function installerFileName(uid: string, platform: InstallerFilePlatform): string {
  if (platform === 'windows-x64-msi') return SITE_MSI;
  if (platform === 'windows-x64-exe') return exeFileName(uid);
  return binFileName(uid, platform);
}

/**
 * True when `keyInfo` is the key of `inst`: its SHA-256 (the hash enrollment looks up, auth.ts
 * hashToken) compared with the stored one in constant time.
 */
export function keyMatches(inst: Pick<Installer, 'keyHash'>, keyInfo: string): boolean {
  const a = Buffer.from(hashToken(keyInfo));
  const b = Buffer.from(inst.keyHash);
  return a.length === b.length && timingSafeEqual(a, b);
}

/** True when an executable `name` is on PATH. */
function onPath(name: string): boolean {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (!dir) continue;
    try {
      accessSync(join(dir, name), constants.X_OK);
      return true;
    } catch {
      /* next */
    }
  }
  return false;
}

/**
 * Checks that the site can build `platform`'s installer file from `packagesDir` (one sub-folder per
 * platform, as `npm run package` writes them). Throws INSTALLER_PACKAGE_MISSING naming the platform,
 * the folder and what it lacks, or INSTALLER_TOOL_MISSING naming msibuild/msiinfo for the MSI.
 */
export function checkInstallerFileInputs(packagesDir: string, platform: InstallerFilePlatform): string {
  const dir = join(packagesDir, packagePlatformDir(platform));
  const missing =
    platform === 'windows-x64-msi'
      ? [GENERIC_MSI].filter((f) => !existsSync(join(dir, f)))
      : platform === 'windows-x64-exe'
        ? missingExeFiles(dir)
        : missingPackageFiles(dir);
  if (missing.length > 0) {
    const what = existsSync(dir) ? `lacks ${missing.join(', ')}` : 'does not exist';
    throw new JumpError('INSTALLER_PACKAGE_MISSING', { detail: `Platform ${platform}: ${dir} ${what}.` });
  }
  if (platform === 'windows-x64-msi') {
    const tools = ['msibuild', 'msiinfo'].filter((t) => !onPath(t));
    if (tools.length > 0) throw new JumpError('INSTALLER_TOOL_MISSING', { detail: `Platform ${platform} needs ${tools.join(' and ')}, not found on the site's PATH.` });
  }
  return dir;
}

/**
 * Builds the installer file of `inst` for `platform` into a new private temp dir (0700) and returns
 * its path, size in bytes and download name, and `dispose`, which removes the temp dir. The writing
 * runs in a worker thread (site/installer-file-worker.ts): the writers' gzip and msibuild would
 * stall the site's event loop. The stamp is what `jump installer create --platform` writes
 * (protocol/stamp.ts stampFromCreated), made from the stored installer, the site's URL, pin and
 * update pin, and `keyInfo` (checked by the caller). The Windows files are signed with `signing`
 * after stamping when the site has a certificate (protocol/code-signing.ts). `packageDir` is the
 * platform's package folder as checkInstallerFileInputs returned it (the caller checks first, before
 * it takes a build slot). Throws a plain Error naming what failed (the route answers
 * INTERNAL_ERROR); nothing is left behind then.
 */
export async function buildInstallerFile(
  inst: Installer,
  groupName: string | null,
  keyInfo: string,
  site: { url: string; pin: string; updatePin: string },
  packageDir: string,
  platform: InstallerFilePlatform,
  signing: CodeSigning | null = null,
): Promise<{ path: string; bytes: number; name: string; dispose: () => void }> {
  const created: ApiInstallerCreated = {
    ...installerJson(inst, groupName, Date.now()),
    key_info: keyInfo,
    site_url: site.url,
    site_pin: site.pin,
    update_pin: site.updatePin,
  };
  const tmp = mkdtempSync(join(tmpdir(), 'jump-installer-file-'));
  const dispose = () => rmSync(tmp, { recursive: true, force: true });
  try {
    const job: InstallerFileJob = { platform, packageDir, outDir: tmp, stamp: stampFromCreated(created), signing: platform.startsWith('windows') ? signing : null };
    const r = await runWorker(job);
    if (!r.ok) throw new Error(r.message);
    return { path: r.path, bytes: r.bytes, name: installerFileName(inst.uid, platform), dispose };
  } catch (err) {
    dispose();
    throw err;
  }
}

/** Temp dirs of installer files older than this are a crashed site's, in ms (a download lasts at most INSTALLER_DOWNLOAD_MAX_MS). */
const STALE_INSTALLER_FILE_MS = 3_600_000;

/**
 * Removes the temp dirs of installer files (`jump-installer-file-*` in the temp dir, each holding a
 * KEY_INFO) that a site which crashed or was killed left behind: those of this user, older than an
 * hour (another site on the machine may be building one now). Called when the site starts. Returns
 * how many it removed; a dir it cannot read or remove is left.
 */
export function sweepInstallerFileTemp(now = Date.now(), dir = tmpdir()): number {
  let removed = 0;
  let names: string[];
  try {
    names = readdirSync(dir).filter((f) => f.startsWith('jump-installer-file-'));
  } catch {
    return 0;
  }
  for (const f of names) {
    try {
      const st = statSync(join(dir, f));
      if (!st.isDirectory() || (process.getuid && st.uid !== process.getuid()) || now - st.mtimeMs < STALE_INSTALLER_FILE_MS) continue;
      rmSync(join(dir, f), { recursive: true, force: true });
      removed++;
    } catch {
      /* gone meanwhile, or not ours to remove */
    }
  }
  return removed;
}

/** Runs `job` in site/installer-file-worker.ts's worker thread; resolves with its one answer. */
function runWorker(job: InstallerFileJob): Promise<InstallerFileResult> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(new URL('./installer-file-worker.js', import.meta.url), { workerData: job });
    let answer: InstallerFileResult | null = null;
    worker.once('message', (m: InstallerFileResult) => (answer = m));
    worker.once('error', reject);
    worker.once('exit', (code) => (answer ? resolve(answer) : reject(new Error(`the installer file worker exited with code ${code} before answering`))));
  });
}
