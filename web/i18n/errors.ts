/**
 * An API error in the page's language, by its code (issue #19 item 5). The site answers
 * `{ error: { code, message } }` in English (the CLI and scripts parse it; protocol/errors.ts is
 * authoritative); the page shows the catalog row's translation (protocol/errors-i18n.ts) with the
 * detail the site added kept as sent, in English. English pages show the site's text unchanged.
 */
import { ERROR_CATALOG, isErrorCode } from '../../protocol/errors.js';
import { translatedRow } from '../../protocol/errors-i18n.js';
import { lang, t } from './index.js';

/**
 * The detail the site added to `code`'s catalog text in `message` (formatMessage's
 * `what [detail] Fix: fix`), or the whole message when it does not have the catalog's shape.
 * `ownFix` is true when the detail carries its own `Fix:` (the catalog fix is then left out).
 */
export function splitDetail(code: string, message: string): { detail: string; ownFix: boolean } {
  if (!isErrorCode(code)) return { detail: message, ownFix: /\bFix: /.test(message) };
  const row = ERROR_CATALOG[code];
  let rest = message;
  const fixTail = ` Fix: ${row.fix}`;
  const hadCatalogFix = rest.endsWith(fixTail);
  if (hadCatalogFix) rest = rest.slice(0, -fixTail.length);
  if (rest.startsWith(row.message)) rest = rest.slice(row.message.length);
  rest = rest.trim();
  return { detail: rest, ownFix: !hadCatalogFix && /\bFix: /.test(rest) };
}

/**
 * `code: text` for an API error: in English the site's message as sent; in es/de/fr the catalog
 * row's translated message, then the site's detail (English, as sent), then the translated fix
 * (unless the detail has its own, or is a VALIDATION_FAILED field rule). Unknown codes (HTTP_502, ...) and rows without a translation keep the site's text.
 */
export function errorText(code: string, message: string): string {
  const l = lang();
  const tr = l !== 'en' && isErrorCode(code) ? translatedRow(code, l) : undefined;
  if (!tr) return `${code}: ${message}`;
  const { detail, ownFix } = splitDetail(code, message);
  const parts = [tr.message];
  if (detail) parts.push(detail);
  // A VALIDATION_FAILED detail names the field and its own rule (formatMessage: it stands alone).
  if (!ownFix && !(code === 'VALIDATION_FAILED' && detail)) parts.push(`${t('common.fix')} ${tr.fix}`);
  return `${code}: ${parts.join(' ')}`;
}
