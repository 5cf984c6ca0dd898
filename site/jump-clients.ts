/**
 * The Jump interface's operations on jump clients (seeds: "Starting a session through a Jump
 * Client": list, search, statistics, Properties, Remove), with access rules applied.
 *
 * A client the user may not see is reported as JUMP_CLIENT_NOT_FOUND, never as forbidden, so its
 * existence does not leak across personal groups.
 */
import { z } from 'zod';
import { JumpError, invalidField } from '../protocol/errors.js';
import type { ApiJumpClient, ApiJumpClientDetail, ApiSummary } from '../protocol/api.js';
import { JUMP_CLIENT_MODES, JUMP_METHOD, SEARCH_FIELDS, SORT_FIELDS, cleanText, commentsField, jumpGroupRef, nameField, tagField } from '../protocol/fields.js';
import { canSeeGroup, canUseGroup, visibleGroupIds } from './access.js';
import { formatDuration, parseDuration } from '../protocol/duration.js';
import { sshPublicKeyFromRaw } from '../protocol/ssh-keys.js';
import { resolveGroup } from './jump-groups.js';
import { clientDisplayName, type ClientLimits, type ClientPatch, type ClientSummary, type JumpClient, type Store, type User } from './store/store.js';

/** Query of `GET /api/v1/jump-clients`. `fields` is a comma-separated subset of SEARCH_FIELDS. */
export const listQuery = z.strictObject({
  search: z.string().max(256).optional(),
  fields: z
    .string()
    .max(512)
    .optional()
    .transform((s, ctx) => {
      if (!s) return undefined;
      const list = s.split(',').map((f) => f.trim()).filter(Boolean);
      for (const f of list) {
        if (!(SEARCH_FIELDS as readonly string[]).includes(f)) {
          ctx.addIssue({ code: 'custom', message: `unknown search field "${f}"; use ${SEARCH_FIELDS.join(', ')}` });
          return z.NEVER;
        }
      }
      return list as (typeof SEARCH_FIELDS)[number][];
    }),
  group: jumpGroupRef.optional(),
  tag: z.string().max(64).optional(),
  limit: z.coerce.number().int().min(1).max(100_000).optional(),
  /** Rows skipped before the page; needs `limit` (the web console's paging). */
  offset: z.coerce.number().int().min(0).max(10_000_000).optional(),
  /** A column of SORT_FIELDS; ties by id. Default: group, tag, name. */
  sort: z.enum(SORT_FIELDS, { message: `must be one of ${SORT_FIELDS.join(', ')}` }).optional(),
  order: z.enum(['asc', 'desc'], { message: 'must be asc or desc' }).optional(),
  /** `1`: the answer also lists the tags in use per visible group (`tags`; the Jump interface's arrows). */
  with_tags: z.enum(['0', '1'], { message: 'must be 0 or 1' }).optional(),
});

/** Body of `PATCH /api/v1/jump-clients/:id`. An empty name returns to showing the hostname. */
export const editBody = z
  .strictObject({
    name: z.union([z.literal(''), nameField]).optional(),
    jump_group: jumpGroupRef.optional(),
    tag: tagField.optional(),
    comments: commentsField.optional(),
    /** Active (one persistent connection) or passive; a switch to active counts against jump-clients.max-active. */
    mode: z.enum(JUMP_CLIENT_MODES).optional(),
    /** Its own offline lifetime (`30d`), or `0` for the site's jump-clients.max-offline. */
    max_offline: z
      .string()
      .max(16)
      .refine((t) => t.trim() === '0' || parseDuration(t) !== null, 'must be a duration with its unit (e.g. 30d, 12h) or 0 for the site default')
      .optional(),
  })
  .refine((b) => Object.keys(b).length > 0, 'give at least one of name, jump_group, tag, comments, mode, max_offline');

/** Body of `POST /api/v1/jump-clients/delete`: up to 1000 ids, all deleted or none. */
export const deleteBody = z.strictObject({ ids: z.array(z.number().int().positive()).min(1).max(1000) });

/** Lists the clients `user` may see that match `q`. Throws JUMP_GROUP_NOT_FOUND for an unknown `group`. */
export async function listClients(
  store: Store,
  user: User,
  q: z.output<typeof listQuery>,
): Promise<{ items: JumpClient[]; summary: ClientSummary }> {
  const visible = await visibleGroupIds(store, user);
  let jumpGroupId: number | undefined;
  if (q.group !== undefined) {
    const g = await store.getGroupByName(q.group);
    if (!g || (visible !== null && !visible.includes(g.id))) {
      throw new JumpError('JUMP_GROUP_NOT_FOUND', { field: 'group', detail: `group: "${q.group}"` });
    }
    jumpGroupId = g.id;
  }
  return store.listClients({
    visibleGroupIds: visible,
    search: q.search,
    fields: q.fields,
    jumpGroupId,
    tag: q.tag,
    limit: q.limit,
    offset: q.offset,
    sort: q.sort,
    order: q.order,
  });
}

/**
 * Finds one client by id (all digits) or by name. Throws JUMP_CLIENT_NOT_FOUND (also for clients
 * the user may not see) or JUMP_CLIENT_AMBIGUOUS when several visible clients share the name.
 * `need` 'use' (the default: edit, delete, Jump) also throws PERMISSION_DENIED for a client the
 * user may only see (site/access.ts).
 */
export async function findClient(store: Store, user: User, ref: string, need: 'see' | 'use' = 'use'): Promise<JumpClient> {
  let candidates: JumpClient[];
  if (/^\d{1,15}$/.test(ref)) {
    const c = await store.getClient(Number(ref));
    candidates = c ? [c] : [];
  } else {
    candidates = await store.findClientsByName(ref);
  }
  const visible: JumpClient[] = [];
  for (const c of candidates) if (await canSeeClient(store, user, c)) visible.push(c);
  if (visible.length === 0) throw new JumpError('JUMP_CLIENT_NOT_FOUND', { detail: `Jump client: ${ref}.` });
  if (visible.length > 1) {
    throw new JumpError('JUMP_CLIENT_AMBIGUOUS', { detail: `Matching ids: ${visible.map((c) => c.id).join(', ')}.` });
  }
  if (need === 'use') {
    const g = await store.getGroupById(visible[0].jumpGroupId);
    if (!g || !(await canUseGroup(store, user, g))) {
      throw new JumpError('PERMISSION_DENIED', { detail: `You may view jump client ${visible[0].id} (jump group "${visible[0].jumpGroupName}") but not use it.` });
    }
  }
  return visible[0];
}

async function canSeeClient(store: Store, user: User, c: JumpClient): Promise<boolean> {
  const g = await store.getGroupById(c.jumpGroupId);
  return g !== null && (await canSeeGroup(store, user, g));
}

/**
 * Edits a client's properties (seeds: "Edit Jump Client"). Moving it to another jump group needs
 * access to that group too. Uninstalled clients stay editable: they stay listed until deleted.
 * A switch from passive to active is checked against `limits.maxActive` (seeds: "The number of
 * active Jump Clients has been reached").
 * Throws JUMP_CLIENT_NOT_FOUND, JUMP_GROUP_NOT_FOUND, PERMISSION_DENIED or ACTIVE_LIMIT_REACHED.
 */
export async function editClient(store: Store, user: User, id: number, body: z.output<typeof editBody>, limits?: ClientLimits): Promise<JumpClient> {
  const client = await findClient(store, user, String(id));
  const patch: ClientPatch = {};
  if (body.name !== undefined) patch.name = body.name === '' ? null : body.name;
  if (body.tag !== undefined) patch.tag = body.tag;
  if (body.comments !== undefined) patch.comments = body.comments;
  if (body.jump_group !== undefined) patch.jumpGroupId = (await resolveGroup(store, body.jump_group, 'jump_group', user)).id;
  if (body.mode !== undefined) patch.mode = body.mode;
  if (body.max_offline !== undefined) patch.maxOfflineMs = body.max_offline.trim() === '0' ? 0 : parseDuration(body.max_offline)!;
  await store.updateClient(client.id, patch, limits);
  await store.audit({ at: Date.now(), userId: user.id, action: 'jump_client.edit', target: `jump_client:${id}`, detail: JSON.stringify(body) });
  return (await store.getClient(client.id))!;
}

/**
 * Deletes clients, all or none: every id must exist and be visible to `user`, else
 * JUMP_CLIENT_NOT_FOUND naming the first missing id and nothing is deleted. Returns the ids deleted.
 */
export async function deleteClients(store: Store, user: User, ids: number[]): Promise<number[]> {
  const unique = [...new Set(ids)];
  for (const id of unique) await findClient(store, user, String(id));
  const done = await store.deleteClients(unique, Date.now());
  for (const id of done) {
    await store.audit({ at: Date.now(), userId: user.id, action: 'jump_client.delete', target: `jump_client:${id}` });
  }
  return done;
}

/**
 * `POST /api/v1/jump-clients/:id/release`: an admin clears a client's quarantine (security issue
 * #12 item 4), after deciding the two connections were not a copied key (else: delete the client).
 * `rawId` is the route's `:id`. Returns `{ item }` (the client's JSON). Throws VALIDATION_FAILED
 * (field `id`), PERMISSION_DENIED (not an admin), JUMP_CLIENT_NOT_FOUND, or VALIDATION_FAILED
 * when the client is not quarantined.
 */
export async function releaseClientRoute(store: Store, user: User, rawId: string): Promise<{ item: ApiJumpClientDetail }> {
  const id = z.coerce.number().int().positive().safeParse(rawId);
  if (!id.success) throw invalidField('id', 'must be a jump client id (a positive integer)');
  if (user.role !== 'admin') throw new JumpError('PERMISSION_DENIED', { detail: 'Only an admin may release a quarantined jump client.' });
  const client = await findClient(store, user, String(id.data));
  if (!(await store.releaseClient(client.id))) throw invalidField('id', `jump client ${client.id} is not quarantined`);
  await store.audit({
    at: Date.now(),
    userId: user.id,
    action: 'jump_client.release',
    target: `jump_client:${client.id}`,
    detail: `was quarantined: ${client.quarantineReason ?? ''}`,
  });
  return { item: clientJson((await store.getClient(client.id))!, { stats: true }) };
}

/** `v` with every string in it passed through `cleanText` (objects and arrays copied). */
function cleanDeep(v: unknown): unknown {
  if (typeof v === 'string') return cleanText(v);
  if (Array.isArray(v)) return v.map(cleanDeep);
  if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, cleanDeep(x)]));
  return v;
}

const iso = (t: number | null) => (t === null ? null : new Date(t).toISOString());

/**
 * The JSON shape of a jump client in the API and in `jump clients --json` (protocol/api.ts
 * ApiJumpClient); with `stats`, its last statistics too (ApiJumpClientDetail).
 */
export function clientJson(c: JumpClient): ApiJumpClient;
export function clientJson(c: JumpClient, opts: { stats: true }): ApiJumpClientDetail;
export function clientJson(c: JumpClient, opts?: { stats?: boolean }): ApiJumpClient | ApiJumpClientDetail;
export function clientJson(c: JumpClient, opts: { stats?: boolean } = {}): ApiJumpClient | ApiJumpClientDetail {
  // Statistics are cleaned when they arrive (protocol/messages.ts); cleaning again here covers rows
  // stored by builds before that (security issue #12 item 1).
  const s = cleanDeep(c.stats) as JumpClient['stats'];
  return {
    id: c.id,
    name: clientDisplayName({ id: c.id, name: c.name, hostname: s.hostname }),
    custom_name: c.name,
    hostname: s.hostname ?? null,
    public_ip: c.publicIp,
    private_ips: s.private_ips ?? [],
    jump_method: JUMP_METHOD,
    comments: c.comments,
    jump_group: c.jumpGroupName,
    tag: c.tag,
    status: c.status,
    mode: c.mode,
    console_user: s.console_user ?? null,
    domain: s.domain ?? null,
    workgroup: s.workgroup ?? null,
    last_connected: iso(c.lastConnectedAt),
    last_disconnected: iso(c.lastDisconnectedAt),
    last_access: iso(c.lastAccessAt),
    uninstalled_at: iso(c.uninstalledAt),
    created_at: iso(c.createdAt),
    installer: c.installerUid,
    duplicate_machine_id: c.duplicateMachineId,
    /** Another installer's jump client that reported this machine id first; an admin decides. */
    duplicate_of: c.duplicateOf,
    /** The identity was used by two live connections at once: connections and Jumps are refused. */
    quarantined: c.quarantinedAt !== null,
    quarantined_at: iso(c.quarantinedAt),
    quarantine_reason: c.quarantineReason,
    clone_report: c.cloneReport ? { at: iso(c.cloneReport.at)!, machine_id: c.cloneReport.machineId, public_ip: c.cloneReport.publicIp, count: c.cloneReport.count } : null,
    lost_at: iso(c.lostAt),
    purge_at: iso(c.purgeAt),
    max_offline: c.maxOfflineMs ? formatDuration(c.maxOfflineMs) : null,
    /** The jump client's SSH host key (its identity key), for known_hosts. */
    host_key: sshPublicKeyFromRaw(c.publicKey),
    version: c.version,
    platform: c.platform,
    update_failure: c.updateFailure ? { version: c.updateFailure.version, code: c.updateFailure.code, reason: c.updateFailure.reason, at: iso(c.updateFailure.at)! } : null,
    ...(opts.stats ? { stats: s } : {}),
  };
}

/** The listing's totals (protocol/api.ts ApiSummary). */
export function summaryJson(s: ClientSummary): ApiSummary {
  return { jump_items: s.jumpItems, jump_clients: s.jumpClients, online: s.online, offline: s.offline, passive: s.passive };
}
