/**
 * The agent's persistent state in its config dir (mode 0700; owned by root in service mode, where
 * the agent runs as root and sessions run as the install's user, so no session can read the key;
 * owned by the user in user mode, where sessions run as that same user and can read it: see
 * docs/security.md):
 *
 * - `agent.json` (conf, mode 0600): site URL, site pin, client id once enrolled, the installer key
 *   (KEY_INFO) until enrollment succeeds (then removed), requested fields, machine id override.
 * - `agent.key` (mode 0600): the jump client's Ed25519 private key, generated here at the agent's
 *   first start (never by an installer: a golden image installed with NOSTART=1 holds none); it
 *   never leaves the machine. agent.json's `key_machine_id` is the machine id it was made on: a
 *   config copied to another machine (a cloned disk) is recognised, see identityFromConfig.
 * - `agent.log`: the pino log.
 */
import type { KeyObject } from 'node:crypto';
import { chmodSync, existsSync, lstatSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Conf from 'conf';
import { z } from 'zod';
import { newEd25519Key, parseSitePin, privateKeyFromPem } from '../protocol/handshake.js';
import { requestedFieldsSchema, type RequestedFields } from '../protocol/messages.js';

const configSchema = z.object({
  site_url: z.string().url().optional(),
  site_pin: z.string().optional(),
  client_id: z.number().int().positive().optional(),
  key_info: z.string().optional(),
  requested: requestedFieldsSchema.optional(),
  machine_id: z.string().min(1).max(128).optional(),
  /** The local user's switch: while true, no Jump session may start (seeds: "disabled by the user"). */
  disabled: z.boolean().optional(),
  /** When the installer's validity ends (ms since the epoch): the first start must come before it. */
  installer_expires_at: z.number().int().optional(),
  /** Allow port forwarding to private (LAN) addresses, not only this machine's own. */
  forward_lan: z.boolean().optional(),
  /** The machine id agent.key was made on (issue #16, item 5): another one means a cloned config. */
  key_machine_id: z.string().min(1).max(128).optional(),
  /**
   * The site's update-signing key, `ed25519:<base64url>` (issue #17, protocol/update.ts): from the
   * installer's stamp, else the first authenticated welcome's; never replaced (pinUpdateKey).
   */
  update_pin: z.string().regex(/^ed25519:[A-Za-z0-9_-]{43}$/).optional(),
});
export type AgentConfigData = z.infer<typeof configSchema>;

/**
 * Service mode's rule for the config dir (security issue #12 item 4): when it exists, `dir` and its
 * `agent.key` and `agent.json` must be real files/dirs (not symlinks), owned by root, with no
 * group or other permission bits, so no session (which runs as the install's user) can read the
 * identity key. Throws an Error naming the path and the fix (reinstall; an install made before
 * this rule left them owned by the user).
 */
export function checkRootOnlyDir(dir: string): void {
  for (const path of [dir, join(dir, 'agent.key'), join(dir, 'agent.json')]) {
    let st;
    try {
      st = lstatSync(path);
    } catch {
      continue; // created by the agent, as root, with mode 0600/0700
    }
    if (st.isSymbolicLink() || st.uid !== 0 || (st.mode & 0o077) !== 0) {
      throw new Error(
        `${path} must be owned by root with no group or other access (it holds the identity key); reinstall this jump client with the current installer`,
      );
    }
  }
}

export class AgentConfig {
  readonly dir: string;
  private readonly conf: Conf<AgentConfigData>;

  /** Opens (creating) the config dir. Throws when `agent.json` exists but is not valid. */
  constructor(dir: string) {
    this.dir = dir;
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    this.conf = new Conf<AgentConfigData>({
      cwd: dir,
      configName: 'agent',
      configFileMode: 0o600,
      // A corrupt config must stop the agent, not be silently replaced by an empty one (which
      // would lose the enrollment).
      clearInvalidConfig: false,
      projectName: 'jump-client',
    });
    const parsed = configSchema.safeParse(this.conf.store);
    if (!parsed.success) {
      throw new Error(`${this.conf.path} is not a valid agent config: ${parsed.error.issues[0].path.join('.')} ${parsed.error.issues[0].message}`);
    }
    if (existsSync(this.conf.path)) chmodSync(this.conf.path, 0o600);
  }

  get data(): AgentConfigData {
    return configSchema.parse(this.conf.store);
  }

  /** Merges `patch` into agent.json (keys set to undefined are removed). */
  update(patch: Partial<AgentConfigData>): void {
    for (const [k, v] of Object.entries(patch) as [keyof AgentConfigData, unknown][]) {
      if (v === undefined) this.conf.delete(k);
      else this.conf.set(k, v as never);
    }
  }

  get logFile(): string {
    return join(this.dir, 'agent.log');
  }

  /** The jump client's private key, generated (0600) on first use. */
  privateKey(): KeyObject {
    const file = join(this.dir, 'agent.key');
    if (!existsSync(file)) {
      const privateKey = newEd25519Key();
      writeFileSync(file, privateKey.export({ format: 'pem', type: 'pkcs8' }).toString(), { mode: 0o600, flag: 'wx' });
    }
    return privateKeyFromPem(readFileSync(file, 'utf8'));
  }
}

/** What the agent needs to connect; validated from config. */
export interface AgentIdentity {
  siteUrl: string;
  sitePin: string;
  sitePublicKey: KeyObject;
  privateKey: KeyObject;
  clientId: number | null;
  keyInfo: string | null;
  requested: RequestedFields;
  machineId: string;
  /**
   * Set when this config is a copy of an enrolled jump client made on another machine (see
   * identityFromConfig): the agent only tells the site (`auth` with `clone`) and stops; it never
   * starts a session with the original's identity.
   */
  clone?: { keyMachineId: string; machineId: string } | null;
}

/**
 * Builds the identity from config. Throws `Error` naming the missing or malformed setting and how
 * to give it (the enrollment flags are needed only on the first start).
 *
 * The identity key belongs to one machine, on every platform (issue #16, item 5): it is made at the
 * first start and `key_machine_id` records `machineId`, the operating system's machine id (Windows
 * MachineGuid, /etc/machine-id; not the config's `machine_id` override, which tests and the fleet
 * simulator set per run), beside it. When `machineId` differs from the recorded one, the config was
 * copied to another machine (a cloned disk or image):
 * - not enrolled yet, or enrolled and still holding its installer key (KEY_INFO): the copy re-keys
 *   (a new agent.key, the client id dropped) and enrolls as a jump client of its own;
 * - enrolled, KEY_INFO gone: the identity comes back with `clone` set and nothing changed on disk.
 *   The agent then tells the site it is a copy (the site records it on the jump client and
 *   answers JUMP_CLIENT_CLONED) and stops: it never holds a session with the original's identity
 *   (the two would keep replacing each other on the site). Fix: reinstall on this machine.
 * A key without a recorded machine id (made before this rule) is adopted by this machine.
 */
export function identityFromConfig(cfg: AgentConfig, machineId: string): AgentIdentity {
  const sitePublicKey = checkIdentitySettings(cfg.data);
  const machine = machineId;
  const keyFile = join(cfg.dir, 'agent.key');
  const recorded = cfg.data.key_machine_id;
  let clone: AgentIdentity['clone'] = null;
  if (recorded !== undefined && recorded !== machine && existsSync(keyFile)) {
    // Enrolled, installer key gone: a copy. Nothing changes on disk (it stays a copy at the next start).
    if (cfg.data.client_id !== undefined && !cfg.data.key_info) clone = { keyMachineId: recorded, machineId: machine };
    else {
      rmSync(keyFile, { force: true });
      cfg.update({ client_id: undefined, key_machine_id: undefined });
    }
  }
  const privateKey = cfg.privateKey();
  if (!clone && cfg.data.key_machine_id !== machine) cfg.update({ key_machine_id: machine });
  const d = cfg.data;
  return {
    siteUrl: d.site_url!,
    sitePin: d.site_pin!,
    sitePublicKey,
    privateKey,
    clientId: d.client_id ?? null,
    keyInfo: d.key_info ?? null,
    requested: d.requested ?? {},
    machineId: d.machine_id ?? machineId,
    clone,
  };
}

/**
 * The checks identityFromConfig makes on the settings, without touching the identity key (an
 * installer checks a config it wrote with this: the key is made at the agent's first start, on the
 * machine it runs on, never at install; issue #16, item 5). Returns the site's public key; throws
 * `Error` naming the missing or malformed setting.
 */
export function checkIdentitySettings(d: AgentConfigData): KeyObject {
  if (!d.site_url) throw new Error('no site URL: give --site on the first start');
  if (!d.site_pin) throw new Error('no site pin: give --site-pin on the first start');
  if (d.client_id === undefined && !d.key_info) throw new Error('not enrolled yet: give --key-info on the first start');
  let sitePublicKey: KeyObject;
  try {
    sitePublicKey = parseSitePin(d.site_pin);
  } catch (err) {
    throw new Error(`the site pin is malformed (${(err as Error).message}); copy it from \`jump installer create --json\``);
  }
  const u = new URL(d.site_url);
  if (u.protocol !== 'https:' && u.protocol !== 'wss:') throw new Error('the site URL must start with https://');
  return sitePublicKey;
}

/** What pinUpdateKey did with a welcome's `update_pin`. */
export type UpdatePinResult = 'pinned' | 'same' | 'mismatch' | 'none';

/**
 * Self-update's key pinning (issue #17): the agent keeps the update-signing key it got first, from
 * the installer's stamp (written at install) or else from the first authenticated welcome that
 * carries one (`offered`), and never replaces it. Returns `pinned` (saved now), `same`, `mismatch`
 * (the site sent another key: the caller logs it and refuses updates) or `none` (nothing pinned,
 * nothing offered).
 */
export function pinUpdateKey(cfg: AgentConfig, offered: string | undefined): UpdatePinResult {
  const pinned = cfg.data.update_pin;
  if (pinned === undefined) {
    if (offered === undefined) return 'none';
    cfg.update({ update_pin: offered });
    return 'pinned';
  }
  if (offered === undefined || offered === pinned) return 'same';
  return 'mismatch';
}
