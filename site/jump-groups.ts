/**
 * Jump groups: shared groups with members, and one personal group `user:<name>` per user
 * (seeds: Jump Group). References typed by people are either a shared group's name or
 * `user:<username>`.
 */
import { JumpError, invalidField } from '../protocol/errors.js';
import { sharedGroupName } from '../protocol/fields.js';
import { canAccessGroup } from './access.js';
import type { JumpGroup, Store, User } from './store/store.js';

/**
 * Resolves a jump group reference. Throws JUMP_GROUP_NOT_FOUND (naming `field`) when no such group
 * exists, and PERMISSION_DENIED when `user` is given and may not use it.
 */
export async function resolveGroup(store: Store, ref: string, field: string, user?: User): Promise<JumpGroup> {
  const group = await store.getGroupByName(ref);
  if (!group) throw new JumpError('JUMP_GROUP_NOT_FOUND', { field, detail: `${field}: "${ref}"` });
  if (user && !(await canAccessGroup(store, user, group))) {
    throw new JumpError('PERMISSION_DENIED', { field, detail: `You are not a member of jump group "${ref}".` });
  }
  return group;
}

/** Creates a shared group. Throws VALIDATION_FAILED (field `name`) or JUMP_GROUP_EXISTS. */
export async function createSharedGroup(store: Store, name: string): Promise<JumpGroup> {
  const r = sharedGroupName.safeParse(name);
  if (!r.success) throw invalidField('name', r.error.issues[0].message);
  return store.createGroup({ name, kind: 'shared', ownerUserId: null });
}

/** The JSON shape of a group in the API. */
export function groupJson(g: JumpGroup, members?: User[]) {
  return {
    id: g.id,
    name: g.name,
    kind: g.kind,
    ...(members ? { members: members.map((m) => m.name) } : {}),
  };
}
