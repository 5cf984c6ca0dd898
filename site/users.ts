/**
 * Users of the site: admins and technicians (DESIGN.md "Security model").
 */
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
  input: { name: string; password: string; role: Role; viewPersonalGroups?: boolean },
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
    now: Date.now(),
  });
}

/** Throws VALIDATION_FAILED (field `password`) for a password shorter than PASSWORD_MIN characters. */
export function checkPassword(password: string): void {
  if (password.length < PASSWORD_MIN) throw invalidField('password', `must be at least ${PASSWORD_MIN} characters`);
  if (password.length > 1024) throw invalidField('password', 'must be at most 1024 characters');
}

/**
 * On a site with no users, creates `admin` with a random password and returns that password
 * (the caller prints it once; it is never logged or stored in clear). Returns null otherwise.
 */
export async function bootstrapAdmin(store: Store): Promise<string | null> {
  if ((await store.listUsers()).length > 0) return null;
  const password = randomPassword();
  await addUser(store, { name: 'admin', password, role: 'admin' });
  return password;
}

/** The JSON shape of a user in the API and `--json` output. */
export function userJson(u: User) {
  return {
    id: u.id,
    name: u.name,
    role: u.role,
    view_personal_groups: u.viewPersonalGroups,
    created_at: new Date(u.createdAt).toISOString(),
  };
}
