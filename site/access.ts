/**
 * Who may see which jump group (seeds: "Jump Items are grouped by who can access them ... You must
 * have permission to view Jump Items pinned to other users' personal Jump Groups").
 *
 * - An admin sees every group.
 * - A technician sees the shared groups they are a member of and their own personal group
 *   `user:<name>`; with `viewPersonalGroups` they also see every other user's personal group.
 * Seeing a group means listing, showing, editing and deleting its jump clients.
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

/** True when `user` may see jump group `group`. */
export async function canAccessGroup(store: Store, user: User, group: JumpGroup): Promise<boolean> {
  if (user.role === 'admin') return true;
  if (group.kind === 'personal') return group.ownerUserId === user.id || user.viewPersonalGroups;
  return (await store.memberGroupIds(user.id)).includes(group.id);
}
