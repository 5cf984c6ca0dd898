/**
 * The console's HTTPS client for the site API.
 *
 * A site with a self-signed certificate is trusted by pinning that exact certificate (trust on
 * first use at `jump login`, or the SHA-256 fingerprint given with --fingerprint): requests then
 * verify against it alone, with no host name check, so a different certificate fails with
 * SITE_CERT_MISMATCH (naming the pinned and the presented fingerprint) before the token or a
 * password is sent. `jump login` never replaces a pin silently (console/main.ts, `checkSiteCertificate`).
 */
import { X509Certificate } from 'node:crypto';
import { request } from 'node:https';
import { connect } from 'node:tls';
import { JumpError, isErrorCode } from '../protocol/errors.js';

/** Errors that mean "the certificate is not the pinned one / not trusted". */
const CERT_ERRORS = new Set([
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_SIGNATURE_FAILURE',
  'ERR_TLS_CERT_ALTNAME_INVALID',
  'CERT_HAS_EXPIRED',
]);

/** Default longest wait for one request, in ms (the console's --timeout overrides it). */
const REQUEST_TIMEOUT_MS = 30_000;

/** After this long without an answer, in ms, a request says on stderr what it waits for. */
const WAITING_NOTICE_MS = 2_000;

/** Sites a "waiting for" line was printed for (once per site and run). */
const waitingNoticed = new Set<string>();

/**
 * Runs `attempt` (given an AbortSignal) for at most `timeoutMs`: after WAITING_NOTICE_MS prints
 * "waiting for <site> ..." on stderr, and when the time is up aborts it and throws
 * SITE_UNREACHABLE naming the site, the time waited and the fix.
 */
async function withDeadline<T>(siteUrl: string, timeoutMs: number, attempt: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const ac = new AbortController();
  const notice =
    timeoutMs > WAITING_NOTICE_MS
      ? setTimeout(() => {
          if (waitingNoticed.has(siteUrl)) return;
          waitingNoticed.add(siteUrl);
          process.stderr.write(`waiting for ${siteUrl} ...\n`);
        }, WAITING_NOTICE_MS)
      : undefined;
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      ac.abort();
      reject(
        new JumpError('SITE_UNREACHABLE', {
          detail: `No answer from ${siteUrl} within ${formatMs(timeoutMs)} (--timeout). Fix: check that \`jump-site serve\` runs there and is not stuck, or pass a longer --timeout.`,
        }),
      );
    }, timeoutMs);
  });
  try {
    return await Promise.race([attempt(ac.signal), expired]);
  } finally {
    clearTimeout(notice);
    clearTimeout(timer);
  }
}

/** 2000 -> "2s", 1500 -> "1500ms". */
function formatMs(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`;
}

/**
 * Waits before trying again a connection the site closed before TLS, in ms. A site busy with a
 * returning fleet closes connections over its TLS handshake cap right after accept
 * (site/tls-gate.ts); nothing was sent, so any request may be tried again.
 */
const RETRY_BEFORE_TLS_MS = [200, 500, 1_000, 2_000, 4_000];

/** Network errors of a connection closed by the site before TLS was established. */
const CLOSED_BEFORE_TLS = new Set(['ECONNRESET', 'EPIPE']);

/** A connection the site closed before TLS; carries the JumpError to report if retries run out. */
class ClosedBeforeTls extends Error {
  constructor(readonly jumpError: JumpError) {
    super(jumpError.message);
  }
}

/** Runs `attempt` again after RETRY_BEFORE_TLS_MS (with jitter) while it fails before TLS; stops when `signal` aborts. */
async function retryBeforeTls<T>(attempt: () => Promise<T>, signal?: AbortSignal): Promise<T> {
  for (let i = 0; ; i++) {
    try {
      return await attempt();
    } catch (err) {
      if (!(err instanceof ClosedBeforeTls) || i >= RETRY_BEFORE_TLS_MS.length || signal?.aborted) throw err instanceof ClosedBeforeTls ? err.jumpError : err;
      await new Promise((r) => setTimeout(r, RETRY_BEFORE_TLS_MS[i] * (0.5 + Math.random())));
    }
  }
}

/** Largest API answer read, in bytes (a list of 50 000 jump clients is about 40 MiB). */
const MAX_ANSWER_BYTES = 256 * 1024 * 1024;

export interface ProbeResult {
  /** True when the certificate chains to a public authority and matches the host name. */
  authorized: boolean;
  certPem: string;
  fingerprint: string;
}

/**
 * Opens a TLS connection to the site only to read its certificate; sends nothing. Gives up after
 * `timeoutMs` (SITE_UNREACHABLE), saying "waiting for <site> ..." on stderr after 2 s.
 */
export function probeCertificate(siteUrl: string, timeoutMs = REQUEST_TIMEOUT_MS): Promise<ProbeResult> {
  return withDeadline(siteUrl, timeoutMs, (signal) => retryBeforeTls(() => probeOnce(siteUrl, signal), signal));
}

function probeOnce(siteUrl: string, signal?: AbortSignal): Promise<ProbeResult> {
  const u = new URL(siteUrl);
  return new Promise((resolve, reject) => {
    const socket = connect({
      host: u.hostname,
      port: Number(u.port || 443),
      servername: /^[\d.:[\]]+$/.test(u.hostname) ? undefined : u.hostname,
      rejectUnauthorized: false,
      minVersion: 'TLSv1.2',
    });
    signal?.addEventListener('abort', () => socket.destroy(), { once: true });
    socket.once('secureConnect', () => {
      const cert = socket.getPeerX509Certificate();
      socket.end();
      if (!cert) return reject(new JumpError('SITE_CERT_MISMATCH', { detail: 'The site sent no certificate.' }));
      resolve({ authorized: socket.authorized, certPem: cert.toString(), fingerprint: 'SHA256:' + cert.fingerprint256 });
    });
    socket.once('error', (err: NodeJS.ErrnoException) => {
      const e = new JumpError('SITE_UNREACHABLE', { detail: `${siteUrl}: ${err.message}` });
      reject(CLOSED_BEFORE_TLS.has(err.code ?? '') ? new ClosedBeforeTls(e) : e);
    });
  });
}

/** `SHA256:AA:BB:..` of a PEM certificate (the form `jump-site serve` prints). */
export function certFingerprint(certPem: string): string {
  return 'SHA256:' + new X509Certificate(certPem).fingerprint256;
}

/**
 * SITE_CERT_MISMATCH naming both fingerprints, like ssh's "REMOTE HOST IDENTIFICATION HAS
 * CHANGED": `pinned` (from the console config or --fingerprint) and `presented` (what answered).
 */
export function certMismatch(siteUrl: string, pinned: string, presented: string | null, pinnedLabel = 'Pinned'): JumpError {
  return new JumpError('SITE_CERT_MISMATCH', {
    detail:
      `${pinnedLabel}: ${pinned}. Presented by ${siteUrl}: ${presented ?? '(unknown)'}.` +
      (presented ? ` If the new certificate is expected: jump login --site ${siteUrl} --fingerprint ${presented}` : ''),
  });
}

/** `SHA256:aa:bb..`, `aabb..`, `AA:BB..` all compare equal. */
export function sameFingerprint(a: string, b: string): boolean {
  const norm = (s: string) => s.replace(/^sha256:/i, '').replace(/:/g, '').toLowerCase();
  return norm(a) === norm(b);
}

export class SiteClient {
  constructor(
    readonly siteUrl: string,
    /** `timeoutMs`: the longest one request may take (default 30 s; the console's --timeout). */
    private readonly opts: { certPem: string | null; token?: string; timeoutMs?: number },
  ) {}

  /** The pinned certificate, for other connections to the same site (the relay socket). */
  get certPem(): string | null {
    return this.opts.certPem;
  }

  get token(): string | undefined {
    return this.opts.token;
  }

  /** Like `request`, for an answer that is text (a recording). */
  async requestText(method: string, path: string): Promise<string> {
    return this.request<string>(method, path, undefined, true);
  }

  /**
   * Sends one API request. Resolves with the parsed JSON body of a 2xx answer. Throws JumpError:
   * the API's own code for an error answer, SITE_CERT_MISMATCH, or SITE_UNREACHABLE. A connection
   * the site closes before TLS is tried again (up to 5 times over about 8 s). The whole request
   * takes at most `timeoutMs` (then SITE_UNREACHABLE naming the site and --timeout); after 2 s
   * "waiting for <site> ..." is printed on stderr. UNAUTHENTICATED names the site and the exact
   * `jump login --site URL` to run.
   */
  request<T>(method: string, path: string, body?: unknown, text = false): Promise<T> {
    return withDeadline(this.siteUrl, this.opts.timeoutMs ?? REQUEST_TIMEOUT_MS, (signal) =>
      retryBeforeTls(() => this.requestOnce<T>(method, path, body, text, signal), signal),
    );
  }

  private requestOnce<T>(method: string, path: string, body: unknown, text: boolean, signal: AbortSignal): Promise<T> {
    const url = new URL(this.siteUrl + path);
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    return new Promise<T>((resolve, reject) => {
      const req = request(
        url,
        {
          method,
          headers: {
            accept: 'application/json',
            ...(payload ? { 'content-type': 'application/json', 'content-length': payload.length } : {}),
            ...(this.opts.token ? { authorization: `Bearer ${this.opts.token}` } : {}),
          },
          ...(this.opts.certPem ? { ca: this.opts.certPem, checkServerIdentity: () => undefined } : {}),
          signal,
        },
        (res) => {
          const chunks: Buffer[] = [];
          let size = 0;
          res.on('data', (c: Buffer) => {
            size += c.length;
            if (size > MAX_ANSWER_BYTES) req.destroy(new Error('answer too large'));
            else chunks.push(c);
          });
          res.on('end', () => {
            const status0 = res.statusCode ?? 0;
            if (text && status0 >= 200 && status0 < 300) return resolve(Buffer.concat(chunks).toString('utf8') as T);
            let json: unknown = null;
            try {
              json = JSON.parse(Buffer.concat(chunks).toString('utf8'));
            } catch {
              /* handled below */
            }
            const status = res.statusCode ?? 0;
            if (status >= 200 && status < 300 && json !== null) return resolve(json as T);
            const e = (json as { error?: { code?: string; message?: string; field?: string } } | null)?.error;
            if (e?.code && isErrorCode(e.code)) {
              // UNAUTHENTICATED: the console knows the exact command (which site), the site does not.
              if (e.code === 'UNAUTHENTICATED') return reject(new JumpError(e.code, { detail: `Site: ${this.siteUrl}. Fix: jump login --site ${this.siteUrl}` }));
              const err = new JumpError(e.code, { field: e.field });
              if (e.message) err.message = e.message;
              return reject(err);
            }
            reject(new JumpError('INTERNAL_ERROR', { detail: `HTTP ${status} from ${path}.` }));
          });
        },
      );
      let secured = false;
      // A kept-alive socket was secured long ago, and the request may have reached the site: no retry.
      req.on('socket', (socket) => (req.reusedSocket ? (secured = true) : socket.once('secureConnect', () => (secured = true))));
      req.on('error', (err: NodeJS.ErrnoException) => {
        if (err.code && CERT_ERRORS.has(err.code)) {
          // Read what the site presents on a fresh connection that sends nothing, to name it.
          const pinned = this.opts.certPem ? certFingerprint(this.opts.certPem) : `a certificate signed by a known authority (${err.code})`;
          probeOnce(this.siteUrl).then(
            (p) => reject(certMismatch(this.siteUrl, pinned, p.fingerprint)),
            () => reject(certMismatch(this.siteUrl, pinned, null)),
          );
        } else {
          const e = new JumpError('SITE_UNREACHABLE', { detail: `${this.siteUrl}: ${err.message}` });
          reject(!secured && CLOSED_BEFORE_TLS.has(err.code ?? '') ? new ClosedBeforeTls(e) : e);
        }
      });
      req.end(payload);
    });
  }
}
