/**
 * The installer's stamped settings: `installer.json`, written by `jump installer create --platform`
 * into the payload of `bomgar-scc-<uid>.bin` (and the per-installer EXE; protocol/installer-files/),
 * read by `jump-client install` from beside its executable (agent/install/cli.ts). The contract
 * between the two programs, so it lives here and both import it.
 *
 * Shape (format 1):
 *   { format: 1, uid, site_url, site_pin, key_info, expires_at (ISO 8601),
 *     defaults: { name, jump_group, tag, comments }, allow_override: [field...] }
 *
 * It holds KEY_INFO, so the file is written 0600 inside a 0700 temp dir and never copied into the
 * install dir whole: the install keeps the key only until enrollment (agent/config.ts).
 */
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { JumpError } from './errors.js';
import { OVERRIDABLE_FIELDS, commentsField, jumpGroupRef, nameField, tagField } from './fields.js';
import { keyInfoField } from './key-info.js';
import type { ApiInstallerCreated } from './api.js';

/** The stamp's file name, in the installer's payload beside lib/. */
export const STAMP_FILE = 'installer.json';

/** The stamp's schema (format 1, above); KEY_INFO and the pin in the shapes the agent accepts. */
export const stampSchema = z.strictObject({
  format: z.literal(1),
  uid: z.string().regex(/^[0-9a-f]{16}$/),
  site_url: z.string().url().refine((u) => u.startsWith('https://'), 'must start with https://'),
  site_pin: z.string().regex(/^ed25519:[A-Za-z0-9_-]{43}$/),
  key_info: keyInfoField,
  expires_at: z.iso.datetime(),
  defaults: z.strictObject({
    name: nameField.nullable(),
    jump_group: jumpGroupRef.nullable(),
    tag: tagField,
    comments: commentsField,
  }),
  allow_override: z.array(z.enum(OVERRIDABLE_FIELDS)),
  /** The site's update-signing key (issue #17, protocol/update.ts), pinned by the agent at install. Optional: older stamps lack it. */
  update_pin: z.string().regex(/^ed25519:[A-Za-z0-9_-]{43}$/).optional(),
});
export type Stamp = z.infer<typeof stampSchema>;

/**
 * The stamp of an installer, from the site's answer to its creation (`POST /api/v1/installers`,
 * the only answer that holds KEY_INFO): what `jump installer create --platform` writes.
 */
export function stampFromCreated(r: ApiInstallerCreated): Stamp {
  return {
    format: 1,
    uid: r.uid,
    site_url: r.site_url,
    site_pin: r.site_pin,
    key_info: r.key_info,
    expires_at: r.expires_at,
    defaults: { name: r.name, jump_group: r.jump_group, tag: r.tag, comments: r.comments },
    allow_override: r.allow_override as Stamp['allow_override'],
    ...(r.update_pin ? { update_pin: r.update_pin } : {}),
  };
}

/** Reads and validates a stamp file. Throws INSTALLER_DAMAGED naming what is wrong. */
export function readStamp(file: string): Stamp {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    const why = (err as NodeJS.ErrnoException).code === 'ENOENT' ? `${file} is missing (run the installer file, not the bare jump-client)` : `${file} is not JSON`;
    throw new JumpError('INSTALLER_DAMAGED', { detail: why });
  }
  const r = stampSchema.safeParse(raw);
  if (!r.success) {
    const i = r.error.issues[0];
    throw new JumpError('INSTALLER_DAMAGED', { detail: `${file}: ${i.path.join('.')} ${i.message}` });
  }
  return r.data;
}
