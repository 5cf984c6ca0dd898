/**
 * Pieces both pages share: the signed-in user, the seeds' totals line, a modal dialog and an error
 * line. Everything an endpoint or a user typed is rendered as text (Preact escapes it; nothing here
 * sets HTML).
 */
import type { ComponentChildren } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import type { ApiSummary, ApiUser } from '../protocol/api.js';
import { ApiError, api } from './api.js';
import { errorText } from './i18n/errors.js';
import { t } from './i18n/index.js';

/** The seeds' totals line, in the page's language: "N Jump Items total. N Jump Clients total. N online. N offline. N passive." */
export function summaryLine(s: ApiSummary): string {
  return t('common.summary', { items: s.jump_items, clients: s.jump_clients, online: s.online, offline: s.offline, passive: s.passive });
}

/** The signed-in user (`GET /api/v1/me`), or null while loading; a 401 sends the page to /login. */
export function useMe(): ApiUser | null {
  const [me, setMe] = useState<ApiUser | null>(null);
  useEffect(() => {
    api<{ user: ApiUser }>('GET', '/api/v1/me').then((r) => setMe(r.user), () => undefined);
  }, []);
  return me;
}

/** Signs out (`POST /api/v1/logout`: the token is deleted and the cookie cleared) and goes to /login. */
export async function signOut(): Promise<void> {
  await api('POST', '/api/v1/logout', undefined, { noRedirect: true }).catch(() => undefined);
  location.assign('/login?reason=' + encodeURIComponent(t('common.signedOut')));
}

/**
 * An error as one line of text: the API's message (which names the field and the fix), in the
 * page's language by its code (web/i18n/errors.ts; the site's detail stays as sent).
 */
export function ErrorLine({ error }: { error: unknown }) {
  if (!error) return null;
  const text = error instanceof ApiError ? errorText(error.code, error.message) : String((error as Error).message ?? error);
  return (
    <p class="error" role="alert" data-field={error instanceof ApiError ? error.field : undefined}>
      {text}
    </p>
  );
}

/** A modal dialog with a title, its content and a close button. */
export function Modal({ title, onClose, children }: { title: string; onClose: () => void; children: ComponentChildren }) {
  return (
    <div class="modal-backdrop" onClick={(e) => e.target === e.currentTarget && onClose()}>
      <div class="modal" role="dialog" aria-label={title}>
        <header>
          <h2>{title}</h2>
          <button type="button" class="close" aria-label={t('common.close')} onClick={onClose}>
            ×
          </button>
        </header>
        {children}
      </div>
    </div>
  );
}

/** Times in the page's language: the one helper (web/i18n/index.ts). */
export { when } from './i18n/index.js';
