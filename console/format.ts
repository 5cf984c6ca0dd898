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

const STATUS_LABEL: Record<string, string> = { online: 'Online', offline: 'Offline', uninstalled: 'Uninstalled' };

/** `2026-11-21T23:00:00.000Z` -> `2026-11-21 23:00` (UTC), or an empty string (also for what is not such a time). */
export function shortTime(iso: string | null): string {
  return typeof iso === 'string' && /^\d{4}-\d\d-\d\dT\d\d:\d\d/.test(iso) ? iso.slice(0, 16).replace('T', ' ') : '';
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

/** The jump client list: one table, rows grouped under jump group and tag headings. */
export function clientsTable(items: ClientRow[]): string {
  const head = ['ID', 'Name', 'Hostname/IP', 'Jump Method', 'Comments', 'Group', 'Tag', 'Status', 'Last Connected'];
  const table = new Table({ head, style: { head: [], border: [] }, wordWrap: false });
  let group: string | null = null;
  let tag: string | null = null;
  for (const c of items) {
    if (c.jump_group !== group) {
      group = c.jump_group;
      tag = null;
      table.push([{ colSpan: head.length, content: `Jump Group: ${safeText(group)}` }]);
    }
    if (c.tag !== tag) {
      tag = c.tag;
      if (tag) table.push([{ colSpan: head.length, content: `  Tag: ${safeText(tag)}` }]);
    }
    const host = [c.hostname, c.public_ip].filter(Boolean).join(' / ');
    const status = (STATUS_LABEL[c.status] ?? safeText(c.status)) + (c.mode === 'passive' ? ' (passive)' : '') + (c.duplicate_machine_id ? ' [dup machine id]' : '');
    table.push([
      safeText(c.id),
      oneLine(c.name, 40),
      oneLine(host, 40),
      safeText(c.jump_method),
      oneLine(typeof c.comments === 'string' ? c.comments.replace(/\r?\n/g, ' ') : c.comments),
      safeText(c.jump_group),
      safeText(c.tag),
      status,
      shortTime(c.last_connected),
    ]);
  }
  return items.length > 0 ? safeLines(table.toString()) : 'No jump clients match.';
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
