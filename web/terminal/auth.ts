/**
 * How the pages of this folder prove who they are (the one place to change it).
 *
 * The web console's sign-in (site/routes/web.ts, issue #19 item 4) sets an HttpOnly cookie that
 * scripts cannot read: the browser sends it with same-origin requests and the terminal socket's
 * upgrade by itself. A token kept in this tab's sessionStorage under TOKEN_KEY (set by a sign-in
 * page, or by a test) is sent too: in the terminal socket's first message and as a bearer
 * header on API calls. Never in a URL.
 */

/** sessionStorage key of the API token, when the tab has one. */
export const TOKEN_KEY = 'jump.token';

/** This tab's API token, or undefined (then only the sign-in cookie counts). */
export function pageToken(): string | undefined {
  try {
    return sessionStorage.getItem(TOKEN_KEY) ?? undefined;
  } catch {
    return undefined;
  }
}

/** An error of the site's JSON API: its catalog code and text. */
export class ApiError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly status: number,
  ) {
    super(message);
  }
}

/**
 * GET `path` of the site's JSON API (docs/api.md) as this page's user. Resolves with the parsed
 * JSON (`as: 'json'`) or the body text (`as: 'text'`); throws ApiError with the site's code.
 */
export async function apiGet<T>(path: string, as: 'json' | 'text' = 'json'): Promise<T> {
  const token = pageToken();
  const res = await fetch(path, { credentials: 'same-origin', headers: token ? { authorization: `Bearer ${token}` } : {} });
  if (!res.ok) {
    const body = (await res.json().catch(() => null)) as { error?: { code?: string; message?: string } } | null;
    throw new ApiError(body?.error?.code ?? 'HTTP_' + res.status, body?.error?.message ?? `The site answered HTTP ${res.status}.`, res.status);
  }
  return (as === 'json' ? await res.json() : await res.text()) as T;
}
