/**
 * Who may see and who may use which jump group (seeds: "Jump Items are grouped by who can access
 * them ... You must have permission to view Jump Items pinned to other users' personal Jump Groups").
 *
 * - An admin sees and uses every group.
 * - A technician sees and uses the shared groups they are a member of and their own personal
 *   group `user:<name>`.
 * - `viewPersonalGroups` lets a technician SEE every other user's personal group (list and show its
 *   jump clients and sessions), not USE it: editing, moving, deleting and Jumping into a client of
 *   someone else's personal group stay with its owner and admins (security issue #12, item 16).
 */
import type { JumpGroup, Store, User } from './store/store.js';

/** Ids of the groups `user` may see, or `null` for all (admins). */
export async function visibleGroupIds(store: Store, user: User): Promise<number[] | null> {
  if (user.role === 'admin') return null;
  const ids = new Set(await store.memberGroupIds(user.id));
  for (const g of await store.listGroups()) {
    if (g.kind !== 'personal') continue;
    if (g.ownerUserId === user.id || user.viewPersonalGroups) ids.add(g.id);
  }
  return [...ids];
}

/** The see-rule for one group, given the ids of the shared groups `user` is a member of. */
function sees(user: User, group: JumpGroup, memberOf: readonly number[]): boolean {
  if (user.role === 'admin') return true;
  if (group.kind === 'personal') return group.ownerUserId === user.id || user.viewPersonalGroups;
  return memberOf.includes(group.id);
}

/** True when `user` may see (list, show) jump group `group` and its jump clients. */
export async function canSeeGroup(store: Store, user: User, group: JumpGroup): Promise<boolean> {
  if (user.role === 'admin') return true;
  return sees(user, group, group.kind === 'personal' ? [] : await store.memberGroupIds(user.id));
}

/** The jump groups `user` may see (`GET /api/v1/jump-groups`), in the store's order. */
export async function visibleGroups(store: Store, user: User): Promise<JumpGroup[]> {
  const all = await store.listGroups();
  if (user.role === 'admin') return all;
  const memberOf = await store.memberGroupIds(user.id);
  return all.filter((g) => sees(user, g, memberOf));
}

/** True when `user` may use jump group `group`: edit, move into or out of, delete, Jump, create installers. */
export async function canUseGroup(store: Store, user: User, group: JumpGroup): Promise<boolean> {
  if (user.role === 'admin') return true;
  if (group.kind === 'personal') return group.ownerUserId === user.id;
  return (await store.memberGroupIds(user.id)).includes(group.id);
}
