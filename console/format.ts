/**
 * How the console shows things to people: tables (cli-table3) grouped the way the Jump interface
 * groups them (by jump group, then tag), and the closing totals line of the seeds.
 */
import Table from 'cli-table3';

/** A jump client as the API returns it (GET /api/v1/jump-clients). */
export interface ClientRow {
  id: number;
  name: string;
  hostname: string | null;
  public_ip: string | null;
  private_ips: string[];
  jump_method: string;
  comments: string;
  jump_group: string;
  tag: string;
  status: string;
  mode: string;
  last_connected: string | null;
  duplicate_machine_id: boolean;
  [k: string]: unknown;
}

export interface Summary {
  jump_items: number;
  jump_clients: number;
  online: number;
  offline: number;
  passive: number;
}

const STATUS_LABEL: Record<string, string> = { online: 'Online', offline: 'Offline', uninstalled: 'Uninstalled' };

/** `2026-11-21T23:00:00.000Z` -> `2026-11-21 23:00` (UTC), or an empty string. */
export function shortTime(iso: string | null): string {
  return iso ? iso.slice(0, 16).replace('T', ' ') : '';
}

function oneLine(s: string, max = 48): string {
  const flat = s.replace(/\s+/g, ' ').trim();
  return flat.length > max ? flat.slice(0, max - 1) + '…' : flat;
}

/** The seeds' totals line: "N Jump Items total. N Jump Clients total. N online. N offline. N passive." */
export function summaryLine(s: Summary): string {
  return `${s.jump_items} Jump Items total. ${s.jump_clients} Jump Clients total. ${s.online} online. ${s.offline} offline. ${s.passive} passive.`;
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
      table.push([{ colSpan: head.length, content: `Jump Group: ${group}` }]);
    }
    if (c.tag !== tag) {
      tag = c.tag;
      if (tag) table.push([{ colSpan: head.length, content: `  Tag: ${tag}` }]);
    }
    const host = [c.hostname, c.public_ip].filter(Boolean).join(' / ');
    const status = (STATUS_LABEL[c.status] ?? c.status) + (c.mode === 'passive' ? ' (passive)' : '') + (c.duplicate_machine_id ? ' [dup machine id]' : '');
    table.push([
      String(c.id),
      oneLine(c.name, 40),
      oneLine(host, 40),
      c.jump_method,
      oneLine(c.comments),
      c.jump_group,
      c.tag,
      status,
      shortTime(c.last_connected),
    ]);
  }
  return items.length > 0 ? table.toString() : 'No jump clients match.';
}

/** Key/value table for one object (statistics pane, installer, user). */
export function detailsTable(rows: [string, unknown][]): string {
  const table = new Table({ style: { head: [], border: [] }, wordWrap: true, colWidths: [24, 72] });
  for (const [k, v] of rows) {
    const text = v === null || v === undefined ? '' : Array.isArray(v) ? v.join(', ') : typeof v === 'object' ? JSON.stringify(v) : String(v);
    table.push({ [k]: text });
  }
  return table.toString();
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
