/**
 * The site's own numbers at `GET /metrics`, in the Prometheus text exposition format (prom-client):
 *
 * - `jump_site_connected_agents` (gauge): authenticated agent connections on this node
 * - `jump_site_agent_connects_total` (counter): agent handshakes completed (rate = connects per second)
 * - `jump_site_agent_admission_rejected_total{reason}` (counter): agent upgrades answered 503, `rate`
 *   (over the admission rate or handshake cap) or `full` (the node holds its `--max-agents`)
 * - `jump_site_agent_capacity` (gauge): agent connections this node holds at most (site/capacity.ts)
 * - `jump_site_tls_handshakes_in_progress` (gauge): TLS handshakes accepted and not finished
 * - `jump_site_connections_dropped_total{reason}` (counter): TCP connections closed right after
 *   accept, before TLS: `budget` (the node at its connection budget, site/capacity.ts) or
 *   `handshakes` (too many TLS handshakes in progress, site/tls-gate.ts)
 * - `jump_site_heartbeat_lag_seconds` (histogram): time between consecutive heartbeats of an agent,
 *   minus the interval it was told to use (how late heartbeats arrive)
 * - `jump_site_jump_starts_total{result}` (counter): Jump session starts, `ok` or the error code
 * - `jump_site_errors_total{code}` (counter): errors answered to agents and API clients, by code
 * - `jump_site_updates_in_flight` (gauge): jump client updates offered and not yet finished, failed
 *   or timed out (site/updates.ts; capped by the setting updates.max-concurrent)
 * - `jump_site_updates_completed_total` (counter): updates finished (the client came back on the offered version)
 * - `jump_site_updates_failed_total{code}` (counter): updates that failed: the client's code
 *   (UPDATE_FAILED, UPDATE_SIGNATURE_INVALID) or `TIMEOUT` (no news within the timeouts)
 * - `jump_site_update_bytes_served_total` (counter): bytes of client builds sent
 * - Node's process metrics (`process_*`, `nodejs_*`): memory, CPU, event loop lag
 *
 * One registry per site instance, so tests can run several sites in one process.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export class SiteMetrics {
  readonly registry = new Registry();
  readonly connectedAgents: Gauge;
  readonly agentConnects: Counter;
  readonly admissionRejected: Counter<'reason'>;
  readonly agentCapacity: Gauge;
  readonly connectionsDropped: Counter<'reason'>;
  readonly heartbeatLag: Histogram;
  readonly jumpStarts: Counter<'result'>;
  readonly errors: Counter<'code'>;
  readonly updatesCompleted: Counter;
  readonly updatesFailed: Counter<'code'>;
  readonly updateBytes: Counter;

  /**
   * `sources` are read at each scrape: connected agents (site/agent-gateway.ts) and TLS handshakes
   * in progress (site/tls-gate.ts).
   */
  constructor(sources: { connected: () => number; tlsHandshakesInProgress: () => number; updatesInFlight?: () => number }) {
    collectDefaultMetrics({ register: this.registry });
    this.connectedAgents = new Gauge({
      name: 'jump_site_connected_agents',
      help: 'Authenticated agent connections on this node.',
      registers: [this.registry],
      collect() {
        this.set(sources.connected());
      },
    });
    this.agentConnects = new Counter({ name: 'jump_site_agent_connects_total', help: 'Agent handshakes completed.', registers: [this.registry] });
    this.admissionRejected = new Counter({
      name: 'jump_site_agent_admission_rejected_total',
      help: 'Agent connections answered 503: over the admission rate, or the node full.',
      labelNames: ['reason'],
      registers: [this.registry],
    });
    this.agentCapacity = new Gauge({ name: 'jump_site_agent_capacity', help: 'Agent connections this node holds at most.', registers: [this.registry] });
    new Gauge({
      name: 'jump_site_tls_handshakes_in_progress',
      help: 'TLS handshakes accepted and not yet finished (capped by --max-tls-handshakes).',
      registers: [this.registry],
      collect() {
        this.set(sources.tlsHandshakesInProgress());
      },
    });
    this.connectionsDropped = new Counter({
      name: 'jump_site_connections_dropped_total',
      help: 'TCP connections closed before TLS, by reason: budget (the node at its connection budget), handshakes (too many TLS handshakes in progress), per_address (too many from one address), hello_timeout (no ClientHello in time), stranger_timeout (an unknown address did not finish TLS in time).',
      labelNames: ['reason'],
      registers: [this.registry],
    });
    this.heartbeatLag = new Histogram({
      name: 'jump_site_heartbeat_lag_seconds',
      help: 'How much later than its interval an agent heartbeat arrived.',
      buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [this.registry],
    });
    this.jumpStarts = new Counter({ name: 'jump_site_jump_starts_total', help: 'Jump session starts by result.', labelNames: ['result'], registers: [this.registry] });
    this.errors = new Counter({ name: 'jump_site_errors_total', help: 'Errors answered, by code.', labelNames: ['code'], registers: [this.registry] });
    new Gauge({
      name: 'jump_site_updates_in_flight',
      help: 'Jump client updates offered and not yet finished, failed or timed out (updates.max-concurrent caps it).',
      registers: [this.registry],
      collect() {
        this.set(sources.updatesInFlight?.() ?? 0);
      },
    });
    this.updatesCompleted = new Counter({ name: 'jump_site_updates_completed_total', help: 'Jump client updates finished: the client came back on the offered version.', registers: [this.registry] });
    this.updatesFailed = new Counter({
      name: 'jump_site_updates_failed_total',
      help: 'Jump client updates that failed, by code: what the client reported (UPDATE_FAILED, UPDATE_SIGNATURE_INVALID) or TIMEOUT.',
      labelNames: ['code'],
      registers: [this.registry],
    });
    this.updateBytes = new Counter({ name: 'jump_site_update_bytes_served_total', help: 'Bytes of jump client builds sent.', registers: [this.registry] });
  }
}
