/**
 * The API fuzzer (docs/reliability.md section 1): every route of site/routes/*.ts (the table below
 * is checked against the source), called as an admin and unauthenticated, with generated path
 * parameters, query strings and bodies (valid, at the limits and invalid: wrong types, huge and
 * empty strings, unicode, deep nesting, numbers out of range, extra fields), and malformed HTTP
 * bodies (bad JSON, wrong content type, past the 256 KiB limit). Invariants on every answer:
 * - never a 5xx; an error is `{ error: { code, message } }` with a catalog code whose HTTP status
 *   is the answer's (VALIDATION_FAILED also comes as Fastify's 413/415 for a body too large or of
 *   an unknown type);
 * - unauthenticated, a well-formed call of a non-public route is 401 UNAUTHENTICATED;
 * - as an admin, a body or query that breaks the route's documented rules is 400
 *   VALIDATION_FAILED naming the field.
 *
 * Connections: keep-alive, one per lane, each lane from its own loopback address (127.0.5.x);
 * logins and password changes, which the site throttles per address (10 failures in 5 min) and
 * hashes with scrypt, go through one more address (127.0.6.1), so the fuzz costs the site at most
 * 10 hashes per 5 minutes and the rest meet the throttle (429, an answer checked like the others).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { connect as netConnect } from 'node:net';
import { join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import fc from 'fast-check';
import { newEd25519Key } from '../../protocol/handshake.js';
import { ERROR_CATALOG, isErrorCode } from '../../protocol/errors.js';
import { API_BODY_MAX_BYTES } from '../../protocol/limits.js';
import { sshPublicKey } from '../../protocol/ssh-keys.js';
import { ROOT } from '../helpers/processes.js';
import { rawAgent } from '../helpers/raw-agent.js';
import { createInstaller } from '../helpers/site.js';
import type { FuzzHarness } from './fuzz-harness.js';
import {
  UNSAFE_MULTILINE_CHARS,
  anyJson,
  array,
  bool,
  b64urlString,
  deepNest,
  int,
  invalidObject,
  nastyString,
  notOfType,
  oneOf,
  printable,
  toJsonText,
  tooLong,
  truncated,
  validObject,
  type Kind,
  type ObjectSpec,
} from './fuzz-gen.js';
import { SHRINK } from './fuzz-agent-lib.js';

/** A string of `min`..`max` units, any content (z.string().min().max()). */
function str(max: number, min = 0): Kind {
  const invalid: fc.Arbitrary<unknown>[] = [notOfType('string'), tooLong(max)];
  if (min > 0) invalid.push(fc.constant(''));
  return { valid: nastyString(max, min), invalid: fc.oneof(...invalid) };
}

type ParamKind = 'id' | 'ref' | 'uid' | 'sid' | 'group' | 'user' | 'key';
type QueryKind = { valid: fc.Arbitrary<string>; invalid: fc.Arbitrary<string> };
type Access = 'public' | 'user' | 'admin' | 'metrics';

/** One route: who may call it, its parameters, its strict query and its body (when the route reads them first). */
export interface RouteSpec {
  method: 'GET' | 'POST' | 'PATCH' | 'PUT' | 'DELETE';
  path: string;
  access: Access;
  params?: ParamKind[];
  /** A strict query schema: unknown or repeated keys and invalid values are VALIDATION_FAILED. */
  query?: Record<string, QueryKind>;
  /** The body schema, checked before anything else the route does. */
  body?: ObjectSpec;
}

const qText = (max: number): QueryKind => ({ valid: nastyString(max), invalid: tooLong(max) });
/** An integer query value in [min, max]; `max` undefined: no upper bound. */
const qInt = (min: number, max?: number): QueryKind => ({
  valid: fc.integer({ min, max: max ?? 2 ** 31 - 1 }).map(String),
  invalid: fc.oneof(
    fc.constantFrom('abc', '1.5', '1e309', 'NaN', '-1', '0x', '1,2'),
    fc.nat().map((n) => String(min - 1 - n)),
    ...(max === undefined ? [] : [fc.nat().map((n) => String(max + 1 + n))]),
  ),
});
const SEARCH_FIELDS = ['comments', 'console_user', 'domain', 'jump_method', 'last_access', 'name', 'private_ip', 'public_ip', 'status', 'tag', 'workgroup'];

const editSpec: ObjectSpec = {
  fields: {
    name: { valid: fc.oneof(fc.constant(''), printable(128, 1).valid), invalid: fc.oneof(notOfType('string'), tooLong(128), printable(128, 1).invalid.filter((v) => v !== '')) },
    jump_group: printable(69, 1),
    tag: printable(64),
    comments: printable(1024, 0, UNSAFE_MULTILINE_CHARS),
  },
  optional: ['name', 'jump_group', 'tag', 'comments'],
};
const realSshKey = fc.constant(null).map(() => sshPublicKey(newEd25519Key()));

/** Every route of site/routes/*.ts, as docs/api.md documents it. */
export const ROUTES: RouteSpec[] = [
  { method: 'GET', path: '/healthz', access: 'public' },
  { method: 'GET', path: '/metrics', access: 'metrics' },
  { method: 'GET', path: '/api/v1/site', access: 'user' },
  { method: 'POST', path: '/api/v1/login', access: 'public', body: { fields: { user: str(64, 1), password: str(1024, 1) } } },
  { method: 'POST', path: '/api/v1/logout', access: 'user' },
  { method: 'GET', path: '/api/v1/me', access: 'user' },
  { method: 'POST', path: '/api/v1/me/password', access: 'user', body: { fields: { current_password: str(1024), new_password: str(1024) } } },
  {
    method: 'GET',
    path: '/api/v1/jump-clients',
    access: 'user',
    query: {
      search: qText(256),
      fields: { valid: fc.array(fc.constantFrom(...SEARCH_FIELDS), { maxLength: 4 }).map((a) => a.join(',')), invalid: fc.oneof(tooLong(512), fc.constantFrom('nope', 'name,nope', 'NAME')) },
      group: { valid: fc.constantFrom('user:admin', 'fuzz-shared'), invalid: fc.oneof(tooLong(69), fc.constant('')) },
      tag: qText(64),
      limit: qInt(1, 100_000),
    },
  },
  { method: 'GET', path: '/api/v1/jump-clients/:ref', access: 'user', params: ['ref'] },
  { method: 'PATCH', path: '/api/v1/jump-clients/:id', access: 'user', params: ['id'], body: editSpec },
  { method: 'POST', path: '/api/v1/jump-clients/:id/release', access: 'admin', params: ['id'] },
  { method: 'POST', path: '/api/v1/jump-clients/delete', access: 'user', body: { fields: { ids: array(int(1), 1, 1000) } } },
  { method: 'DELETE', path: '/api/v1/jump-clients/:id', access: 'user', params: ['id'] },
  {
    method: 'POST',
    path: '/api/v1/jump-clients/:ref/sessions',
    access: 'user',
    params: ['ref'],
    body: { fields: { public_key: { valid: fc.oneof(realSshKey, nastyString(512)), invalid: fc.oneof(notOfType('string'), tooLong(512)) }, kind: oneOf(['shell', 'exec', 'sftp', 'proxy', 'tunnel']) }, optional: ['kind'] },
  },
  { method: 'GET', path: '/api/v1/sessions', access: 'user', query: { client: qInt(1), limit: qInt(1, 10_000) } },
  { method: 'GET', path: '/api/v1/sessions/:id', access: 'user', params: ['sid'] },
  { method: 'GET', path: '/api/v1/sessions/:id/recording', access: 'user', params: ['sid'], query: { part: { valid: fc.constantFrom('terminal', 'file_log'), invalid: fc.oneof(nastyString(20).filter((s) => s !== 'terminal' && s !== 'file_log')) } } },
  {
    method: 'POST',
    path: '/api/v1/installers',
    access: 'user',
    body: {
      fields: {
        valid_for_ms: int(10 * 60_000, 365 * 24 * 3_600_000),
        jump_group: printable(69, 1),
        tag: printable(64),
        comments: printable(1024, 0, UNSAFE_MULTILINE_CHARS),
        name: printable(128, 1),
        max_uses: int(1, 1_000_000),
        mode: oneOf(['active', 'passive']),
        allow_override: array(oneOf(['name', 'jump_group', 'tag', 'comments']), 0, Number.POSITIVE_INFINITY),
      },
      optional: ['valid_for_ms', 'jump_group', 'tag', 'comments', 'name', 'max_uses', 'mode', 'allow_override'],
    },
  },
  { method: 'GET', path: '/api/v1/installers', access: 'user' },
  { method: 'GET', path: '/api/v1/installers/:uid', access: 'user', params: ['uid'] },
  { method: 'POST', path: '/api/v1/installers/:uid/revoke', access: 'user', params: ['uid'] },
  // The wizard's Download (issue #19): a random KEY_INFO is never the installer's, so nothing is built.
  {
    method: 'POST',
    path: '/api/v1/installers/:uid/file',
    access: 'user',
    params: ['uid'],
    body: {
      fields: {
        key_info: {
          valid: fc.string({ unit: fc.constantFrom(...'abcdefghijklmnopqrstuvwxyz0123456789'), minLength: 8, maxLength: 128 }),
          invalid: fc.oneof(notOfType('string'), tooLong(128), fc.constantFrom('', 'short', 'UPPERCASE1', 'with space1', 'k\u00e9y-info-1')),
        },
        platform: oneOf(['linux-x64', 'linux-arm64', 'windows-x64-msi', 'windows-x64-exe']),
      },
    },
  },
  { method: 'GET', path: '/api/v1/jump-groups', access: 'user' },
  { method: 'POST', path: '/api/v1/jump-groups', access: 'admin', body: { fields: { name: str(256) } } },
  { method: 'DELETE', path: '/api/v1/jump-groups/:name', access: 'admin', params: ['group'] },
  { method: 'POST', path: '/api/v1/jump-groups/:name/members', access: 'admin', params: ['group'], body: { fields: { user: str(64) } } },
  { method: 'DELETE', path: '/api/v1/jump-groups/:name/members/:user', access: 'admin', params: ['group', 'user'] },
  { method: 'GET', path: '/api/v1/users', access: 'admin' },
  { method: 'DELETE', path: '/api/v1/users/:name/tokens', access: 'admin', params: ['user'] },
  {
    method: 'POST',
    path: '/api/v1/users',
    access: 'admin',
    body: { fields: { name: str(64), password: str(1024), role: oneOf(['admin', 'technician']), view_personal_groups: bool }, optional: ['role', 'view_personal_groups'] },
  },
  {
    method: 'PATCH',
    path: '/api/v1/users/:name',
    access: 'admin',
    params: ['user'],
    body: { fields: { role: oneOf(['admin', 'technician']), view_personal_groups: bool, password: str(1024), disabled: bool }, optional: ['role', 'view_personal_groups', 'password', 'disabled'] },
  },
  // The web console (issue #19): pages, assets, the events stream (answered once its headers come) and the CSV export.
  { method: 'GET', path: '/', access: 'public' },
  { method: 'GET', path: '/web', access: 'public' },
  { method: 'GET', path: '/web/', access: 'public' },
  { method: 'GET', path: '/login', access: 'public' },
  { method: 'GET', path: '/web/assets/*', access: 'public' },
  { method: 'GET', path: '/web/jump/:id', access: 'public', params: ['id'] },
  { method: 'GET', path: '/web/reports', access: 'public' },
  { method: 'GET', path: '/api/v1/events', access: 'user' },
  { method: 'GET', path: '/api/v1/jump-clients.csv', access: 'user' },
  { method: 'GET', path: '/api/v1/settings', access: 'admin' },
  { method: 'GET', path: '/api/v1/settings/:key', access: 'admin', params: ['key'] },
  { method: 'PUT', path: '/api/v1/settings/:key', access: 'admin', params: ['key'], body: { fields: { value: str(64) } } },
  { method: 'DELETE', path: '/api/v1/settings/:key', access: 'admin', params: ['key'] },
  { method: 'GET', path: '/api/v1/updates', access: 'user' },
  { method: 'GET', path: '/api/v1/updates/builds', access: 'user' },
  { method: 'POST', path: '/api/v1/updates/pause', access: 'admin' },
  { method: 'POST', path: '/api/v1/updates/resume', access: 'admin' },
  { method: 'POST', path: '/api/v1/updates/retry/:id', access: 'admin', params: ['id'] },
];

/** The routes site/routes/*.ts registers (`app.get('/path', ...)`, ...), read from the source. */
export function routesInSource(): string[] {
  const dir = join(ROOT, 'site/routes');
  const out: string[] = [];
  for (const f of readdirSync(dir).filter((n) => n.endsWith('.ts'))) {
    const src = readFileSync(join(dir, f), 'utf8');
    for (const m of src.matchAll(/app\.(get|post|patch|delete|put|head|options|route)(?:<[^>]*>)?\(\s*'([^']+)'/g)) out.push(`${m[1].toUpperCase()} ${m[2]}`);
  }
  return out.sort();
}

/** What the fuzz knows of the site's objects: ids and names to aim parameters at, and what it must not touch. */
export interface ApiPools {
  clientIds: number[];
  /** Jump clients that must stay (the witness agent): never deleted, never Jumped into. */
  protectedIds: number[];
  protectedNames: string[];
  installerUids: string[];
  groups: string[];
  users: string[];
}

/** A path segment: percent-encoded UTF-8 (lone surrogates become U+FFFD), or raw junk `%` sequences (`raw`). */
interface Seg {
  text: string;
  raw: boolean;
}
function encodeSeg(s: string): string {
  return [...Buffer.from(s, 'utf8')].map((b) => (/[A-Za-z0-9\-._~:@!$&'()*+,;=]/.test(String.fromCharCode(b)) ? String.fromCharCode(b) : `%${b.toString(16).toUpperCase().padStart(2, '0')}`)).join('');
}
const rawJunk = fc.constantFrom('%', '%zz', '%FF', '%C0%80', '%ED%A0%80', '%00', '%2e%2e', '..', '.', '%2F', 'a%', '%%41');
function paramValue(kind: ParamKind, pools: ApiPools): fc.Arbitrary<Seg> {
  const pool: Record<ParamKind, fc.Arbitrary<string>> = {
    id: fc.oneof(fc.constantFrom(...pools.clientIds.map(String)), fc.integer({ min: 1 }).map(String), fc.constantFrom('0', '-1', '1.5', '1e309', 'NaN', 'Infinity', '0x10', '00001', '9'.repeat(400), ' 1', 'abc')),
    ref: fc.oneof(fc.constantFrom(...pools.clientIds.map(String)), nastyString(140, 1), fc.constantFrom('0', '-1', 'x'.repeat(128), 'x'.repeat(129), 'host', '*', '%')),
    uid: fc.oneof(fc.constantFrom(...pools.installerUids), b64urlString(22), nastyString(80, 1)),
    sid: fc.oneof(b64urlString(22), nastyString(80, 1), fc.constantFrom('../../etc/passwd', '..%2F..%2Fsite.db')),
    group: fc.oneof(fc.constantFrom(...pools.groups), nastyString(80, 1), fc.constant('user:' + 'x'.repeat(70))),
    user: fc.oneof(fc.constantFrom(...pools.users), nastyString(70, 1), fc.constantFrom('-x', '.x', 'a'.repeat(65))),
    key: fc.oneof(
      fc.constantFrom(
        'jump-clients.max-total',
        'jump-clients.max-active',
        'jump-clients.passive-interval',
        'jump-clients.max-offline',
        'jump-clients.lost-grace',
        'updates.mode',
        'updates.paused',
        'updates.max-concurrent',
        'updates.max-bandwidth',
        'updates.health-timeout',
      ),
      nastyString(80, 1),
      fc.constantFrom('__proto__', 'constructor', 'toString', 'jump-clients.', 'JUMP-CLIENTS.MAX-TOTAL'),
    ),
  };
  return fc.oneof(
    { weight: 8, arbitrary: pool[kind].map((s) => ({ text: encodeSeg(s), raw: false })) },
    { weight: 1, arbitrary: fc.tuple(pool[kind], rawJunk).map(([s, j]) => ({ text: encodeSeg(s) + j, raw: true })) },
    { weight: 1, arbitrary: fc.integer({ min: 1100, max: 3000 }).map((n) => ({ text: 'x'.repeat(n), raw: true })) },
  );
}

/** A generated call. */
export interface ApiCase {
  /** `METHOD /path` of the route in ROUTES (a key, so a failing case prints short). */
  routeKey: string;
  method: string;
  path: string;
  auth: 'admin' | 'none' | 'garbage';
  garbageToken: string;
  contentType: string | null;
  body: Buffer | null;
  /** What was made invalid on purpose, with the answer it must get ([status, code]); null when anything but a 5xx goes. */
  exact: { status: number; code: string; why: string; field?: boolean; fieldName?: string } | null;
  /** The path has raw percent junk or an over-long parameter: the router may answer 400/404 before any route. */
  rawPath: boolean;
  note: string;
}

const contentTypes = fc.constantFrom('application/json', 'application/json; charset=utf-8', 'APPLICATION/JSON', 'text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'application/octet-stream', 'application/json; charset=latin1', 'foo', '');

/** A body: a generated JSON object (valid or broken), random JSON, or bytes that are not a JSON body at all. */
type BodyGen = { json: true; text: string; broke: string | null } | { json: false; data: Buffer; kind: string };
function bodyFor(route: RouteSpec): fc.Arbitrary<BodyGen> {
  const arbs: fc.WeightedArbitrary<BodyGen>[] = [
    { weight: 1, arbitrary: anyJson.map((v) => ({ json: true as const, text: toJsonText(v), broke: 'random' })) },
    { weight: 1, arbitrary: fc.oneof(truncated(fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.stringify(v))).filter((t) => { try { JSON.parse(t); return false; } catch { return true; } }), fc.constantFrom('{', '{"a":', '{"a":1,}', "{'a':1}", 'NaN', '{"a":NaN}', '{"a":1e309}', '\u0000', '{"__proto__":{"x":1}}', '{"constructor":{"prototype":{"x":1}}}', ' ')).map((t) => ({ json: false as const, data: Buffer.from(t), kind: 'bad json' })) },
    { weight: 1, arbitrary: fc.integer({ min: API_BODY_MAX_BYTES + 1, max: API_BODY_MAX_BYTES + 64 * 1024 }).map((n) => ({ json: false as const, data: Buffer.from(`{"a":"${'x'.repeat(n)}"}`), kind: 'past the body limit' })) },
    { weight: 1, arbitrary: deepNest.map((v) => ({ json: true as const, text: toJsonText(v), broke: 'deep' })) },
  ];
  if (route.body) {
    arbs.push({ weight: 4, arbitrary: validObject(route.body).map((v) => ({ json: true as const, text: toJsonText(v), broke: null })) });
    arbs.push({ weight: 5, arbitrary: invalidObject(route.body).map(({ value, broke }) => ({ json: true as const, text: toJsonText(value), broke })) });
  }
  return fc.oneof(...arbs);
}

/** Calls of `route` with generated parameters, query and body. */
function caseFor(route: RouteSpec, pools: ApiPools): fc.Arbitrary<ApiCase> {
  const params = fc.tuple(...(route.params ?? []).map((k) => paramValue(k, pools)));
  const q = route.query;
  const query: fc.Arbitrary<{ text: string; broke: string | null }> = q
    ? fc.oneof(
        fc.record(Object.fromEntries(Object.entries(q).map(([k, v]) => [k, v.valid])), { requiredKeys: [] }).map((o) => ({ text: qs(Object.entries(o)), broke: null })),
        fc.tuple(fc.record(Object.fromEntries(Object.entries(q).map(([k, v]) => [k, v.valid])), { requiredKeys: [] }), fc.constantFrom(...Object.keys(q))).chain(([o, k]) =>
          fc.oneof(
            q[k].invalid.map((bad) => ({ text: qs([...Object.entries(o).filter(([x]) => x !== k), [k, bad]]), broke: k })),
            q[k].valid.map((v) => ({ text: qs([...Object.entries(o), [k, v], [k, v]]), broke: `${k} twice` })),
          ),
        ),
        fc.tuple(fc.string({ minLength: 1, maxLength: 8 }).filter((k) => !Object.keys(q).includes(k)), nastyString(20)).map(([k, v]) => ({ text: qs([[k, v]]), broke: `unknown ${k}` })),
      )
    : fc.oneof(fc.constant({ text: '', broke: null }), fc.tuple(fc.string({ maxLength: 8 }), nastyString(30)).map(([k, v]) => ({ text: qs([[k, v]]), broke: null })));
  const auth = fc.constantFrom('admin', 'admin', 'none', 'garbage') as fc.Arbitrary<'admin' | 'none' | 'garbage'>;
  const garbage = fc.oneof(b64urlString(43), nastyString(60).map((s) => s.replace(/[^\x20-\x7e]/g, '?')), fc.constantFrom('', 'x', 'Bearer', 'null'));
  const body = route.method === 'GET' ? fc.option(bodyFor(route), { freq: 8 }) : fc.option(bodyFor(route), { freq: 10, nil: null });
  const ct = fc.oneof({ weight: 6, arbitrary: fc.constant('application/json') }, { weight: 2, arbitrary: contentTypes }, { weight: 1, arbitrary: fc.constant(null) });
  return fc.record({ params, query, auth, garbage, body, ct }).map(({ params, query, auth, garbage, body, ct }) => {
    let i = 0;
    const segs = params as Seg[];
    let path = route.path.replace(/:[a-z]+/g, () => segs[i++].text);
    path = protect(route, path, segs, pools);
    const rawPath = segs.some((s) => s.raw) || segs.some((s) => s.text.length === 0);
    const bodyBuf = body === null || body === undefined ? null : body.json ? Buffer.from(body.text) : body.data;
    const contentType = bodyBuf ? ct : ct === 'application/json' ? null : ct;
    const c: ApiCase = {
      routeKey: `${route.method} ${route.path}`,
      method: route.method,
      path: path + (query.text ? `?${query.text}` : ''),
      auth: route.path === '/api/v1/logout' && auth === 'admin' ? 'garbage' : auth,
      garbageToken: garbage,
      contentType,
      body: bodyBuf,
      exact: null,
      rawPath,
      note: `${body ? (body.json ? `json body${body.broke ? ` broken:${body.broke}` : ''}` : `body: ${body.kind}`) : 'no body'}${query.broke ? `, query broken:${query.broke}` : ''}`,
    };
    if (route.path === '/api/v1/jump-clients/delete' && c.body && body?.json) {
      // Never the witness: a protected id anywhere in the list becomes one that does not exist.
      c.body = Buffer.from(c.body.toString('utf8').replace(/(?<=[[,])(-?[\d.eE+]+)(?=[,\]])/g, (n) => (pools.protectedIds.includes(Number(n)) ? '999999' : n)));
    }
    c.exact = expected(c, body ?? null, query.broke, decodedSegs(segs));
    return c;
  });
}

/** A query string; every byte but the unreserved ones percent-encoded (`=`, `&`, `+` included). */
function qs(entries: [string, unknown][]): string {
  const enc = (s: string) => [...Buffer.from(s, 'utf8')].map((b) => (/[A-Za-z0-9\-._~]/.test(String.fromCharCode(b)) ? String.fromCharCode(b) : `%${b.toString(16).toUpperCase().padStart(2, '0')}`)).join('');
  return entries.map(([k, v]) => `${enc(k)}=${enc(String(v))}`).join('&');
}

function decodedSegs(segs: Seg[]): (string | null)[] {
  return segs.map((s) => {
    try {
      return decodeURIComponent(s.text);
    } catch {
      return null;
    }
  });
}

/** Keeps the admin's calls off what must stay: the witness agent (no delete, no Jump), the admin's own tokens. */
function protect(route: RouteSpec, path: string, segs: Seg[], pools: ApiPools): string {
  const decoded = decodedSegs(segs).map((d, i) => d ?? segs[i].text);
  const hitsWitness = decoded.some((d) => (d.trim() !== '' && pools.protectedIds.includes(Number(d))) || pools.protectedNames.some((n) => d.toLowerCase().includes(n.toLowerCase())));
  if (hitsWitness && (route.method === 'DELETE' || route.path.endsWith('/sessions'))) return path.replace(/\/jump-clients\/[^/?]+/, '/jump-clients/999999');
  if (route.path === '/api/v1/users/:name/tokens' && decoded[0] === 'admin') return '/api/v1/users/admin-not/tokens';
  return path;
}

/** Length in characters as protocol/limits.ts counts them: code points. */
function chars(s: string): number {
  return [...s].length;
}

/** The exact answer a deliberately broken call must get, or null. */
function expected(c: ApiCase, body: BodyGen | null, queryBroke: string | null, segs: (string | null)[]): ApiCase['exact'] {
  const route = routeOf(c);
  if (c.rawPath) return null;
  const isJsonType = c.contentType !== null && /^application\/json(;|$)/i.test(c.contentType);
  if (route.access !== 'public' && c.auth !== 'admin') return { status: 401, code: 'UNAUTHENTICATED', why: 'no valid token' };
  const badId = (d: string | null) => {
    const n = Number(d);
    return !(d !== null && d.trim() !== '' && Number.isSafeInteger(n) && n > 0);
  };
  const idFirst = ['DELETE /api/v1/jump-clients/:id', 'POST /api/v1/jump-clients/:id/release', 'PATCH /api/v1/jump-clients/:id'].includes(c.routeKey);
  // The id is the route's first check (with a body, Fastify's own refusals of it come first).
  if (idFirst && !body && c.contentType === null && badId(segs[0]) && !c.path.startsWith('/api/v1/jump-clients/999999')) {
    return { status: 400, code: 'VALIDATION_FAILED', why: 'id not a positive integer', field: true, fieldName: 'id' };
  }
  if (c.routeKey === 'GET /api/v1/jump-clients/:ref' && chars(segs[0]!) > 128) return { status: 400, code: 'VALIDATION_FAILED', why: 'ref longer than 128', field: true, fieldName: 'ref' };
  if (route.method === 'GET' || route.method === 'DELETE') {
    if (route.query && queryBroke) return { status: 400, code: 'VALIDATION_FAILED', why: `query ${queryBroke}`, field: true };
    return null;
  }
  // Fastify finds the content type's parser first (none: 415), then reads the body (too long: 413).
  const parsable = c.contentType === null || c.contentType === '' || isJsonType || /^text\/plain/i.test(c.contentType);
  if (body && !parsable) return { status: 415, code: 'VALIDATION_FAILED', why: 'unsupported content type' };
  if (body && !body.json && body.kind === 'past the body limit' && c.contentType) return { status: 413, code: 'VALIDATION_FAILED', why: 'body past 256 KiB' };
  if (!route.body) return null;
  // The client reference is read first: 1..128 characters.
  if (route.path.endsWith('/sessions') && (chars(segs[0]!) < 1 || chars(segs[0]!) > 128)) return null;
  // An empty object is a valid body where every field is optional; random JSON is checked only elsewhere.
  if (body?.json && body.broke === 'random' && body.text === '{}') return null;
  if (body && isJsonType) {
    if (!body.json) return { status: 400, code: 'VALIDATION_FAILED', why: 'not JSON' };
    if (body.broke) return { status: 400, code: 'VALIDATION_FAILED', why: `body ${body.broke}`, field: body.broke !== 'random' && body.broke !== 'deep' };
  }
  return null;
}

const ROUTE_BY_KEY = new Map(ROUTES.map((r) => [`${r.method} ${r.path}`, r]));
function routeOf(c: ApiCase): RouteSpec {
  return ROUTE_BY_KEY.get(c.routeKey)!;
}

/** Calls of every route, as an admin and not, with the routes weighted evenly. */
export function apiCase(pools: ApiPools): fc.Arbitrary<ApiCase> {
  return fc.oneof(...ROUTES.map((r) => caseFor(r, pools)));
}

export interface ApiAnswer {
  status: number;
  body: string;
  contentType: string;
}

/** Sends one call through `agent` (keep-alive) and returns the answer. */
export function send(port: number, agent: HttpsAgent, c: ApiCase, adminToken: string): Promise<ApiAnswer> {
  const headers: Record<string, string> = {};
  if (c.auth === 'admin') headers.authorization = `Bearer ${adminToken}`;
  else if (c.auth === 'garbage') headers.authorization = `Bearer ${c.garbageToken}`;
  if (c.contentType !== null) headers['content-type'] = c.contentType;
  if (c.body) headers['content-length'] = String(c.body.length);
  return new Promise((resolve, reject) => {
    const req = httpsRequest({ host: '127.0.0.1', port, method: c.method, path: c.path, headers, agent, rejectUnauthorized: false, timeout: 20_000 }, (res) => {
      // An event stream (GET /api/v1/events) never ends: its answer is its status and headers.
      if (String(res.headers['content-type'] ?? '').startsWith('text/event-stream')) {
        resolve({ status: res.statusCode ?? 0, body: '', contentType: String(res.headers['content-type']) });
        res.destroy();
        return;
      }
      const chunks: Buffer[] = [];
      res.on('data', (d: Buffer) => chunks.push(d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8'), contentType: String(res.headers['content-type'] ?? '') }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error('no answer within 20 s')));
    req.on('error', reject);
    // The site may answer (401, 413) before reading a large body and close: that is its answer.
    req.end(c.body ?? undefined);
  });
}

/** Describes a call for a failure message. */
export function describeCase(c: ApiCase): string {
  const b = c.body ? c.body.toString('utf8') : '';
  return `${c.method} ${c.path.length > 300 ? c.path.slice(0, 300) + '...' : c.path} [auth ${c.auth}, content-type ${c.contentType}, ${c.note}] ${b.length > 300 ? b.slice(0, 300) + `... (${b.length} bytes)` : b}`;
}

/** Checks one answer against the invariants (throws naming the call). */
export function checkApiAnswer(c: ApiCase, a: ApiAnswer): void {
  const what = () => `${describeCase(c)}\n  answered ${a.status} ${a.body.slice(0, 500)}`;
  if (a.status >= 500 || a.status < 100) throw new Error(`server error: ${what()}`);
  if (a.status >= 400) {
    let err: { code?: unknown; message?: unknown; field?: unknown } | undefined;
    try {
      err = (JSON.parse(a.body) as { error?: typeof err }).error;
    } catch {
      throw new Error(`error answer is not JSON: ${what()}`);
    }
    if (!err || typeof err.code !== 'string' || !isErrorCode(err.code) || typeof err.message !== 'string' || err.message === '') throw new Error(`error answer without a catalog code and message: ${what()}`);
    const catalog = ERROR_CATALOG[err.code].status;
    if (err.code === 'VALIDATION_FAILED' ? ![400, 413, 414, 415].includes(a.status) : catalog !== a.status) throw new Error(`status ${a.status} is not the catalog's ${catalog} for ${err.code}: ${what()}`);
    if (c.exact) {
      if (a.status !== c.exact.status || err.code !== c.exact.code) throw new Error(`expected ${c.exact.status} ${c.exact.code} (${c.exact.why}): ${what()}`);
      if (c.exact.field && (typeof err.field !== 'string' || err.field === '')) throw new Error(`VALIDATION_FAILED does not name the field (${c.exact.why}): ${what()}`);
      if (c.exact.fieldName !== undefined && err.field !== c.exact.fieldName) throw new Error(`VALIDATION_FAILED names field ${String(err.field)}, not ${c.exact.fieldName} (${c.exact.why}): ${what()}`);
    }
    return;
  }
  if (c.exact) throw new Error(`expected ${c.exact.status} ${c.exact.code} (${c.exact.why}), got ${a.status}: ${what()}`);
  if (c.method !== 'HEAD' && /json/.test(a.contentType)) {
    try {
      JSON.parse(a.body);
    } catch {
      throw new Error(`2xx answer is not JSON: ${what()}`);
    }
  }
}

/**
 * Raw HTTP over TLS that no client library would send: broken request lines, bad headers, lying
 * chunked bodies and Content-Lengths, headers past 16 KiB, bodies of any bytes. Each request is
 * complete (one that stops half-way is the slow-client case of the hostile-peer suite, bounded by
 * the request timeout). Only "no crash, no 5xx, no hang" is asked of these: Node's parser answers
 * 400/431 and closes, or the site answers from the route.
 */
export const rawHttp: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom(
    'GET / HTTP/1.1\r\n\r\n',
    'GET /api/v1/site HTTP/9.9\r\nHost: x\r\n\r\n',
    'BREW /api/v1/site HTTP/1.1\r\nHost: x\r\n\r\n',
    'GET /api/v1/site\r\n\r\n',
    'GET  /api/v1/site HTTP/1.1\r\nHost: x\r\n\r\n',
    'POST /api/v1/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 10\r\nContent-Length: 20\r\n\r\n{"user":1}',
    'POST /api/v1/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n',
    'POST /api/v1/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nContent-Length: 2\r\n\r\n2\r\n{}\r\n0\r\n\r\n',
    'POST /api/v1/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: -1\r\n\r\n',
    'POST /api/v1/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 99999999999999999999\r\n\r\n{}',
    'GET /api/v1/site HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer \u0000\r\n\r\n',
    'GET /api/v1/site HTTP/1.1\r\nHost: x\r\nX: y\r\n z\r\n\r\n',
    'GET /api/v1/site HTTP/1.1\r\nHost: x\r\nBad Header: y\r\n\r\n',
    'GET /api/v1/site HTTP/1.1\nHost: x\n\n',
    'GET /%/api HTTP/1.1\r\nHost: x\r\n\r\n',
    'GET /api/v1/jump-clients/%ff%fe HTTP/1.1\r\nHost: x\r\n\r\n',
    'GET http://evil/api/v1/site HTTP/1.1\r\nHost: x\r\n\r\n',
    'GET * HTTP/1.1\r\nHost: x\r\n\r\n',
  ),
  fc
    .tuple(fc.constantFrom('GET', 'POST', 'PATCH', 'DELETE', 'PUT'), fc.constantFrom(...ROUTES.map((r) => r.path)), fc.string({ maxLength: 40 }), fc.integer({ min: 0, max: 20_000 }), fc.string({ unit: 'binary', maxLength: 200 }))
    .map(([m, p, junk, n, body]) => {
      const b = Buffer.from(body, 'utf8').toString('latin1');
      return `${m} ${p} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nX-Junk: ${junk.replace(/[\r\n]/g, '')}${'a'.repeat(n)}\r\nContent-Type: application/json\r\nContent-Length: ${b.length}\r\n\r\n${b}`;
    }),
);

/** Sends raw bytes on a new TLS connection, half-closes, and waits for the answer or the close (at most 15 s: more is a hang). */
export function sendRaw(port: number, localAddress: string, text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const tcp = netConnect({ host: '127.0.0.1', port, localAddress });
    tcp.on('error', () => undefined);
    const s = tlsConnect({ socket: tcp, servername: 'localhost', rejectUnauthorized: false }, () => {
      s.write(Buffer.from(text, 'latin1'));
    });
    let buf = '';
    const timer = setTimeout(() => (s.destroy(), reject(new Error(`raw request neither answered nor closed within 15 s: ${JSON.stringify(text.slice(0, 200))}`))), 15_000);
    s.on('data', (d: Buffer) => {
      buf += d.toString('latin1');
      const m = /^HTTP\/1\.1 (\d{3})/.exec(buf);
      if (m && Number(m[1]) >= 500) {
        clearTimeout(timer);
        s.destroy();
        reject(new Error(`raw request answered ${m[1]}: ${JSON.stringify(text.slice(0, 200))}\n${buf.slice(0, 500)}`));
      }
      if (m && /\r\n\r\n/.test(buf)) {
        clearTimeout(timer);
        s.destroy();
        resolve(m[1]);
      }
    });
    s.on('error', () => undefined);
    s.on('close', () => {
      clearTimeout(timer);
      resolve(/^HTTP\/1\.1 (\d{3})/.exec(buf)?.[1] ?? 'closed');
    });
  });
}

/** How many calls of each part of the API fuzz to try. */
export interface ApiFuzzRuns {
  calls: number;
  raw: number;
}

const LANES = 4;

/**
 * The whole API fuzz against a site: generated calls on 4 keep-alive lanes, then raw malformed
 * HTTP. Logins and password changes go through their own address (see the module comment).
 */
export async function fuzzApi(
  h: { site: { port: number }; count(name: string, n?: number): void },
  adminToken: string,
  pools: ApiPools,
  seed: number,
  runs: ApiFuzzRuns,
): Promise<void> {
  const agents = Array.from({ length: LANES }, (_, i) => new HttpsAgent({ keepAlive: true, maxSockets: 1, localAddress: `127.0.5.${i + 1}` } as ConstructorParameters<typeof HttpsAgent>[0]));
  const loginAgent = new HttpsAgent({ keepAlive: true, maxSockets: 1, localAddress: '127.0.6.1' } as ConstructorParameters<typeof HttpsAgent>[0]);
  try {
    await fc.assert(
      fc.asyncProperty(fc.array(apiCase(pools), { minLength: LANES, maxLength: LANES }), async (cases) => {
        await Promise.all(
          cases.map(async (c, i) => {
            const throttled = c.routeKey === 'POST /api/v1/login' || c.routeKey === 'POST /api/v1/me/password';
            let a: ApiAnswer;
            try {
              a = await send(h.site.port, throttled ? loginAgent : agents[i], c, adminToken);
            } catch (err) {
              throw new Error(`no answer (${(err as Error).message}): ${describeCase(c)}`);
            }
            checkApiAnswer(c, a);
            h.count(c.auth === 'admin' ? 'api as admin' : 'api unauthenticated');
          }),
        );
      }),
      { seed, numRuns: Math.max(1, Math.ceil(runs.calls / LANES)), endOnFailure: !SHRINK },
    );
    await fc.assert(
      fc.asyncProperty(fc.array(rawHttp, { minLength: LANES, maxLength: LANES }), async (texts) => {
        await Promise.all(texts.map((t, i) => sendRaw(h.site.port, `127.0.7.${i + 1}`, t)));
        h.count('raw http', texts.length);
      }),
      { seed, numRuns: Math.max(1, Math.ceil(runs.raw / LANES)), endOnFailure: !SHRINK },
    );
  } finally {
    for (const a of agents) a.destroy();
    loginAgent.destroy();
  }
}

/** Jump clients, installers and a shared group for the fuzz to aim at (the witness is kept out of harm's way). */
export async function apiPools(harness: FuzzHarness): Promise<ApiPools> {
  const victims: number[] = [];
  for (let i = 0; i < 3; i++) {
    const a = await rawAgent(harness.inst, 'ignore', { localAddress: '127.0.8.1', machineId: `fuzz-victim-${i}` });
    victims.push(a.clientId);
    a.close();
  }
  await harness.site.api.request('POST', '/api/v1/jump-groups', { name: 'fuzz-shared' });
  const more = [await createInstaller(harness.site.api, { jump_group: 'fuzz-shared' }), await createInstaller(harness.site.api, { mode: 'passive' })];
  return {
    clientIds: [...victims, harness.witnessId],
    protectedIds: [harness.witnessId],
    protectedNames: ['host-fixture', 'fuzz-witness'],
    installerUids: [harness.inst.uid, ...more.map((m) => m.uid)],
    groups: ['fuzz-shared', 'user:admin'],
    users: ['admin', 'nobody'],
  };
}
