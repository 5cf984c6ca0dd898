/**
 * The web console's languages (issue #19 item 5): English plus the seeds' languages (es, de, fr),
 * with i18next. Every user-visible string of the pages is a key of web/i18n/en.json (English, the
 * fallback) and of es.json, de.json, fr.json (test/unit/i18n.test.ts keeps the four key sets and
 * their {{placeholders}} equal). The product's own terms in each language are the seeds' (Jump
 * Client, Jump-Gruppe / Grupo Jump / groupe de Jump, Tag / Etiqueta / Balise, ...).
 *
 * The language: the one saved in localStorage (`jump.lang`, set by the header's select), else the
 * first of navigator.languages (what the browser's Accept-Language says) we have, else English.
 * `<html lang>` follows it. Switching re-renders the page without a reload (useLang).
 */
import i18next from 'i18next';
import { useEffect, useState } from 'preact/hooks';
import de from './de.json';
import en from './en.json';
import es from './es.json';
import fr from './fr.json';

/** The languages of the console, English first (the fallback and the authoritative text). */
export const LANGUAGES = ['en', 'es', 'de', 'fr'] as const;
export type Lang = (typeof LANGUAGES)[number];
/** Each language's name in itself, for the select. */
export const LANGUAGE_NAMES: Record<Lang, string> = { en: 'English', es: 'Español', de: 'Deutsch', fr: 'Français' };
/** The localStorage key of the chosen language. */
export const LANG_KEY = 'jump.lang';

/**
 * The language to show: `saved` when it is one of ours, else the first of `preferred` (BCP 47 tags
 * such as `de-DE`, in the browser's order) whose primary subtag is one of ours, else `en`.
 */
export function pickLanguage(saved: string | null | undefined, preferred: readonly string[]): Lang {
  const ours = (s: string | null | undefined): Lang | undefined => {
    const p = (s ?? '').toLowerCase().split(/[-_]/)[0];
    return (LANGUAGES as readonly string[]).includes(p) ? (p as Lang) : undefined;
  };
  const fromSaved = ours(saved);
  if (fromSaved) return fromSaved;
  for (const l of preferred) {
    const o = ours(l);
    if (o) return o;
  }
  return 'en';
}

function savedLanguage(): string | null {
  try {
    return localStorage.getItem(LANG_KEY);
  } catch {
    return null;
  }
}

const initial = pickLanguage(savedLanguage(), typeof navigator !== 'undefined' ? (navigator.languages?.length ? navigator.languages : [navigator.language]) : []);

void i18next.init({
  resources: { en: { translation: en }, es: { translation: es }, de: { translation: de }, fr: { translation: fr } },
  lng: initial,
  fallbackLng: 'en',
  supportedLngs: [...LANGUAGES],
  // Preact renders text, never HTML: i18next must not escape a second time.
  interpolation: { escapeValue: false },
  returnNull: false,
  initAsync: false,
  showSupportNotice: false,
});
if (typeof document !== 'undefined') document.documentElement.lang = initial;

/** Translates `key` (a path in en.json) with `{{name}}` values; English when the key is missing in the language. */
export function t(key: string, values?: Record<string, unknown>): string {
  return String(i18next.t(key, values as never));
}

/** `key` in English whatever the page shows (stable attribute values such as `data-stat`). */
export function tEn(key: string, values?: Record<string, unknown>): string {
  return String(i18next.getFixedT('en')(key, values as never));
}

/** The language shown now. */
export function lang(): Lang {
  return pickLanguage(i18next.language, []);
}

/** Shows `l` from now on: re-renders every page using useLang, sets `<html lang>`, remembers it in localStorage. */
export function setLang(l: Lang): void {
  try {
    localStorage.setItem(LANG_KEY, l);
  } catch {
    /* private mode: not remembered */
  }
  if (typeof document !== 'undefined') document.documentElement.lang = l;
  void i18next.changeLanguage(l);
}

/** Re-renders the calling component (a page's root) when the language changes; returns the language. */
export function useLang(): Lang {
  const [l, setL] = useState<Lang>(lang());
  useEffect(() => {
    const on = (n: string) => setL(pickLanguage(n, []));
    i18next.on('languageChanged', on);
    return () => i18next.off('languageChanged', on);
  }, []);
  return l;
}

/** One formatter per language: date and time, numeric, as `toLocaleString()` writes them. */
const dateTimeFormats = new Map<string, Intl.DateTimeFormat>();

/**
 * A time from the API (ISO 8601) in the language the page shows (i18next's, not the browser's
 * locale: a German page in an en-US browser writes `1.12.2026, 15:08:45`), or `empty` (an em dash).
 * The one date format of every page (web/common.tsx re-exports it).
 */
export function when(iso: string | null | undefined, empty = '—'): string {
  if (!iso) return empty;
  const l = lang();
  let f = dateTimeFormats.get(l);
  if (!f) {
    f = new Intl.DateTimeFormat(l, { year: 'numeric', month: 'numeric', day: 'numeric', hour: 'numeric', minute: '2-digit', second: '2-digit' });
    dateTimeFormats.set(l, f);
  }
  return f.format(new Date(iso));
}
