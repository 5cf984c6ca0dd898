/**
 * Jump client fields a person edits (seeds: "Edit Jump Client": Name, Jump Group, Tag, Comments)
 * and the search fields of the Jump interface.
 */
import { z } from 'zod';
import { COMMENTS_MAX, GROUP_NAME_MAX, NAME_MAX, TAG_MAX, USER_NAME_MAX } from './limits.js';

/**
 * Characters that are never printable text (security issue #12, item 1): C0 and C1 controls, DEL,
 * the bidi embeddings, overrides and isolates (U+202A-202E, U+2066-2069), the bidi marks LRM/RLM
 * (U+200E/200F: invisible, and they reorder what a terminal shows next to them), the line and
 * paragraph separators (U+2028/2029, line breaks to some renderers), zero-width space and BOM
 * (U+200B, U+FEFF: invisible look-alikes), and lone UTF-16 surrogates (not text at all).
 * ZWJ/ZWNJ (U+200C/200D) stay: emoji and several scripts need them.
 */
const UNSAFE_CHAR =
  '[\\u0000-\\u001f\\u007f-\\u009f\\u200b\\u200e\\u200f\\u2028\\u2029\\u202a-\\u202e\\u2066-\\u2069\\ufeff]|[\\ud800-\\udbff](?![\\udc00-\\udfff])|(?<![\\ud800-\\udbff])[\\udc00-\\udfff]';
/** Matches any unsafe character (see UNSAFE_CHAR). */
export const UNSAFE_TEXT = new RegExp(UNSAFE_CHAR);
const UNSAFE_TEXT_G = new RegExp(UNSAFE_CHAR, 'g');
/** Unsafe characters except tab and line feed, which multi-line comments keep. */
const UNSAFE_MULTILINE = new RegExp(`(?![\\t\\n])(?:${UNSAFE_CHAR})`);

/** True when `s` is printable text: no character of UNSAFE_TEXT. */
export function isPrintableText(s: string): boolean {
  return !UNSAFE_TEXT.test(s);
}

/**
 * `s` with every unsafe character (UNSAFE_TEXT) replaced by U+FFFD, so what was removed stays
 * visible. Used for text an agent reports (statistics), which is cleaned rather than refused.
 */
export function cleanText(s: string): string {
  return s.replace(UNSAFE_TEXT_G, '\ufffd');
}

/**
 * `s` is at most `max` UTF-16 code units long, as protocol/limits.ts counts every field length.
 * zod 4's string `.max()` counts code points instead (a character outside the BMP, e.g. an emoji,
 * is 2 units but counts once), so `.max(128)` let a name of 128 emoji (256 units, 512 UTF-8 bytes)
 * through, longer than the site's router takes as a reference (site/server.ts MAX_PARAM_LENGTH);
 * found by test/reliability/installer-inputs.test.ts. Use `.refine(unitsAtMost(N), message)`.
 */
export const unitsAtMost = (max: number) => (s: string): boolean => s.length <= max;

/**
 * A string an agent reports about its machine (hostname, OS name, ...): at most `max` UTF-16 code
 * units as sent, then cleaned with `cleanText`. Cleaned, not refused: a machine with an odd
 * hostname stays online and manageable, and the site stores and returns only printable text.
 */
export const agentText = (max: number) => z.string().refine(unitsAtMost(max), `must be at most ${max} characters`).transform(cleanText);

const printableMessage = 'must not contain control characters, bidi overrides or invisible marks (printable text only)';

export const nameField = z
  .string()
  .min(1, 'must not be empty')
  .refine(unitsAtMost(NAME_MAX), `must be at most ${NAME_MAX} characters`)
  .refine(isPrintableText, printableMessage);
/** An empty tag returns the client to its jump group's top level (seeds: Tag). */
export const tagField = z
  .string()
  .refine(unitsAtMost(TAG_MAX), `must be at most ${TAG_MAX} characters`)
  .refine(isPrintableText, printableMessage);
/** Comments may span lines, so newlines are allowed. */
export const commentsField = z
  .string()
  .refine(unitsAtMost(COMMENTS_MAX), `must be at most ${COMMENTS_MAX} characters`)
  .refine((c) => !UNSAFE_MULTILINE.test(c), `${printableMessage}; tab and line feed are allowed`);
/** A shared jump group name; `user:` is reserved for personal groups. */
export const sharedGroupName = z
  .string()
  .min(1, 'must not be empty')
  .refine(unitsAtMost(GROUP_NAME_MAX), `must be at most ${GROUP_NAME_MAX} characters`)
  .refine(isPrintableText, printableMessage)
  .refine((s) => !s.startsWith('user:'), 'must not start with "user:" (reserved for personal groups)');
/** A user name: letters, digits, `.`, `_`, `-`, starting with a letter or digit. */
export const userName = z
  .string()
  .max(USER_NAME_MAX, `must be at most ${USER_NAME_MAX} characters`)
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, 'use letters, digits, ".", "_" and "-", starting with a letter or digit');
/** A jump group reference: a shared group's name, or `user:<username>` for a personal group. */
export const jumpGroupRef = z
  .string()
  .min(1, 'must not be empty')
  .refine(unitsAtMost(GROUP_NAME_MAX + 5), 'is too long')
  .refine(isPrintableText, printableMessage);

/** The Jump interface's search fields (seeds: "Starting a session ... search"). */
export const SEARCH_FIELDS = [
  'comments',
  'console_user',
  'domain',
  'jump_method',
  'last_access',
  'name',
  'private_ip',
  'public_ip',
  'status',
  'tag',
  'workgroup',
] as const;
export type SearchField = (typeof SEARCH_FIELDS)[number];

/**
 * Columns the Jump interface's list may be sorted by (`GET /api/v1/jump-clients?sort=`; issue #19:
 * "sorting by any column"). `group` is the jump group's name.
 */
export const SORT_FIELDS = [
  'name',
  'hostname',
  'public_ip',
  'private_ip',
  'jump_method',
  'comments',
  'group',
  'tag',
  'status',
  'mode',
  'console_user',
  'domain',
  'workgroup',
  'last_access',
  'last_connected',
  'created_at',
] as const;
export type SortField = (typeof SORT_FIELDS)[number];

/** Fields an installer may let the install command override (`--allow-override`). */
export const OVERRIDABLE_FIELDS = ['name', 'jump_group', 'tag', 'comments'] as const;
export type OverridableField = (typeof OVERRIDABLE_FIELDS)[number];

export const JUMP_CLIENT_MODES = ['active', 'passive'] as const;
export type JumpClientMode = (typeof JUMP_CLIENT_MODES)[number];

/** Status of a jump client as the Jump interface shows it. */
/**
 * `passive`: a passive jump client between check-ins, not yet overdue (issue #18 item 1). `lost`:
 * offline past the site's jump-clients.max-offline (seeds: 180 days), purged after
 * jump-clients.lost-grace unless it connects again.
 */
export type JumpClientStatus = 'online' | 'passive' | 'offline' | 'lost' | 'uninstalled';

/** The only jump method this project has today (seeds: Jump Method column). */
export const JUMP_METHOD = 'Jump Client';
