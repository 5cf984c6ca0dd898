/**
 * KEY_INFO, the installer key (seeds: "Mass deployment", `KEY_INFO=...` on the msiexec line): the
 * one definition of its shape, used where it is received (the agent's `enroll` message,
 * protocol/messages.ts), stamped (the installer stamp, protocol/stamp.ts) and typed by a person
 * (`jump-client run --key-info`, `jump-client msi-configure --key-info`). The site makes 47
 * lowercase base-36 characters (site/installers.ts `newKeyInfo`); anything of 8 to 128 lowercase
 * letters and digits is accepted, so a key of another length made later still parses.
 */
import { z } from 'zod';

/** The shortest and longest KEY_INFO accepted, in characters. */
export const KEY_INFO_MIN = 8;
export const KEY_INFO_MAX = 128;

/** KEY_INFO: KEY_INFO_MIN to KEY_INFO_MAX lowercase ASCII letters and digits. */
export const keyInfoField = z.string().min(KEY_INFO_MIN).max(KEY_INFO_MAX).regex(/^[a-z0-9]+$/);

/**
 * KEY_INFO as a person typed it (a command-line flag, an msiexec property), in its canonical form:
 * surrounding blanks removed, lowercase. Not validated here: parse the result with `keyInfoField`.
 */
export function normalizeKeyInfo(typed: string): string {
  return typed.trim().toLowerCase();
}
