/**
 * Jump groups: shared groups with members, and one personal group `user:<name>` per user
 * (seeds: Jump Group). References typed by people are either a shared group's name or
 * `user:<username>`.
 */
import type { ApiJumpGroup } from '../protocol/api.js';
import { JumpError, invalidField } from '../protocol/errors.js';
import { sharedGroupName } from '../protocol/fields.js';
import { canSeeGroup, canUseGroup } from './access.js';
import type { JumpGroup, Store, User } from './store/store.js';

/**
 * Resolves a jump group reference. Throws JUMP_GROUP_NOT_FOUND (naming `field`) when no such group
 * exists or, when `user` is given, when they may not see it: the same answer, so a technician
 * cannot learn which group names exist (security issue #12 item 18). Throws PERMISSION_DENIED
 * when `user` sees the group but may not use it (another user's personal group seen with
 * view-personal-groups, item 16).
 */
export async function resolveGroup(store: Store, ref: string, field: string, user?: User): Promise<JumpGroup> {
  const group = await store.getGroupByName(ref);
  const notFound = () => new JumpError('JUMP_GROUP_NOT_FOUND', { field, detail: `${field}: "${ref}"` });
  if (!group) throw notFound();
  if (user) {
    if (!(await canSeeGroup(store, user, group))) throw notFound();
    if (!(await canUseGroup(store, user, group))) {
      throw new JumpError('PERMISSION_DENIED', { field, detail: `You may view jump group "${group.name}" but not use it.` });
    }
  }
  return group;
}

/**
 * Creates a shared group. Throws VALIDATION_FAILED (field `name`) or JUMP_GROUP_EXISTS. The `user:`
 * prefix is reserved in any case (`USER:bob`): names are unique case-insensitively.
 */
export async function createSharedGroup(store: Store, name: string): Promise<JumpGroup> {
  const r = sharedGroupName.safeParse(name);
  if (!r.success) throw invalidField('name', r.error.issues[0].message);
  if (name.toLowerCase().startsWith('user:')) throw invalidField('name', 'must not start with "user:" in any case (reserved for personal groups)');
  return store.createGroup({ name, kind: 'shared', ownerUserId: null });
}

/** The JSON shape of a group in the API (protocol/api.ts ApiJumpGroup). */
export function groupJson(g: JumpGroup, members?: User[]): ApiJumpGroup {
  return {
    id: g.id,
    name: g.name,
    kind: g.kind,
    ...(members ? { members: members.map((m) => m.name) } : {}),
  };
}
