/**
 * What every route file of the API shares: the context, the access levels and the helpers.
 *
 * Access is declared per route (security issue #12, item 11) in its options' `config.access`, and
 * checked by the one hook in site/api.ts against the route the router matched, never against the
 * raw URL (which may be percent-encoded or carry a fragment). A route that declares nothing is
 * refused (deny by default).
 */
import type { CodeSigning } from '../../protocol/code-signing.js';
import type { UpdateService } from '../updates.js';
import type { FastifyRequest } from 'fastify';
import type { z } from 'zod';
import type { ApiSession } from '../../protocol/api.js';
import { JumpError, invalidField } from '../../protocol/errors.js';
import type { AgentGateway } from '../agent-gateway.js';
import type { HashQueue, LoginThrottle } from '../auth.js';
import type { SiteMetrics } from '../metrics.js';
import type { ClientEvents } from '../events.js';
import type { SessionBroker } from '../sessions.js';
import type { SiteSettings } from '../settings.js';
import type { SessionRecord, Store, User } from '../store/store.js';

/**
 * Who may call a route:
 * - `public`: anyone (login, health check);
 * - `user`: any signed-in user (a valid API token);
 * - `admin`: a signed-in admin;
 * - `metrics`: an admin's token, or any local process when the site runs with `--metrics-open-loopback`.
 */
export type Access = 'public' | 'user' | 'admin' | 'metrics';
export const ACCESS_LEVELS: readonly Access[] = ['public', 'user', 'admin', 'metrics'];

/** A route's `config`: its access level, and whether a user who must change their password may call it. */
export interface RouteAccess {
  access: Access;
  /** True for `me`, `me/password` and `logout`: the only calls a user with a pending password change may make. */
  duringPasswordChange?: boolean;
}

declare module 'fastify' {
  interface FastifyRequest {
    user: User | null;
  }
  interface FastifyContextConfig {
    access?: Access;
    duringPasswordChange?: boolean;
  }
}

export interface ApiContext {
  store: Store;
  gateway: AgentGateway;
  sessions: SessionBroker;
  metrics: SiteMetrics;
  /** The settings in effect (site/settings.ts). */
  settings: SiteSettings;
  dataDir: string;
  siteUrl: string;
  sitePin: string;
  /** Self-update (issue #17, site/updates.ts): policy, status, the update-signing pin. */
  updates: UpdateService;
  fingerprint: string;
  version: string;
  /** Login throttling and the bounded password-hashing queue (site/auth.ts). */
  throttle: LoginThrottle;
  hashQueue: HashQueue;
  /** A token unused for this long stops working, in ms. */
  tokenIdleMs: number;
  /** `/metrics` answers local processes without a token (`--metrics-open-loopback`). */
  metricsOpenLoopback: boolean;
  /** Jump client changes on this node, for the web console's events stream (site/events.ts). */
  events?: ClientEvents;
  /** The folder of `npm run package`'s platform folders the wizard's Download builds from (`--installer-packages`). */
  installerPackagesDir: string;
  /** The code-signing certificate the Download signs Windows files with (`--sign-cert`), or null. */
  codeSigning: CodeSigning | null;
}

/** Route options declaring `access` (and optionally `duringPasswordChange`). */
export function allow(access: Access, opts: { duringPasswordChange?: boolean } = {}): { config: RouteAccess } {
  return { config: { access, ...opts } };
}

/** The signed-in user of a `user` or `admin` route (set by the access hook). */
export function me(req: FastifyRequest): User {
  if (!req.user) throw new JumpError('UNAUTHENTICATED');
  return req.user;
}

/**
 * Parses `data` with `schema`, or throws VALIDATION_FAILED naming the first bad field. `name` is
 * what `data` is when the issue is with `data` itself: `body` (default), or a path parameter
 * (`id`, `ref`, `user`). Only a missing body counts as `{}`: a JSON `null` is not an object and is
 * refused like any other non-object body (both found by the API fuzz, docs/reliability.md section 1).
 */
export function parse<S extends z.ZodType>(schema: S, data: unknown, name = 'body'): z.output<S> {
  const r = schema.safeParse(data === undefined ? {} : data);
  if (r.success) return r.data;
  const issue = r.error.issues[0];
  const field = issue.path.length > 0 ? issue.path.join('.') : name;
  if (issue.code === 'unrecognized_keys') throw invalidField(issue.keys.join(', '), 'unknown field; remove it');
  throw invalidField(field, issue.message);
}

/** The JSON shape of a session's record in the API (protocol/api.ts ApiSession). */
export function sessionJson(s: SessionRecord): ApiSession {
  const iso = (t: number | null) => (t === null ? null : new Date(t).toISOString());
  return {
    id: s.id,
    client_id: s.clientId,
    client: s.clientName,
    user: s.userName,
    kind: s.kind,
    started_at: iso(s.startedAt),
    ended_at: iso(s.endedAt),
    bytes_to_client: s.bytesToClient,
    bytes_from_client: s.bytesFromClient,
    exit_status: s.exitStatus,
    end_reason: s.endReason,
    recording: s.recording !== null,
  };
}

/** True for a loopback peer address (IPv4 127/8, ::1, IPv4-mapped 127/8). */
export function isLoopback(ip: string): boolean {
  return ip === '::1' || ip.startsWith('127.') || ip.startsWith('::ffff:127.');
}

