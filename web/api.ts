/**
 * The web console's calls to the site's JSON API (docs/api.md): the same routes and the same
 * authorization as the CLI. The browser holds its token in the HttpOnly session cookie
 * (site/routes/web.ts); every call sends `X-Jump-Web: 1`, the header the site's CSRF check asks of
 * cookie-authenticated state-changing requests.
 */
import { t } from './i18n/index.js';

/** An API error as the site answers it: `{ error: { code, message, field? } }` with an HTTP status. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly field?: string,
  ) {
    super(message);
  }
}

/** Where an expired or missing session sends the page: /login, with the reason shown there. */
export function toLogin(reason: string): void {
  const here = location.pathname + location.search;
  location.assign(`/login?reason=${encodeURIComponent(reason)}${here.startsWith('/login') ? '' : `&next=${encodeURIComponent(here)}`}`);
}

/**
 * Calls `method path` with `body` as JSON; resolves with the parsed answer. Rejects with ApiError;
 * a 401 (no session, or it expired) also sends the page to /login unless `noRedirect`.
 */
export async function api<T = unknown>(method: string, path: string, body?: unknown, opts: { noRedirect?: boolean } = {}): Promise<T> {
  const res = await fetch(path, {
    method,
    credentials: 'same-origin',
    headers: { 'x-jump-web': '1', ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    body: body !== undefined ? JSON.stringify(body) : undefined,
  });
  const text = await res.text();
  let json: unknown = null;
  try {
    json = text ? JSON.parse(text) : null;
  } catch {
    json = null;
  }
  if (!res.ok) throw refusal(res.status, json, opts);
  return json as T;
}

/** The ApiError of a refused call (`{ error: { code, message, field? } }`); a 401 also sends the page to /login unless `noRedirect`. */
function refusal(status: number, json: unknown, opts: { noRedirect?: boolean }): ApiError {
  const e = (json as { error?: { code?: string; message?: string; field?: string } } | null)?.error;
  const err = new ApiError(status, e?.code ?? `HTTP_${status}`, e?.message ?? `HTTP ${status}`, e?.field);
  if (status === 401 && !opts.noRedirect) toLogin(err.code === 'UNAUTHENTICATED' ? t('common.sessionExpired') : err.message);
  if (err.code === 'PASSWORD_CHANGE_REQUIRED' && !opts.noRedirect) toLogin(t('common.mustChangePassword'));
  return err;
}

/**
 * POSTs `body` as JSON to a route that answers a file (`POST /api/v1/installers/:uid/file`) and
 * resolves with its bytes and the name from its `Content-Disposition` (`fallbackName` without one).
 * Rejects with ApiError like `api`.
 */
export async function apiDownload(path: string, body: unknown, fallbackName = 'download.bin'): Promise<{ blob: Blob; name: string }> {
  const res = await fetch(path, {
    method: 'POST',
    credentials: 'same-origin',
    headers: { 'x-jump-web': '1', 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  if (!res.ok) {
    let json: unknown = null;
    try {
      json = await res.json();
    } catch {
      json = null;
    }
    throw refusal(res.status, json, {});
  }
  const name = /filename="([^"/\\]+)"/.exec(res.headers.get('content-disposition') ?? '')?.[1] ?? fallbackName;
  return { blob: await res.blob(), name };
}

/** A query string from `params`, leaving out undefined and empty values. */
export function query(params: Record<string, string | number | undefined>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== '') q.set(k, String(v));
  const s = q.toString();
  return s ? `?${s}` : '';
}

/** The browser's platform as the installer's: `windows`, `macos` or `linux` (the Mass Deployment Wizard's default). */
export function browserPlatform(): 'windows' | 'macos' | 'linux' {
  const p = `${(navigator as Navigator & { userAgentData?: { platform?: string } }).userAgentData?.platform ?? ''} ${navigator.platform} ${navigator.userAgent}`.toLowerCase();
  if (p.includes('win')) return 'windows';
  if (p.includes('mac')) return 'macos';
  return 'linux';
}
