/** The page header's language select (issue #19 item 5): switches without a reload, remembered in localStorage. */
import { LANGUAGE_NAMES, LANGUAGES, type Lang, setLang, t, useLang } from './index.js';

/** A `<select name="lang">` of the four languages, each named in itself. */
export function LanguageSelect() {
  const l = useLang();
  return (
    <select class="lang" name="lang" aria-label={t('common.language')} title={t('common.language')} value={l} onChange={(e) => setLang((e.target as HTMLSelectElement).value as Lang)}>
      {LANGUAGES.map((x) => (
        <option key={x} value={x} lang={x}>
          {LANGUAGE_NAMES[x]}
        </option>
      ))}
    </select>
  );
}
