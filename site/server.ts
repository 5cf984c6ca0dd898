/**
 * The running site: one HTTPS port (TLS 1.3) that serves the JSON API and upgrades the agent
 * WebSocket, over the store in the data dir.
 */
import { mkdirSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import Fastify, { LogController, type FastifyBaseLogger } from 'fastify';
import type { Logger } from 'pino';
import { JumpError } from '../protocol/errors.js';
import { API_BODY_MAX_BYTES } from '../protocol/limits.js';
import { AgentGateway } from './agent-gateway.js';
import { registerApi } from './api.js';
import { loadSiteIdentity } from './identity.js';
import { SqliteStore } from './store/sqlite.js';
import type { Store } from './store/store.js';
import { bootstrapAdmin } from './users.js';
import { VERSION } from '../protocol/version.js';

export interface SiteOptions {
  dataDir: string;
  host: string;
  /** TCP port; 0 picks a free one. */
  port: number;
  /** The URL agents and consoles use; default `https://<hostname>:<port>`. */
  publicUrl?: string;
  tlsCertFile?: string;
  tlsKeyFile?: string;
  /** Agent heartbeat interval, in ms (default 30 000). */
  heartbeatMs?: number;
  statsIntervalMs?: number;
  /** New agent connections admitted per second (default 50). */
  admissionRate?: number;
  maxClients?: number | null;
  log: Logger;
}

export interface RunningSite {
  url: string;
  listenUrl: string;
  pin: string;
  fingerprint: string;
  /** The bootstrap admin password, on the first start only. */
  bootstrapPassword: string | null;
  store: Store;
  close(): Promise<void>;
}

/** Opens the data dir (mode 0700), the store and the identity, and starts listening. */
export async function startSite(opts: SiteOptions): Promise<RunningSite> {
  mkdirSync(opts.dataDir, { recursive: true, mode: 0o700 });
  const store = new SqliteStore(join(opts.dataDir, 'site.db'));
  await store.markAllOffline(Date.now());
  const publicHost = opts.publicUrl ? new URL(opts.publicUrl).hostname : undefined;
  const identity = await loadSiteIdentity(opts.dataDir, {
    tlsCertFile: opts.tlsCertFile,
    tlsKeyFile: opts.tlsKeyFile,
    hosts: [opts.host, ...(publicHost ? [publicHost] : [])].filter((h) => h !== '0.0.0.0' && h !== '::'),
  });
  const bootstrapPassword = await bootstrapAdmin(store);

  const gateway = new AgentGateway({
    store,
    identityKey: identity.key,
    heartbeatMs: opts.heartbeatMs,
    statsIntervalMs: opts.statsIntervalMs,
    admissionRate: opts.admissionRate,
    maxClients: opts.maxClients,
    log: opts.log.child({ component: 'agent-gateway' }),
  });

  const app = Fastify({
    https: { key: identity.tlsKeyPem, cert: identity.tlsCertPem, minVersion: 'TLSv1.3' },
    bodyLimit: API_BODY_MAX_BYTES,
    loggerInstance: opts.log.child({ component: 'api' }) as FastifyBaseLogger,
    logController: new LogController({ disableRequestLogging: true }),
    forceCloseConnections: true,
  });
  app.setErrorHandler((err, req, reply) => {
    if (err instanceof JumpError) return reply.code(err.status).send({ error: err.toJSON() });
    const e = err as { statusCode?: number; message: string };
    if (e.statusCode && e.statusCode >= 400 && e.statusCode < 500) {
      return reply.code(e.statusCode).send({ error: { code: 'VALIDATION_FAILED', message: `Invalid request: ${e.message}` } });
    }
    req.log.error({ err }, 'request failed');
    return reply.code(500).send({ error: new JumpError('INTERNAL_ERROR').toJSON() });
  });
  app.setNotFoundHandler((req, reply) => reply.code(404).send({ error: new JumpError('NOT_FOUND', { detail: req.url.split('?')[0] }).toJSON() }));

  let siteUrl = opts.publicUrl ?? '';
  registerApi(app, {
    store,
    gateway,
    get siteUrl() {
      return siteUrl;
    },
    sitePin: identity.pin,
    fingerprint: identity.fingerprint,
    version: VERSION,
  });
  app.server.on('upgrade', (req, socket, head) => {
    if (!gateway.handleUpgrade(req, socket, head)) socket.end('HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n');
  });

  await app.listen({ host: opts.host, port: opts.port });
  const addr = app.server.address();
  const port = typeof addr === 'object' && addr ? addr.port : opts.port;
  const listenHost = opts.host.includes(':') ? `[${opts.host}]` : opts.host;
  const listenUrl = `https://${listenHost === '0.0.0.0' || listenHost === '[::]' ? hostname() : listenHost}:${port}`;
  if (!siteUrl) siteUrl = listenUrl;

  return {
    url: siteUrl,
    listenUrl,
    pin: identity.pin,
    fingerprint: identity.fingerprint,
    bootstrapPassword,
    store,
    async close() {
      await gateway.close();
      await app.close();
      await store.close();
    },
  };
}
