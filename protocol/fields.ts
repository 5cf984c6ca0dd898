/**
 * Jump client fields a person edits (seeds: "Edit Jump Client": Name, Jump Group, Tag, Comments)
 * and the search fields of the Jump interface.
 */
import { z } from 'zod';
import { COMMENTS_MAX, GROUP_NAME_MAX, NAME_MAX, TAG_MAX, USER_NAME_MAX } from './limits.js';

/** No control characters (they would corrupt tables and logs). Tab is not allowed either. */
const printable = /^[^\u0000-\u001f\u007f]*$/;

export const nameField = z
  .string()
  .min(1, 'must not be empty')
  .max(NAME_MAX, `must be at most ${NAME_MAX} characters`)
  .regex(printable, 'must not contain control characters');
/** An empty tag returns the client to its jump group's top level (seeds: Tag). */
export const tagField = z
  .string()
  .max(TAG_MAX, `must be at most ${TAG_MAX} characters`)
  .regex(printable, 'must not contain control characters');
/** Comments may span lines, so newlines are allowed. */
export const commentsField = z
  .string()
  .max(COMMENTS_MAX, `must be at most ${COMMENTS_MAX} characters`)
  .regex(/^[^\u0000-\u0008\u000b-\u001f\u007f]*$/, 'must not contain control characters');
/** A shared jump group name; `user:` is reserved for personal groups. */
export const sharedGroupName = z
  .string()
  .min(1, 'must not be empty')
  .max(GROUP_NAME_MAX, `must be at most ${GROUP_NAME_MAX} characters`)
  .regex(printable, 'must not contain control characters')
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
  .max(GROUP_NAME_MAX + 5, 'is too long')
  .regex(printable, 'must not contain control characters');

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

/** Fields an installer may let the install command override (`--allow-override`). */
export const OVERRIDABLE_FIELDS = ['name', 'jump_group', 'tag', 'comments'] as const;
export type OverridableField = (typeof OVERRIDABLE_FIELDS)[number];

export const JUMP_CLIENT_MODES = ['active', 'passive'] as const;
export type JumpClientMode = (typeof JUMP_CLIENT_MODES)[number];

/** Status of a jump client as the Jump interface shows it. */
export type JumpClientStatus = 'online' | 'offline' | 'uninstalled';

/** The only jump method this project has today (seeds: Jump Method column). */
export const JUMP_METHOD = 'Jump Client';
