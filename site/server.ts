/**
 * The running site: one HTTPS port (TLS 1.3) that serves the JSON API and upgrades the agent
 * WebSocket, over the store in the data dir.
 */
import { sweepInstallerFileTemp } from './installers.js';
import type { CodeSigning } from '../protocol/code-signing.js';
import { mkdirSync } from 'node:fs';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { Server as TlsServer } from 'node:tls';
import { hostname } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyReply } from 'fastify';
import type { Logger } from 'pino';
import { JumpError, invalidField } from '../protocol/errors.js';
import { API_BODY_MAX_BYTES, GROUP_NAME_MAX, HANDSHAKE_TIMEOUT_MS, NAME_MAX, USER_NAME_MAX } from '../protocol/limits.js';
import { AgentGateway, GATEWAY_DEFAULTS } from './agent-gateway.js';
import { registerApi, type RouteInfo } from './api.js';
import { handleWebTerminalUpgrade } from './routes/web-terminal.js';
import { loadSiteIdentity } from './identity.js';
import { SqliteStore } from './store/sqlite.js';
import type { Store } from './store/store.js';
import { bootstrapAdmin } from './users.js';
import { BROKER_DEFAULTS, SessionBroker } from './sessions.js';
import { SiteSettings } from './settings.js';
import { DEFAULT_LOGIN_LIMITS, HashQueue, LoginThrottle, TOKEN_IDLE_MS, bearerToken, userFromAuthorization, type LoginLimits } from './auth.js';
import { SiteMetrics } from './metrics.js';
import { VERSION } from '../protocol/version.js';
import { atMostEvery, connectionBudget, openFileLimit, type ConnectionBudget } from './capacity.js';
import { DEFAULT_TLS_GATE, gateTlsHandshakes, type TlsGate } from './tls-gate.js';
import { refusalLog, type RefusalFields } from './refusal-log.js';
import { UpdateService, importBuilds, loadUpdateKey, type UpdateTimings } from './updates.js';
import { ClientEvents, observeClientChanges } from './events.js';
import { installWebAuth, registerWebRoutes } from './routes/web.js';


/**
 * HTTP timeouts of the site's HTTPS server, in ms (security issue #12 item 7: Fastify's defaults of
 * 0 let half-sent headers and bodies hold a connection forever). They bound the request phase
 * only: an agent WebSocket or a Jump relay, once upgraded, is no longer timed by them.
 */
export interface HttpTimeouts {
  /** Time to receive a request's complete headers, from the connection's start (`--headers-timeout`). */
  headersMs: number;
  /** Time to receive a whole request, headers and body (`--request-timeout`). */
  requestMs: number;
  /** An HTTP connection with no traffic at all for this long is closed (`--idle-timeout`). */
  idleMs: number;
  /** A kept-alive connection waits this long for its next request. */
  keepAliveMs: number;
}
/**
 * Keep-alive stays at Fastify's 72 s, longer than the pools of common clients (Node's agent: 5 s),
 * so the client closes an idle connection before the site does and never sends a request into a
 * connection the site is closing ("socket hang up").
 */
export const DEFAULT_HTTP_TIMEOUTS: HttpTimeouts = { headersMs: 10_000, requestMs: 30_000, idleMs: 120_000, keepAliveMs: 72_000 };

/**
 * The router's longest path parameter, in characters: the longest reference a person may type
 * (a client name of NAME_MAX, a group `user:<name>`), every character percent-encoded from up to
 * 3 UTF-8 bytes (`%XX` x 3). find-my-way's default of 100 made valid names of 101-128 characters
 * unusable as references (security issue #12 item 18).
 */
export const MAX_PARAM_LENGTH = Math.max(NAME_MAX, GROUP_NAME_MAX + 5, USER_NAME_MAX + 5) * 9;

/** How often expired and idle API tokens are deleted, in ms. */
const TOKEN_PURGE_MS = 15 * 60_000;
/**
 * How often the site ends Jump sessions of users removed or whose tokens were revoked, in ms
 * (round 2 of issue #12, item 18: `jump-site user remove|passwd` run in another process).
 */
export const SESSION_OWNER_SWEEP_MS = 5_000;
/** How often the site marks clients lost and purges lost ones (issue #18 item 3), in ms. */
export const LIFECYCLE_SWEEP_MS = 5_000;
/** Passive check-ins may take this share of the admission rate before the site warns (at most every 10 min). */
export const PASSIVE_ADMISSION_SHARE = 0.8;

/**
 * Defaults of `SiteOptions`, read by `startSite` and by `jump-site serve`'s `.default(...)`
 * (site/main.ts): the one copy, itself made of the defaults of the parts that apply them
 * (GATEWAY_DEFAULTS, BROKER_DEFAULTS, DEFAULT_TLS_GATE). Times in ms. The recording caps have no
 * flag default: unset, the broker reads its environment variables, then BROKER_DEFAULTS.
 */
export const SITE_DEFAULTS = {
  heartbeatMs: GATEWAY_DEFAULTS.heartbeatMs,
  statsIntervalMs: GATEWAY_DEFAULTS.statsIntervalMs,
  admissionRate: GATEWAY_DEFAULTS.admissionRate,
  /** docs/benchmarks.md, P1 at 50 000. */
  maxTlsHandshakes: DEFAULT_TLS_GATE.max,
  maxTlsHandshakesPerAddress: DEFAULT_TLS_GATE.maxPerAddress,
  tlsHelloTimeoutMs: DEFAULT_TLS_GATE.helloTimeoutMs,
  maxSessionStarts: BROKER_DEFAULTS.maxStarts,
  maxSessionStartsPerUser: BROKER_DEFAULTS.maxStartsPerUser,
  maxSessionStartsPerClient: BROKER_DEFAULTS.maxStartsPerClient,
  sessionConnectTimeoutMs: BROKER_DEFAULTS.connectTimeoutMs,
  sessionIdleTimeoutMs: BROKER_DEFAULTS.idleTimeoutMs,
  ticketTtlMs: BROKER_DEFAULTS.ticketTtlMs,
  httpTimeouts: DEFAULT_HTTP_TIMEOUTS,
  tokenIdleMs: TOKEN_IDLE_MS,
  metricsOpenLoopback: false,
  /**
   * Where the wizard's Download finds the jump-client packages (`--installer-packages`): dist/package
   * beside the site's own code (dist/site/), where `npm run package` writes them, as the console's
   * `jump installer create --platform` defaults to dist/package/<platform>.
   */
  installerPackagesDir: fileURLToPath(new URL('../package', import.meta.url)),
} as const;

export interface SiteOptions {
  dataDir: string;
  host: string;
  /** TCP port; 0 picks a free one. */
  port: number;
  /** The URL agents and consoles use; default `https://<hostname>:<port>`. */
  publicUrl?: string;
  tlsCertFile?: string;
  tlsKeyFile?: string;
  /** Agent heartbeat interval, in ms. Defaults of every option: SITE_DEFAULTS. */
  heartbeatMs?: number;
  statsIntervalMs?: number;
  /** New agent connections admitted per second. */
  admissionRate?: number;
  /** Admitted agent handshakes unfinished at once (default: no limit). */
  maxHandshakes?: number;
  /** TLS handshakes in progress at once; more connections are closed before TLS (site/tls-gate.ts). */
  maxTlsHandshakes?: number;
  /** TLS handshakes in progress at once from one IPv4 address or IPv6 /56 (site/tls-gate.ts). */
  maxTlsHandshakesPerAddress?: number;
  /** Time (ms) a new connection has to send its ClientHello (site/tls-gate.ts). */
  tlsHelloTimeoutMs?: number;
  /**
   * Agent connections this node holds (`--max-agents`); default: as many as the open-file limit
   * allows (site/capacity.ts). Throws RangeError when the limit cannot hold this many.
   */
  maxAgents?: number;
  /** Jump session starts in progress at once, site-wide; timeouts below in ms. */
  maxSessionStarts?: number;
  /** Per-technician and per-jump-client limits on starts in progress (site/sessions.ts). */
  maxSessionStartsPerUser?: number;
  maxSessionStartsPerClient?: number;
  /** Bytes of terminal recording and of SFTP file log kept per session (site/sessions.ts). */
  recordingMaxBytes?: number;
  sftpLogMaxBytes?: number;
  sessionConnectTimeoutMs?: number;
  sessionIdleTimeoutMs?: number;
  ticketTtlMs?: number;
  /** HTTP request timeouts (default DEFAULT_HTTP_TIMEOUTS). */
  httpTimeouts?: Partial<HttpTimeouts>;
  /** An API token unused for this long stops working, in ms (default 12 h, `--token-idle-timeout`). */
  tokenIdleMs?: number;
  /** Login throttling limits (default DEFAULT_LOGIN_LIMITS, site/auth.ts). */
  loginLimits?: Partial<LoginLimits>;
  /** Let local processes read `/metrics` without a token (`--metrics-open-loopback`; default: an admin token is needed). */
  metricsOpenLoopback?: boolean;
  /** Imports the client builds in this folder on start (`--client-builds`, site/updates.ts importBuilds). */
  clientBuildsDir?: string;
  /** The folder holding one package folder per platform (`npm run package`'s output) for the wizard's Download (`--installer-packages`). */
  installerPackagesDir?: string;
  /** Signs the Windows files the Download builds (`--sign-cert`/`--sign-key`; protocol/code-signing.ts); default unsigned. */
  codeSigning?: CodeSigning | null;
  /** Overrides of the update flow's timings (tests; site/updates.ts UPDATE_TIMINGS). */
  updateTimings?: Partial<UpdateTimings>;
  log: Logger;
}

export interface RunningSite {
  url: string;
  listenUrl: string;
  pin: string;
  /** The update-signing key's pin (site/updates.ts), stamped into installers. */
  updatePin: string;
  fingerprint: string;
  /** Connections this node keeps, from its open-file limit (site/capacity.ts). */
  budget: ConnectionBudget;
  /**
   * On the first start only: the file (mode 0600, in the data dir) holding the bootstrap admin's
   * password, which must be changed at first login. Null on later starts.
   */
  bootstrapPasswordFile: string | null;
  /** Every API route and the access it declares (site/api.ts). */
  routes: RouteInfo[];
  store: Store;
  close(): Promise<void>;
}

/** Opens the data dir (mode 0700), the store and the identity, and starts listening. */
export async function startSite(opts: SiteOptions): Promise<RunningSite> {
  // First, so a --max-agents the process cannot hold fails before anything is created.
  const budget = connectionBudget(openFileLimit(), opts.maxAgents);
  mkdirSync(opts.dataDir, { recursive: true, mode: 0o700 });
  // Every change to a jump client is also reported to the web console's events stream (site/events.ts).
  const clientEvents = new ClientEvents();
  const store = observeClientChanges(new SqliteStore(join(opts.dataDir, 'site.db')), clientEvents);
  await store.markAllOffline(Date.now());
  const publicHost = opts.publicUrl ? new URL(opts.publicUrl).hostname : undefined;
  const identity = await loadSiteIdentity(opts.dataDir, {
    tlsCertFile: opts.tlsCertFile,
    tlsKeyFile: opts.tlsKeyFile,
    hosts: [opts.host, ...(publicHost ? [publicHost] : [])].filter((h) => h !== '0.0.0.0' && h !== '::'),
  });
  const bootstrapPasswordFile = await bootstrapAdmin(store, opts.dataDir);
  // Issue #17: the update-signing key (made on first start), and the builds given with --client-builds.
  const updateKey = loadUpdateKey(opts.dataDir);
  if (opts.clientBuildsDir) {
    const imported = await importBuilds(opts.dataDir, store, opts.clientBuildsDir);
    opts.log.info({ builds: imported.map((b) => `${b.platform} ${b.version}`) }, 'client builds imported (--client-builds)');
  }
  // Settings change while the site runs (API, or `jump-site settings` beside it): reread every 2 s.
  const settings = new SiteSettings(store, opts.log.child({ component: 'settings' }));
  await settings.load();
  settings.watch();
  const tokenIdleMs = opts.tokenIdleMs ?? SITE_DEFAULTS.tokenIdleMs;
  await store.purgeTokens(Date.now(), tokenIdleMs);
  const timeouts = { ...SITE_DEFAULTS.httpTimeouts, ...opts.httpTimeouts };

  // Built in dependency order: metrics, the HTTPS server, its TLS gate, the agent gateway (which
  // makes the session broker). The two gauges are read at scrape time, which starts after listen.
  // Peers refused before a request exists (slowloris, a handshake flood): logged, a flood as counts (site/refusal-log.ts).
  const logClientError = refusalLog(opts.log.child({ component: 'api' }), 'HTTP connection closed: request incomplete in time or malformed');
  const logDropped = refusalLog(opts.log.child({ component: 'tls-gate' }), 'connections closed before TLS (handshake bounds, site/tls-gate.ts)');
  const metrics: SiteMetrics = new SiteMetrics({
    connected: (): number => gateway.connectedCount,
    tlsHandshakesInProgress: (): number => gate.inProgress,
    updatesInFlight: (): number => updates.inFlightCount,
  });
  const updates = new UpdateService({
    store,
    dataDir: opts.dataDir,
    pin: updateKey.pin,
    settings,
    link: () => gateway,
    metrics,
    log: opts.log.child({ component: 'updates' }),
    timings: opts.updateTimings,
  });
  await updates.start();
  const app = Fastify({
    // A client that does not finish TLS within the agent handshake limit holds a gate slot no longer.
    https: {
      key: identity.tlsKeyPem,
      cert: identity.tlsCertPem,
      minVersion: 'TLSv1.3',
      handshakeTimeout: HANDSHAKE_TIMEOUT_MS,
      // Node checks headersTimeout and requestTimeout this often (default 30 s): a quarter of the
      // shorter one, so a connection is closed within 1.25 x its bound.
      connectionsCheckingInterval: Math.max(50, Math.min(timeouts.headersMs, timeouts.requestMs) / 4),
    },
    bodyLimit: API_BODY_MAX_BYTES,
    requestTimeout: timeouts.requestMs,
    connectionTimeout: timeouts.idleMs,
    // Never longer than the idle timeout, so the Keep-Alive hint clients get is the real one.
    keepAliveTimeout: Math.min(timeouts.keepAliveMs, timeouts.idleMs),
    routerOptions: { maxParamLength: MAX_PARAM_LENGTH },
    loggerInstance: opts.log.child({ component: 'api' }) as FastifyBaseLogger,
    logController: new LogController({ disableRequestLogging: true }),
    forceCloseConnections: true,
    clientErrorHandler: (err, socket) => answerClientError(err as NodeJS.ErrnoException, socket, logClientError),
    // Errors Fastify answers before routing (a URL that is not valid percent-encoded UTF-8,
    // FST_ERR_BAD_URL) get the catalog's shape like every other bad input, not Fastify's own body
    // (found by the API fuzz, docs/reliability.md section 1).
    frameworkErrors: (err, _req, reply) => {
      const e =
        err.code === 'FST_ERR_BAD_URL'
          ? new JumpError('VALIDATION_FAILED', { field: 'path', detail: 'path: is not valid percent-encoded UTF-8; encode each part of the URL with encodeURIComponent.' })
          : new JumpError('VALIDATION_FAILED', { detail: `Invalid request: ${err.message}` });
      metrics.errors.inc({ code: e.code });
      void (reply as unknown as FastifyReply).code(e.status).send({ error: e.toJSON() });
    },
  });
  const gate: TlsGate = gateTlsHandshakes(app.server as unknown as TlsServer, {
    max: opts.maxTlsHandshakes,
    maxPerAddress: opts.maxTlsHandshakesPerAddress,
    helloTimeoutMs: opts.tlsHelloTimeoutMs,
    onDrop: (reason) => {
      metrics.connectionsDropped.inc({ reason });
      logDropped({ reason });
    },
  });
  const gateway: AgentGateway<SessionBroker> = new AgentGateway({
    metrics,
    store,
    identityKey: identity.key,
    heartbeatMs: opts.heartbeatMs,
    statsIntervalMs: opts.statsIntervalMs,
    admissionRate: opts.admissionRate,
    maxHandshakes: opts.maxHandshakes,
    limits: () => ({ maxTotal: settings.get('jump-clients.max-total'), maxActive: settings.get('jump-clients.max-active') }),
    welcomeFor: async (id) => {
      const c = await store.clientWelcome(id);
      return {
        maxOfflineMs: c?.maxOfflineMs ?? settings.get('jump-clients.max-offline'),
        passiveIntervalMs: c?.mode === 'passive' ? settings.get('jump-clients.passive-interval') : undefined,
      };
    },
    maxAgents: budget.maxAgents,
    log: opts.log.child({ component: 'agent-gateway' }),
    onAgentOnline: (remote) => gate.markKnown(remote),
    updates,
    sessions: (agents) =>
      new SessionBroker({
        store,
        gateway: agents,
        identityKey: identity.key,
        dataDir: opts.dataDir,
        log: opts.log.child({ component: 'sessions' }),
        version: VERSION,
        maxStarts: opts.maxSessionStarts,
        maxStartsPerUser: opts.maxSessionStartsPerUser,
        maxStartsPerClient: opts.maxSessionStartsPerClient,
        recordingMaxBytes: opts.recordingMaxBytes,
        fileLogMaxBytes: opts.sftpLogMaxBytes,
        connectTimeoutMs: opts.sessionConnectTimeoutMs,
        attachTimeoutMs: opts.sessionConnectTimeoutMs,
        idleTimeoutMs: opts.sessionIdleTimeoutMs,
        ticketTtlMs: opts.ticketTtlMs,
        updatingTo: (id) => updates.updatingTo(id),
      }),
  });
  const sessions = gateway.sessions as SessionBroker;

  app.setErrorHandler((err, req, reply) => {
    if (err instanceof JumpError) {
      metrics.errors.inc({ code: err.code });
      if (err.retryAfterMs !== undefined) reply.header('Retry-After', String(Math.max(1, Math.ceil(err.retryAfterMs / 1000))));
      return reply.code(err.status).send({ error: err.toJSON() });
    }
    const e = err as { statusCode?: number; message: string; code?: string };
    if (e.statusCode && e.statusCode >= 400 && e.statusCode < 500) {
      // Fastify's own refusals, before a route runs: named, with the fix, in the catalog's shape.
      const bad = frameworkRefusal(e, req.headers['content-type']);
      metrics.errors.inc({ code: bad.code });
      return reply.code(e.statusCode).send({ error: bad.toJSON() });
    }
    req.log.error({ err }, 'request failed');
    return reply.code(500).send({ error: new JumpError('INTERNAL_ERROR').toJSON() });
  });
  app.setNotFoundHandler((req, reply) => reply.code(404).send({ error: new JumpError('NOT_FOUND', { detail: req.url.split('?')[0] }).toJSON() }));

  let siteUrl = opts.publicUrl ?? '';
  // The web console's cookie and security headers, before the API's access hook (site/routes/web.ts).
  installWebAuth(app);
  // Installer files a crashed site left in the temp dir hold KEY_INFO: removed now (site/installers.ts).
  const swept = sweepInstallerFileTemp();
  if (swept > 0) opts.log.info({ swept }, 'removed installer files left by an earlier run');
  const apiContext = {
    store,
    gateway,
    sessions,
    metrics,
    settings,
    dataDir: opts.dataDir,
    get siteUrl() {
      return siteUrl;
    },
    sitePin: identity.pin,
    updates,
    fingerprint: identity.fingerprint,
    version: VERSION,
    throttle: new LoginThrottle({ ...DEFAULT_LOGIN_LIMITS, ...opts.loginLimits }),
    hashQueue: new HashQueue(),
    tokenIdleMs,
    metricsOpenLoopback: opts.metricsOpenLoopback ?? SITE_DEFAULTS.metricsOpenLoopback,
    events: clientEvents,
    installerPackagesDir: resolve(opts.installerPackagesDir ?? SITE_DEFAULTS.installerPackagesDir),
    codeSigning: opts.codeSigning ?? null,
  };
  const routes = registerApi(app, apiContext);
  // The web console's pages, assets and events stream (issue #19).
  registerWebRoutes(app, apiContext);
  // Node's headersTimeout must not exceed requestTimeout; Fastify sets only the latter.
  app.server.headersTimeout = Math.min(timeouts.headersMs, timeouts.requestMs);
  const purge = setInterval(() => {
    store.purgeTokens(Date.now(), tokenIdleMs).catch((err: unknown) => opts.log.warn({ err }, 'token purge failed'));
  }, TOKEN_PURGE_MS);
  purge.unref();
  const siteStartedAt = Date.now();
  const ownerSweep = setInterval(() => {
    store
      .usersToCutOff(siteStartedAt)
      .then((ids) => {
        for (const id of ids) sessions.endUserSessions(id, 'user removed or tokens revoked');
      })
      .catch((err: unknown) => opts.log.warn({ err }, 'session owner sweep failed'));
  }, SESSION_OWNER_SWEEP_MS);
  ownerSweep.unref();
  const admissionRate = opts.admissionRate ?? SITE_DEFAULTS.admissionRate;
  let passiveLoad = { passive: 0, perSecond: 0 };
  const warnPassiveLoad = atMostEvery(10 * 60_000, () =>
    opts.log.warn(
      { passiveClients: passiveLoad.passive, checkInsPerSecond: Number(passiveLoad.perSecond.toFixed(1)), admissionRate },
      `passive jump clients check in at ${passiveLoad.perSecond.toFixed(1)}/s, over ${PASSIVE_ADMISSION_SHARE * 100} % of --admission-rate ${admissionRate}: they will check in late and enrollments will queue; raise --admission-rate or jump-clients.passive-interval (docs/operations.md, Admission)`,
    ),
  );
  // Issue #18 item 3: offline past jump-clients.max-offline → lost; lost past its grace → purged.
  const lifecycleSweep = setInterval(() => {
    const now = Date.now();
    store
      .sweepLifecycle(now, settings.get('jump-clients.max-offline'), settings.get('jump-clients.lost-grace'))
      .then(async ({ lost, purged }) => {
        for (const id of lost) {
          await store.audit({ at: now, userId: null, action: 'jump_client.lost', target: `jump_client:${id}`, detail: 'offline longer than jump-clients.max-offline' });
        }
        for (const id of purged) {
          await store.audit({ at: now, userId: null, action: 'jump_client.purge', target: `jump_client:${id}`, detail: 'lost longer than jump-clients.lost-grace' });
        }
        if (lost.length > 0) opts.log.info({ clients: lost }, 'jump clients offline past jump-clients.max-offline marked lost');
        if (purged.length > 0) opts.log.info({ clients: purged }, 'lost jump clients purged');
        // Passive clients connect anew at every check-in, inside the admission rate (docs/benchmarks.md P8).
        const n = await store.countClients();
        passiveLoad = { passive: n.total - n.active, perSecond: (n.total - n.active) / (settings.get('jump-clients.passive-interval') / 1000) };
        if (passiveLoad.perSecond > PASSIVE_ADMISSION_SHARE * admissionRate) warnPassiveLoad();
      })
      .catch((err: unknown) => opts.log.warn({ err }, 'lifecycle sweep failed'));
  }, LIFECYCLE_SWEEP_MS);
  lifecycleSweep.unref();
  // At the budget, Node closes new TCP connections right after accept, before TLS ('drop').
  if (Number.isFinite(budget.maxConnections)) app.server.maxConnections = budget.maxConnections;
  if (Number.isFinite(budget.maxAgents)) metrics.agentCapacity.set(budget.maxAgents);
  const warnBudget = atMostEvery(60_000, () =>
    opts.log.warn(
      { maxConnections: budget.maxConnections, fileLimit: budget.fileLimit },
      'connection budget reached: new connections are closed before TLS (raise the open-file limit, docs/operations.md)',
    ),
  );
  app.server.on('drop', () => {
    metrics.connectionsDropped.inc({ reason: 'budget' });
    warnBudget();
  });
  // After a restart nobody has authenticated yet: the addresses jump clients were last seen from
  // are known, so the fleet coming back keeps its reserved slots during a flood.
  for (const { ip, seenAt } of await store.recentPublicIps(Date.now() - DEFAULT_TLS_GATE.knownTtlMs)) gate.markKnown(ip, seenAt);
  // A technician who authenticated is known too: the gate keeps slots for known addresses.
  app.addHook('onResponse', async (req) => {
    if (req.user) gate.markKnown(req.socket.remoteAddress ?? '');
  });
  app.server.on('upgrade', (req, socket, head) => {
    // Until the upgrade is accepted, the connection has the headers timeout to be accepted or gone:
    // a client sending `Upgrade:` to any path and then nothing must not hold a socket forever. On
    // acceptance the WebSocket library calls setTimeout(0) (ws, WebSocket#setSocket): an upgraded
    // connection (agent WebSocket, Jump relay) lives as long as its own protocol keeps it, bounded
    // by heartbeats and the session idle timeout, not by the HTTP idle timeout.
    boundUpgrade(socket as Socket, timeouts.headersMs);
    if (gateway.handleUpgrade(req, socket, head)) return;
    if (handleWebTerminalUpgrade(app.server, req, socket, head, (status) => refuseUpgrade(socket as Socket, status))) return;
    const m = /^\/api\/v1\/sessions\/([A-Za-z0-9_-]{22})\/relay$/.exec((req.url ?? '').split('?')[0]);
    if (!m || bearerToken(req.headers.authorization) === null) {
      refuseUpgrade(socket as Socket, '404 Not Found');
      return;
    }
    userFromAuthorization(store, req.headers.authorization, Date.now(), tokenIdleMs)
      .then((user) => {
        if (!user) refuseUpgrade(socket as Socket, '401 Unauthorized');
        else if (user.mustChangePassword) refuseUpgrade(socket as Socket, '403 Forbidden');
        else sessions.handleRelaySocket(req, socket, head, m[1], user);
      })
      .catch(() => socket.destroy());
  });

  try {
    await app.listen({ host: opts.host, port: opts.port });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'EADDRINUSE' && code !== 'EADDRNOTAVAIL' && code !== 'EACCES') throw err;
    await app.close().catch(() => undefined);
    await store.close().catch(() => undefined);
    throw new JumpError('SITE_ADDRESS_IN_USE', { field: '--listen', detail: `Address ${opts.host}:${opts.port} (${code}).` });
  }
  const addr = app.server.address();
  const port = typeof addr === 'object' && addr ? addr.port : opts.port;
  const listenHost = opts.host.includes(':') ? `[${opts.host}]` : opts.host;
  const listenUrl = `https://${listenHost === '0.0.0.0' || listenHost === '[::]' ? hostname() : listenHost}:${port}`;
  if (!siteUrl) siteUrl = listenUrl;

  return {
    url: siteUrl,
    listenUrl,
    pin: identity.pin,
    updatePin: updateKey.pin,
    fingerprint: identity.fingerprint,
    budget,
    bootstrapPasswordFile,
    routes,
    store,
    async close() {
      clearInterval(purge);
      clearInterval(ownerSweep);
      clearInterval(lifecycleSweep);
      settings.close();
      updates.close();
      sessions.close();
      await gateway.close();
      await app.close();
      await store.close();
    },
  };
}

/**
 * Fastify's refusals of a request before any route runs (unsupported Content-Type 415, a body past
 * API_BODY_MAX_BYTES 413, an empty or malformed JSON body 400) as VALIDATION_FAILED naming the
 * header or the body and the fix; Fastify's own text said neither (found by the API fuzz).
 */
export function frameworkRefusal(e: { statusCode?: number; message: string; code?: string }, contentType: string | undefined): JumpError {
  const ct = JSON.stringify((contentType ?? '').slice(0, 80));
  if (e.statusCode === 415 || e.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') {
    return invalidField('content-type', `${ct} is not accepted. Fix: send the body as JSON with Content-Type: application/json.`);
  }
  if (e.statusCode === 413 || e.code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
    return invalidField('body', `larger than the site takes (${API_BODY_MAX_BYTES / 1024} KiB). Fix: send less; split a bulk request.`);
  }
  if (e.code === 'FST_ERR_CTP_EMPTY_JSON_BODY') {
    return invalidField('body', 'empty, but Content-Type says JSON. Fix: send a JSON object, or no Content-Type with no body.');
  }
  if (e.statusCode === 400 && /JSON/i.test(e.message)) {
    return invalidField('body', `not valid JSON (${e.message.slice(0, 120)}). Fix: send one JSON object.`);
  }
  return new JumpError('VALIDATION_FAILED', { detail: `Invalid request: ${e.message.slice(0, 200)}` });
}

/**
 * Arms the bound on an upgrade request that is not yet accepted: `ms` after the request, unless the
 * upgrade was accepted by then, the socket is destroyed, whatever the peer sends meanwhile (a plain
 * idle timeout would be reset by a client trickling bytes). Acceptance is the WebSocket library
 * clearing the socket's timeout (ws, WebSocket#setSocket calls setTimeout(0)); the socket's
 * timeout is set to `ms` here so that clearing is visible. Also covers refusals elsewhere (agent
 * gateway, session broker) that only `end()` the socket: the HTTP server's sockets allow half-open,
 * so a peer that never closes its side would otherwise keep them.
 */
export function boundUpgrade(socket: Socket, ms: number): void {
  socket.setTimeout(ms);
  const timer = setTimeout(() => {
    if (socket.timeout !== 0) socket.destroy();
  }, ms);
  timer.unref();
  socket.once('close', () => clearTimeout(timer));
}

/**
 * The HTTP server's `clientError` handler: a request that was not complete within
 * `--headers-timeout` / `--request-timeout` (slowloris: ERR_HTTP_REQUEST_TIMEOUT, answered 408), too
 * large headers (431) or a malformed one (400) is answered as Fastify's default does and the socket
 * destroyed; unlike the default (which logs at trace), each is logged through `log` with its code
 * and the peer's address (issue #15 item 5). A reset or already closed socket is nothing to answer.
 */
export function answerClientError(err: NodeJS.ErrnoException, socket: Duplex, log: (fields: RefusalFields) => void): void {
  if (err.code === 'ECONNRESET' || socket.destroyed) return;
  const [status, text] =
    err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? [408, 'Request Timeout'] : err.code === 'HPE_HEADER_OVERFLOW' ? [431, 'Request Header Fields Too Large'] : [400, 'Bad Request'];
  log({ code: err.code ?? 'HTTP_CLIENT_ERROR', status, remote: (socket as Socket).remoteAddress ?? null });
  const body = JSON.stringify({ error: status === 408 ? new JumpError('REQUEST_TIMEOUT').toJSON() : { code: 'VALIDATION_FAILED', message: `Invalid request: ${text}` } });
  if (!socket.writable) {
    socket.destroy();
    return;
  }
  // end(), not write() and destroy(): over TLS a destroy right after the write discards the answer.
  socket.end(`HTTP/1.1 ${status} ${text}\r\nContent-Length: ${Buffer.byteLength(body)}\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n${body}`, () => socket.destroy());
  // A peer that does not read the answer must not hold the socket either.
  setTimeout(() => socket.destroy(), 2_000).unref();
}

/** Answers an upgrade request with `status` (e.g. `404 Not Found`) and closes the socket, whatever the peer does. */
export function refuseUpgrade(socket: Socket, status: string): void {
  socket.end(`HTTP/1.1 ${status}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`, () => socket.destroy());
  // A peer that does not read the answer must not hold the socket either.
  setTimeout(() => socket.destroy(), 2_000).unref();
}
