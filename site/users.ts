/**
 * Users of the site: admins and technicians (DESIGN.md "Security model").
 */
import { closeSync, openSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import type { ApiUser } from '../protocol/api.js';
import { JumpError, invalidField } from '../protocol/errors.js';
import { userName } from '../protocol/fields.js';
import { PASSWORD_MIN, hashPassword, randomPassword } from './auth.js';
import type { Role, Store, User } from './store/store.js';

/**
 * Creates a user with a hashed password and their personal jump group `user:<name>`.
 * Throws VALIDATION_FAILED (field `name` or `password`) or USER_EXISTS.
 */
export async function addUser(
  store: Store,
  input: { name: string; password: string; role: Role; viewPersonalGroups?: boolean; mustChangePassword?: boolean },
): Promise<User> {
  const r = userName.safeParse(input.name);
  if (!r.success) throw invalidField('name', r.error.issues[0].message);
  checkPassword(input.password);
  if (await store.getUserByName(input.name)) throw new JumpError('USER_EXISTS', { field: 'name', detail: `User: ${input.name}.` });
  return store.createUser({
    name: input.name,
    role: input.role,
    passwordHash: await hashPassword(input.password),
    viewPersonalGroups: input.viewPersonalGroups ?? false,
    mustChangePassword: input.mustChangePassword ?? false,
    now: Date.now(),
  });
}

/** Throws VALIDATION_FAILED (field `password`) for a password shorter than PASSWORD_MIN characters. */
export function checkPassword(password: string): void {
  if (password.length < PASSWORD_MIN) throw invalidField('password', `must be at least ${PASSWORD_MIN} characters`);
  if (password.length > 1024) throw invalidField('password', 'must be at most 1024 characters');
}

/** The file in the data dir holding the bootstrap admin password until it is changed. */
export const BOOTSTRAP_PASSWORD_FILE = 'bootstrap-admin-password';

/**
 * On a site with no users, creates `admin` with a random password that must be changed at first
 * login, writes the password to `<dataDir>/bootstrap-admin-password` (mode 0600, created new) and
 * returns that file's path. The password itself is never printed or logged: under systemd stderr
 * is the journal, readable by more people than the data dir (security issue #12, item 17).
 * Returns null when the site already has users.
 */
export async function bootstrapAdmin(store: Store, dataDir: string): Promise<string | null> {
  if ((await store.listUsers()).length > 0) return null;
  const password = randomPassword();
  const file = join(dataDir, BOOTSTRAP_PASSWORD_FILE);
  rmSync(file, { force: true });
  const fd = openSync(file, 'wx', 0o600);
  try {
    writeSync(fd, password + '\n');
  } finally {
    closeSync(fd);
  }
  await addUser(store, { name: 'admin', password, role: 'admin', mustChangePassword: true });
  return file;
}

/** Removes the bootstrap password file once the password in it no longer works. */
export function removeBootstrapPasswordFile(dataDir: string): void {
  rmSync(join(dataDir, BOOTSTRAP_PASSWORD_FILE), { force: true });
}

/** The JSON shape of a user in the API and `--json` output (protocol/api.ts ApiUser). */
export function userJson(u: User): ApiUser {
  return {
    id: u.id,
    name: u.name,
    role: u.role,
    view_personal_groups: u.viewPersonalGroups,
    ...(u.mustChangePassword ? { password_change_required: true } : {}),
    ...(u.disabled ? { disabled: true } : {}),
    created_at: new Date(u.createdAt).toISOString(),
  };
}
