/**
 * Jump client changes, as they happen on this node, for the web console's live updates (issue #19
 * item 2: a client going online or offline, or enrolling, shows without a reload).
 *
 * `observeClientChanges` wraps the store's writing methods once, at start-up (site/server.ts), so
 * every writer (agent gateway, API routes, lifecycle sweep) is seen without each having to report.
 * Each change names the client and the jump group it was in when it changed: the events route
 * (site/routes/events.ts) sends a user only the changes of groups they may see.
 */
import { EventEmitter } from 'node:events';
import type { Store } from './store/store.js';

/** What happened to a jump client. */
export type ClientChangeKind = 'enrolled' | 'online' | 'offline' | 'edited' | 'stats' | 'deleted' | 'lost' | 'purged' | 'uninstalled';

/** One change: the client's id, its jump group's id (before a delete or a move: both groups get one each), and what happened. */
export interface ClientChange {
  id: number;
  groupId: number;
  kind: ClientChangeKind;
  /** ms since the epoch. */
  at: number;
}

/** The node's change feed: `on('change', (c: ClientChange) => ...)`. */
export class ClientEvents extends EventEmitter {
  constructor() {
    super();
    // One listener per open events stream (one per browser tab).
    this.setMaxListeners(0);
  }

  emitChange(c: ClientChange): void {
    this.emit('change', c);
  }
}

/**
 * Wraps `store`'s methods that change jump clients (enroll, setClientOnline, setClientOffline,
 * updateClient, updateStats with full statistics, markUninstalled, deleteClients, sweepLifecycle)
 * so that each success also emits a ClientChange on `events`. Returns `store` itself. A failing
 * look-up of a group never fails the write: the change is then not reported.
 */
export function observeClientChanges<S extends Store>(store: S, events: ClientEvents): S {
  // Nobody listening (no page open): no look-ups at all, so a fleet reconnecting after a restart
  // costs the store nothing more than before.
  const idle = () => events.listenerCount('change') === 0;
  const groupOf = async (id: number): Promise<number | null> => (idle() ? null : ((await store.getClient(id))?.jumpGroupId ?? null));
  const report = (id: number, kind: ClientChangeKind, groupIds: (number | null)[]) => {
    const at = Date.now();
    for (const groupId of new Set(groupIds)) if (groupId !== null) events.emitChange({ id, groupId, kind, at });
  };
  const after = (id: number, kind: ClientChangeKind, before: (number | null)[] = []) =>
    idle()
      ? Promise.resolve()
      : groupOf(id)
          .then((g) => report(id, kind, [...before, g]))
          .catch(() => undefined);

  const s = store as Store;
  const enroll = s.enroll.bind(s);
  s.enroll = async (input) => {
    const r = await enroll(input);
    report(r.client.id, 'enrolled', [r.client.jumpGroupId]);
    return r;
  };
  const online = s.setClientOnline.bind(s);
  s.setClientOnline = async (id, info) => {
    await online(id, info);
    void after(id, 'online');
  };
  const offline = s.setClientOffline.bind(s);
  s.setClientOffline = async (id, now, passiveUntil) => {
    await offline(id, now, passiveUntil);
    void after(id, 'offline');
  };
  const update = s.updateClient.bind(s);
  s.updateClient = async (id, patch, limits) => {
    const before = patch.jumpGroupId !== undefined ? await groupOf(id).catch(() => null) : null;
    await update(id, patch, limits);
    void after(id, 'edited', [before]);
  };
  const stats = s.updateStats.bind(s);
  s.updateStats = async (id, st, full) => {
    await stats(id, st, full);
    if (full) void after(id, 'stats');
  };
  const uninstalled = s.markUninstalled.bind(s);
  s.markUninstalled = async (id, now) => {
    await uninstalled(id, now);
    void after(id, 'uninstalled');
  };
  const del = s.deleteClients.bind(s);
  s.deleteClients = async (ids, now) => {
    const groups = new Map<number, number | null>();
    if (!idle()) for (const id of ids) groups.set(id, await groupOf(id).catch(() => null));
    const done = await del(ids, now);
    for (const id of done) report(id, 'deleted', [groups.get(id) ?? null]);
    return done;
  };
  const sweep = s.sweepLifecycle.bind(s);
  s.sweepLifecycle = async (now, maxOfflineMs, lostGraceMs) => {
    const r = await sweep(now, maxOfflineMs, lostGraceMs);
    for (const id of r.lost) void after(id, 'lost');
    // A purged client is gone from getClient, so its group is unknown and no stream is told; it
    // was listed lost before, and leaves the list at the next reload.
    return r;
  };
  return store;
}
