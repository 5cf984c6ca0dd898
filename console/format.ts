/**
 * How the console shows things to people: tables (cli-table3) grouped the way the Jump interface
 * groups them (by jump group, then tag), and the closing totals line of the seeds.
 *
 * Everything here that comes from the site (names, hostnames, statistics, error messages) is
 * untrusted text: an endpoint reports its own hostname, OS name, CPU model, console user, and a
 * malicious or old site passes them on unchanged. It is printed only through `safeText` (one line,
 * visible escapes), `safeLines` (our own multi-line output) or `jsonSafe` (--json), so a reported
 * ESC, newline or bidi override cannot drive the technician's terminal (DESIGN.md, security model:
 * "What an endpoint reports ... is untrusted text").
 */
import Table from 'cli-table3';
import type { ApiJumpClient, ApiSummary } from '../protocol/api.js';

/**
 * Characters that must not reach a terminal raw: C0 controls, DEL, C1 controls (U+0080..U+009F:
 * U+009B is CSI on terminals that take 8-bit controls), the bidi controls (ALM U+061C, LRM/RLM,
 * LRE..RLO U+202A..U+202E, LRI..PDI U+2066..U+2069) that reorder what is shown, the line and
 * paragraph separators U+2028/U+2029, and lone UTF-16 surrogates (not text at all).
 */
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\u2028\u2029]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;
/** `UNSAFE` less newline and tab. */
const UNSAFE_BUT_NEWLINE = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\u2028\u2029]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

/** The visible escape of one unsafe character: `\x1b` below U+0100, `\u202e` above, U+FFFD for a lone surrogate. */
function escapeChar(c: string): string {
  const n = c.charCodeAt(0);
  if (n >= 0xd800 && n <= 0xdfff) return '\ufffd';
  return n < 0x100 ? `\\x${n.toString(16).padStart(2, '0')}` : `\\u${n.toString(16).padStart(4, '0')}`;
}

/**
 * Untrusted text (from the site, hence from endpoints) made safe to print on one line of a
 * terminal: every C0/C1 control, DEL, bidi control, U+2028/U+2029 becomes a visible escape
 * (`ESC` -> `\x1b`, newline -> `\x0a`, U+202E -> `\u202e`), a lone surrogate becomes U+FFFD.
 * Other text, backslashes included, is unchanged. `null`/`undefined` give ''; other values are
 * turned into strings first.
 */
export function safeText(value: unknown): string {
  if (value === null || value === undefined) return '';
  return String(value).replace(UNSAFE, escapeChar);
}

/**
 * Like `safeText`, but keeps newlines and tabs: the last guard on the console's own multi-line
 * output (tables, tab-separated lists), whose site-provided pieces already went through `safeText`.
 */
export function safeLines(value: string): string {
  return value.replace(UNSAFE_BUT_NEWLINE, escapeChar);
}

/**
 * JSON text with every character `safeText` escapes written as a `\uXXXX` escape
 * (JSON.stringify leaves DEL, C1 and bidi controls raw). Still valid JSON with the same value:
 * these characters can only occur inside JSON strings, where `\uXXXX` means the same character.
 * Newlines between JSON lines (asciicast recordings) and tabs (JSON whitespace) are kept.
 */
export function jsonSafe(json: string): string {
  return json.replace(UNSAFE_BUT_NEWLINE, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/**
 * What the jump client table needs of a row of `GET /api/v1/jump-clients` (protocol/api.ts
 * ApiJumpClient). `status` is widened to any string: a newer or a hostile site may send one this
 * console does not know, and it is shown as sent (escaped).
 */
export type ClientRow = Omit<
  Pick<
    ApiJumpClient,
    'id' | 'name' | 'hostname' | 'public_ip' | 'private_ips' | 'jump_method' | 'comments' | 'jump_group' | 'tag' | 'status' | 'mode' | 'last_connected' | 'duplicate_machine_id'
  >,
  'status'
> & { status: string };

const STATUS_LABEL: Record<string, string> = { online: 'Online', passive: 'Passive', offline: 'Offline', lost: 'Lost', uninstalled: 'Uninstalled' };

/**
 * A site time, with its zone: `2026-11-21T23:00:00.000Z` -> `2026-11-21 23:00 UTC`; a time with an
 * offset is first turned into UTC. An empty string for null and for what is not such a time. The
 * console shows every time in UTC, so times read on different technicians' machines compare.
 */
export function shortTime(iso: string | null): string {
  if (typeof iso !== 'string' || !/^\d{4}-\d\d-\d\dT\d\d:\d\d/.test(iso)) return '';
  const t = /(Z|[+-]\d\d:?\d\d)$/.test(iso) ? new Date(iso) : null;
  const utc = t && !Number.isNaN(t.getTime()) ? t.toISOString() : iso;
  return `${utc.slice(0, 16).replace('T', ' ')} UTC`;
}

/** `1, 'jump client'` -> `1 jump client`; `2, 'jump client'` -> `2 jump clients` (or the given plural). */
export function plural(n: number, noun: string, nouns = `${noun}s`): string {
  return `${n} ${n === 1 ? noun : nouns}`;
}

/** `safeText`, cut to `max` characters with an ellipsis. */
function oneLine(s: unknown, max = 48): string {
  const flat = safeText(s).trim();
  return flat.length > max ? flat.slice(0, max - 1) + '…' : flat;
}

/** The seeds' totals line: "N Jump Items total. N Jump Clients total. N online. N offline. N passive." */
export function summaryLine(s: ApiSummary): string {
  const n = (v: unknown) => safeText(v);
  return `${n(s.jump_items)} Jump Items total. ${n(s.jump_clients)} Jump Clients total. ${n(s.online)} online. ${n(s.offline)} offline. ${n(s.passive)} passive.`;
}

/**
 * How wide the console's tables may be, in columns: `$COLUMNS` when it is a positive integer, else
 * the terminal's width when stdout is a terminal, else `Infinity` (piped or redirected output is
 * never cut).
 */
export function outputWidth(env: NodeJS.ProcessEnv = process.env, stdout: { isTTY?: boolean; columns?: number } = process.stdout): number {
  const cols = Number(env.COLUMNS);
  if (Number.isInteger(cols) && cols > 0) return cols;
  if (stdout.isTTY && typeof stdout.columns === 'number' && stdout.columns > 0) return stdout.columns;
  return Infinity;
}

/** How `clientsTable` lays the list out. */
export interface ClientsTableOptions {
  /** Every column (`-o wide`): adds Jump Method, Group, Tag and Version, and nothing is cut to `width`. */
  wide?: boolean;
  /** false (`--no-headers`): no header row and no group/tag heading rows; Group and Tag are columns; no borders. */
  headers?: boolean;
  /** The width to fit in, in columns (`outputWidth()`); Name, Hostname/IP and Comments are cut with `…` to fit. Default: Infinity. */
  width?: number;
}

const COLUMNS = ['ID', 'Name', 'Hostname/IP', 'Jump Method', 'Comments', 'Group', 'Tag', 'Status', 'Version', 'Last Connected'] as const;
/** The columns that give way (the widest first) when the table must fit, and the width each keeps. */
const SHRINKABLE: Partial<Record<(typeof COLUMNS)[number], number>> = { Comments: 3, Name: 8, 'Hostname/IP': 10, Status: 8 };

/**
 * The jump client list: one table, rows grouped under jump group and tag headings. The default
 * columns are ID, Name, Hostname/IP, Comments, Status, Last Connected (the group and tag are the
 * headings); `wide` adds Jump Method, Group and Tag. See `ClientsTableOptions`.
 */
export function clientsTable(items: ClientRow[], opts: ClientsTableOptions = {}): string {
  if (items.length === 0) return 'No jump clients match.';
  const headers = opts.headers !== false;
  const width = opts.wide ? Infinity : opts.width ?? Infinity;
  const shown = COLUMNS.filter((c) => opts.wide || !headers || !['Jump Method', 'Group', 'Tag'].includes(c)).filter((c) => opts.wide || (c !== 'Jump Method' && c !== 'Version'));
  const rows = items.map((c) => {
    const host = [c.hostname, c.public_ip].filter(Boolean).join(' / ');
    const status = (STATUS_LABEL[c.status] ?? safeText(c.status)) + (c.mode === 'passive' && c.status !== 'passive' ? ' (passive)' : '') + (c.duplicate_machine_id ? ' [dup machine id]' : '');
    const cells: Record<(typeof COLUMNS)[number], string> = {
      ID: safeText(c.id),
      Name: oneLine(c.name, Infinity),
      'Hostname/IP': oneLine(host, Infinity),
      'Jump Method': safeText(c.jump_method),
      Comments: oneLine(typeof c.comments === 'string' ? c.comments.replace(/\r?\n/g, ' ') : c.comments, Infinity),
      Group: safeText(c.jump_group),
      Tag: safeText(c.tag),
      Status: status,
      Version: safeText((c as { version?: unknown }).version ?? ''),
      'Last Connected': shortTime(c.last_connected),
    };
    return shown.map((col) => cells[col]);
  });
  // Natural widths, then the shrinkable columns give way until the table fits (borders and padding: 3 per column, plus 1).
  const widths = shown.map((col, i) => Math.max(headers ? col.length : 0, ...rows.map((r) => [...r[i]].length)));
  const sep = headers ? 3 : 2;
  const total = () => widths.reduce((a, w) => a + w + sep, headers ? 1 : -2);
  while (total() > width) {
    let best = -1;
    for (let i = 0; i < shown.length; i++) {
      const min = SHRINKABLE[shown[i]];
      if (min !== undefined && widths[i] > min && (best < 0 || widths[i] > widths[best])) best = i;
    }
    if (best < 0) break;
    widths[best]--;
  }
  const cut = (s: string, w: number) => ([...s].length > w ? [...s].slice(0, Math.max(0, w - 1)).join('') + '…' : s);
  if (!headers) {
    // Plain aligned columns, two spaces apart, for scripts (awk, cut) and grep.
    return safeLines(rows.map((r) => r.map((cell, i) => (i === r.length - 1 ? cut(cell, widths[i]) : cut(cell, widths[i]).padEnd(widths[i]))).join('  ').trimEnd()).join('\n'));
  }
  const table = new Table({ head: [...shown], style: { head: [], border: [] }, wordWrap: false, colWidths: widths.map((w) => w + 2) });
  const span = shown.length;
  const inner = widths.reduce((a, w) => a + w + 3, -3);
  let group: string | null = null;
  let tag: string | null = null;
  items.forEach((c, n) => {
    if (c.jump_group !== group) {
      group = c.jump_group;
      tag = null;
      table.push([{ colSpan: span, content: cut(`Jump Group: ${safeText(group)}`, inner) }]);
    }
    if (c.tag !== tag) {
      tag = c.tag;
      if (tag) table.push([{ colSpan: span, content: cut(`  Tag: ${safeText(tag)}`, inner) }]);
    }
    table.push(rows[n].map((cell, i) => cut(cell, widths[i])));
  });
  return safeLines(table.toString());
}

/** How `listTable` lays out a list (the options of `-o wide` and `--no-headers`). */
export interface ListTableOptions {
  /** Every cell whole, nothing cut to `width` (`-o wide`). */
  wide?: boolean;
  /** false (`--no-headers`): no header row, for scripts. */
  headers?: boolean;
  /** The width to fit in, in columns (`outputWidth()`). Default: Infinity. */
  width?: number;
}

/**
 * A plain list in aligned columns, two spaces apart (sessions, installers): a header row unless
 * `headers` is false, and, unless `wide`, the columns named in `shrink` (name → the width it keeps)
 * cut with `…`, the widest first, until a line fits `width`. Cells are escaped with `safeText`.
 */
export function listTable(columns: readonly string[], rows: unknown[][], opts: ListTableOptions & { shrink?: Record<string, number> } = {}): string {
  const headers = opts.headers !== false;
  const width = opts.wide ? Infinity : (opts.width ?? Infinity);
  const cells = rows.map((r) => r.map((v) => oneLine(v === null || v === undefined ? '' : v, Infinity)));
  const widths = columns.map((c, i) => Math.max(headers ? c.length : 0, ...cells.map((r) => [...r[i]].length)));
  const total = () => widths.reduce((a, w) => a + w + 2, -2);
  while (total() > width) {
    let best = -1;
    columns.forEach((c, i) => {
      const min = opts.shrink?.[c];
      if (min !== undefined && widths[i] > min && (best < 0 || widths[i] > widths[best])) best = i;
    });
    if (best < 0) break;
    widths[best]--;
  }
  const cut = (t: string, w: number) => ([...t].length > w ? [...t].slice(0, Math.max(0, w - 1)).join('') + '…' : t);
  const line = (r: string[]) => r.map((t, i) => (i === r.length - 1 ? cut(t, widths[i]) : cut(t, widths[i]).padEnd(widths[i]))).join('  ').trimEnd();
  return safeLines([...(headers ? [line([...columns])] : []), ...cells.map(line)].join('\n'));
}

/** Key/value table for one object (statistics pane, installer, user); every value through `safeText`. */
export function detailsTable(rows: [string, unknown][]): string {
  const table = new Table({ style: { head: [], border: [] }, wordWrap: true, colWidths: [24, 72] });
  for (const [k, v] of rows) {
    const text = v === null || v === undefined ? '' : Array.isArray(v) ? v.map(safeText).join(', ') : typeof v === 'object' ? safeText(JSON.stringify(v)) : safeText(v);
    table.push({ [k]: text });
  }
  return safeLines(table.toString());
}

/** Human-readable bytes: 1536 -> `1.5 KiB`. */
export function bytes(n: unknown): string {
  if (typeof n !== 'number') return '';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(i === 0 ? 0 : 1)} ${units[i]}`;
}
