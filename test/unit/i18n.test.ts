/**
 * The web console's languages (issue #19 item 5): the four resource files have the same keys and
 * the same {{placeholders}}, every key the pages use exists, the error catalog is translated for
 * every code into es, de and fr (a new code without its translations fails here), the seeds'
 * appendix rows use the seeds' own text, and an API error is shown in the page's language by its
 * code with the site's detail kept as sent.
 */
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { ERROR_TRANSLATIONS, TRANSLATED_LANGUAGES } from '../../protocol/errors-i18n.js';
import { ERROR_CATALOG, ERROR_CODES, formatMessage } from '../../protocol/errors.js';

const root = new URL('../../', import.meta.url).pathname;
const LANGS = ['en', 'es', 'de', 'fr'] as const;
type Tree = { [k: string]: string | Tree };

function flatten(t: Tree, prefix = ''): Map<string, string> {
  const out = new Map<string, string>();
  for (const [k, v] of Object.entries(t)) {
    const key = prefix ? `${prefix}.${k}` : k;
    if (typeof v === 'string') out.set(key, v);
    else for (const [kk, vv] of flatten(v, key)) out.set(kk, vv);
  }
  return out;
}
const resources = Object.fromEntries(LANGS.map((l) => [l, flatten(JSON.parse(readFileSync(join(root, 'web/i18n', `${l}.json`), 'utf8')) as Tree)])) as Record<
  (typeof LANGS)[number],
  Map<string, string>
>;
const placeholders = (s: string) => [...s.matchAll(/\{\{\s*(\w+)\s*\}\}/g)].map((m) => m[1]).sort();

describe('web/i18n resources', () => {
  it('es, de and fr have exactly the keys of en.json, each non-empty, with the same {{placeholders}}', () => {
    const en = resources.en;
    expect(en.size).toBeGreaterThan(100);
    for (const l of ['es', 'de', 'fr'] as const) {
      const r = resources[l];
      expect([...en.keys()].filter((k) => !r.has(k)), `keys of en.json missing in ${l}.json`).toEqual([]);
      expect([...r.keys()].filter((k) => !en.has(k)), `keys of ${l}.json that en.json does not have`).toEqual([]);
      for (const [k, v] of r) {
        expect(v.trim(), `${l}.json ${k}`).not.toBe('');
        expect(placeholders(v), `${l}.json ${k} placeholders`).toEqual(placeholders(en.get(k)!));
      }
    }
  });

  it('every key the pages use exists in en.json (literal keys, and the prefix of computed ones)', () => {
    const files: string[] = [];
    const walk = (d: string) => {
      for (const f of readdirSync(d)) {
        const p = join(d, f);
        if (statSync(p).isDirectory()) walk(p);
        else if (/\.tsx?$/.test(f)) files.push(p);
      }
    };
    walk(join(root, 'web'));
    const used = new Set<string>();
    const prefixes = new Set<string>();
    for (const f of files) {
      const src = readFileSync(f, 'utf8');
      for (const m of src.matchAll(/\bt(?:En)?\('([\w.]+)'/g)) used.add(m[1]);
      for (const m of src.matchAll(/\bt(?:En)?\(`([\w.]+)\.\$\{/g)) prefixes.add(m[1]);
    }
    expect(used.size).toBeGreaterThan(100);
    const en = resources.en;
    const has = (k: string) => en.has(k) || en.has(`${k}_one`);
    expect([...used].filter((k) => !has(k))).toEqual([]);
    for (const p of prefixes) expect([...en.keys()].some((k) => k.startsWith(`${p}.`)), `prefix ${p}`).toBe(true);
    // The keys read by computed names: every column, search field and statistic of the Jump interface.
    const jump = readFileSync(join(root, 'web/entries/jump.tsx'), 'utf8');
    for (const m of jump.matchAll(/\{ key: '(\w+)', sort:/g)) expect(en.has(`jump.column.${m[1]}`), m[1]).toBe(true);
    const fields = /const SEARCH_FIELDS = \[([^\]]+)\]/.exec(jump)![1].match(/\w+/g)!;
    for (const f of fields) expect(en.has(`jump.field.${f}`), f).toBe(true);
    for (const m of jump.matchAll(/\['(\w+)', [^\]]*\],?\n/g)) if (!['m10'].includes(m[1])) expect(en.has(`jump.stat.${m[1]}`), m[1]).toBe(true);
  });

  it("uses the seeds' terms: German Jump-Gruppe / Kommentare / Tag, Spanish Grupo Jump / Etiqueta, French groupe de Jump / Balise", () => {
    expect(resources.de.get('jump.jumpGroup')).toBe('Jump-Gruppe');
    expect(resources.de.get('jump.field.comments')).toBe('Kommentare');
    expect(resources.de.get('jump.field.tag')).toBe('Tag');
    expect(resources.de.get('common.jumpInterface')).toBe('Jump-Schnittstelle');
    expect(resources.es.get('jump.jumpGroup')).toBe('Grupo Jump');
    expect(resources.es.get('jump.field.tag')).toBe('Etiqueta');
    expect(resources.es.get('common.jumpInterface')).toBe('Interfaz Jump');
    expect(resources.fr.get('jump.field.tag')).toBe('Balise');
    expect(resources.fr.get('jump.field.comments')).toBe('Commentaires');
    expect(resources.fr.get('admin.createInstaller')).toBe('Créer un installateur de Jump Client');
  });
});

describe('error catalog translations (protocol/errors-i18n.ts)', () => {
  it('translates every catalog code into es, de and fr, and nothing else', () => {
    const missing: string[] = [];
    for (const code of ERROR_CODES) {
      for (const l of TRANSLATED_LANGUAGES) {
        const row = ERROR_TRANSLATIONS[code]?.[l];
        if (!row || row.message.trim().length < 5 || row.fix.trim().length < 5) missing.push(`${code}.${l}`);
      }
    }
    expect(missing, 'catalog codes without a translation: add them to protocol/errors-i18n.ts').toEqual([]);
    expect(Object.keys(ERROR_TRANSLATIONS).filter((c) => !(ERROR_CODES as string[]).includes(c))).toEqual([]);
  });

  it('is a translation: the message differs from the English one, and commands in backticks are kept as typed', () => {
    for (const code of ERROR_CODES) {
      const en = ERROR_CATALOG[code];
      for (const l of TRANSLATED_LANGUAGES) {
        const row = ERROR_TRANSLATIONS[code]![l];
        expect(row.message, `${code}.${l}`).not.toBe(en.message);
        for (const cmd of en.fix.match(/`[^`]+`/g) ?? []) expect(row.fix, `${code}.${l} keeps ${cmd}`).toContain(cmd);
      }
    }
  });

  // The rows of the seeds' error appendix, in each language's guide (/work/shared/seeds).
  const seeds = { es: '000_ccba7272f13e6959.txt', de: '001_698a1904e7db732a.txt', fr: '002_940117dcdf024d6e.txt' } as const;
  const seedDir = '/work/shared/seeds';
  const APPENDIX = [
    'DEPLOY_LIMIT_REACHED',
    'DEPLOY_ACTIVE_LIMIT_REACHED',
    'ACTIVE_LIMIT_REACHED',
    'JUMP_CLIENT_NOT_FOUND',
    'JUMP_CLIENT_OFFLINE',
    'JUMP_CLIENT_UNINSTALLED',
    'JUMP_SERVER_BUSY',
    'JUMP_INTERNAL_ERROR',
    'JUMP_INTERNAL_TIMEOUT',
    'JUMP_ACTIVE_NOT_CONNECTED',
    'JUMP_CONNECT_TIMEOUT',
    'JUMP_CLIENT_DISABLED',
    'JUMP_VERSION_MISMATCH',
  ] as const;
  it.skipIf(!existsSync(seedDir))("uses the seeds' appendix text for the rows the appendix has", () => {
    for (const l of TRANSLATED_LANGUAGES) {
      const text = readFileSync(join(seedDir, seeds[l]), 'utf8');
      for (const code of APPENDIX) {
        expect('seeds' in ERROR_CATALOG[code], code).toBe(true);
        expect(text, `${code}.${l}`).toContain(ERROR_TRANSLATIONS[code]![l].message);
      }
    }
  });
});

describe('an API error in the page language (web/i18n/errors.ts)', () => {
  // Loaded by URL: the web sources are type-checked by web/tsconfig.json (DOM), not by the tests'.
  let m: { errorText: (code: string, message: string) => string; splitDetail: (code: string, message: string) => { detail: string; ownFix: boolean } };
  let i18n: { setLang: (l: string) => void; lang: () => string; pickLanguage: (saved: string | null, preferred: string[]) => string };
  beforeAll(async () => {
    m = await import(new URL('../../web/i18n/errors.ts', import.meta.url).href);
    i18n = await import(new URL('../../web/i18n/index.ts', import.meta.url).href);
  });

  it('picks the saved language, else the first of the browser languages we have, else English', () => {
    expect(i18n.pickLanguage(null, ['de-DE', 'en-US'])).toBe('de');
    expect(i18n.pickLanguage(null, ['pt-BR', 'fr-CA', 'de'])).toBe('fr');
    expect(i18n.pickLanguage('es', ['de-DE'])).toBe('es');
    expect(i18n.pickLanguage('xx', ['ja', 'zh-CN'])).toBe('en');
    expect(i18n.pickLanguage(null, [])).toBe('en');
  });

  it('English shows the site text unchanged; German the catalog row in German with the detail as sent', () => {
    i18n.setLang('en');
    const v = formatMessage('VALIDATION_FAILED', 'comments: must be at most 1024 characters');
    expect(m.errorText('VALIDATION_FAILED', v)).toBe('VALIDATION_FAILED: comments: must be at most 1024 characters');
    i18n.setLang('de');
    expect(m.errorText('VALIDATION_FAILED', v)).toBe('VALIDATION_FAILED: Ein Feld hat einen ungültigen Wert. comments: must be at most 1024 characters');
    expect(m.errorText('JUMP_CLIENT_NOT_FOUND', formatMessage('JUMP_CLIENT_NOT_FOUND', '(web-01)'))).toBe(
      'JUMP_CLIENT_NOT_FOUND: Der Jump Client ist nicht vorhanden. (web-01) Abhilfe: suchen Sie ihn mit `jump clients --search TEXT`.',
    );
    expect(m.errorText('PERMISSION_DENIED', formatMessage('PERMISSION_DENIED'))).toBe(
      'PERMISSION_DENIED: Ihr Konto hat dafür keine Berechtigung. Abhilfe: bitten Sie einen Administrator um Zugriff, oder verwenden Sie ein Konto, das ihn hat.',
    );
    // A detail with its own fix replaces the catalog's, as in English.
    const own = formatMessage('LOCAL_PORT_IN_USE', '(127.0.0.1:22). Fix: choose another LOCALPORT.');
    expect(m.errorText('LOCAL_PORT_IN_USE', own)).toBe('LOCAL_PORT_IN_USE: Der lokale Port des Tunnels wird bereits von einem anderen Programm verwendet. (127.0.0.1:22). Fix: choose another LOCALPORT.');
    // Not a catalog code: the site's text as sent.
    expect(m.errorText('HTTP_502', 'HTTP 502')).toBe('HTTP_502: HTTP 502');
    i18n.setLang('fr');
    expect(m.errorText('JUMP_CLIENT_OFFLINE', formatMessage('JUMP_CLIENT_OFFLINE'))).toMatch(/^JUMP_CLIENT_OFFLINE: Le Jump Client est hors ligne\. Solution : /);
    i18n.setLang('en');
  });

  it('for any code and any detail, es/de/fr show the translated row, the detail verbatim, and no English catalog text', () => {
    const detail = fc.string({ minLength: 1, maxLength: 60 }).filter((s) => s.trim() === s && !/Fix: /.test(s));
    fc.assert(
      fc.property(fc.constantFrom(...ERROR_CODES), detail, fc.constantFrom(...TRANSLATED_LANGUAGES), (code, d, l) => {
        i18n.setLang(l);
        const sent = formatMessage(code, d);
        const shown = m.errorText(code, sent);
        const row = ERROR_TRANSLATIONS[code]![l];
        expect(shown.startsWith(`${code}: ${row.message}`)).toBe(true);
        expect(shown).toContain(d);
        expect(m.splitDetail(code, sent).detail).toBe(d);
        if (!row.message.includes(ERROR_CATALOG[code].message)) expect(shown.replace(d, '')).not.toContain(ERROR_CATALOG[code].message);
      }),
      { numRuns: 300 },
    );
    i18n.setLang('en');
  });
});
