/**
 * The Jump interface's listing at the API (issue #19 item 2): server-side paging (`limit`,
 * `offset`) with totals over every match, sorting by any column both ways, the tags per group, and
 * the CSV export with its cells escaped against formula injection. A real site over a store of 120
 * clients enrolled through the store's own enroll.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SiteClient } from '../../console/http.js';
import { JumpError } from '../../protocol/errors.js';
import { SORT_FIELDS } from '../../protocol/fields.js';
import { csvCell } from '../../site/routes/jump-clients.js';
import { cleanup, tempDir } from '../helpers/processes.js';
import { apiToken, listClients, startSiteProcess } from '../helpers/site.js';
import { probeCertificate } from '../../console/http.js';
import { seedClients } from './web-seed.js';

const N = 120;
const PASSWORD = 'listing admin password';
/** Custom names of the first clients: formula prefixes, a quote, a comma. */
const NAMES: Record<number, string> = { 0: '=HYPERLINK("http://evil.example","x")', 1: '+1+2', 2: '-2+3', 3: '@SUM(A1)', 4: 'say "hi", ok' };

let site: Awaited<ReturnType<typeof startSiteProcess>>;
let api: SiteClient;
let ids: number[];

beforeAll(async () => {
  const dataDir = join(tempDir(), 'data');
  ids = await seedClients(dataDir, N, PASSWORD, NAMES, { 5: '\tcmd', 6: '\r=1' });
  site = await startSiteProcess({ dataDir });
  const { certPem } = await probeCertificate(site.url);
  api = new SiteClient(site.url, { certPem, token: await apiToken(site.url, certPem, 'admin', PASSWORD) });
}, 90_000);
afterAll(async () => {
  site?.proc.child.kill('SIGTERM');
  await cleanup();
});

async function refused(path: string): Promise<JumpError> {
  try {
    await api.request('GET', path);
  } catch (e) {
    return e as JumpError;
  }
  throw new Error(`${path} was not refused`);
}

describe('listing for the web console', () => {
  it('pages: limit and offset cover every client once; the totals count every match on every page', async () => {
    const seen: number[] = [];
    for (let offset = 0; offset < N; offset += 50) {
      const r = await listClients(api, `limit=50&offset=${offset}&sort=created_at`);
      expect(r.items.length).toBe(Math.min(50, N - offset));
      expect(r.summary.jump_items).toBe(N);
      seen.push(...r.items.map((c) => c.id));
    }
    expect(seen).toEqual(ids);
    // A search's totals on its last, short page (offset > 0) count all its matches, not the page's rows.
    const tag = await listClients(api, 'tag=tag-3&limit=5&offset=10');
    expect(tag.items.length).toBe(2);
    expect(tag.summary.jump_items).toBe(12);
    expect((await listClients(api, `limit=50&offset=${N}`)).items).toEqual([]);
  });

  it('sorts by every column both ways, server-side', async () => {
    for (const sort of SORT_FIELDS) {
      const asc = (await listClients(api, `limit=200&sort=${sort}&order=asc`)).items.map((c) => c.id);
      const desc = (await listClients(api, `limit=200&sort=${sort}&order=desc`)).items.map((c) => c.id);
      expect(asc.length, sort).toBe(N);
      expect(desc, sort).toEqual([...asc].reverse());
    }
    const byName = (await listClients(api, 'limit=10&sort=name&order=desc')).items.map((c) => c.name);
    const all = (await listClients(api)).items.map((c) => c.name).sort((a, b) => b.toLowerCase().localeCompare(a.toLowerCase(), 'en', { sensitivity: 'base' }));
    expect(byName[0].toLowerCase()).toBe(all[0].toLowerCase());
    const hosts = (await listClients(api, 'limit=3&sort=hostname')).items.map((c) => c.hostname);
    expect(hosts).toEqual(['host-0', 'host-1', 'host-10']);
  });

  it('names the field of a bad query and its fix', async () => {
    for (const [q, field] of [
      ['sort=nope', 'sort'],
      ['order=up&sort=name', 'order'],
      ['offset=5', 'offset'],
      ['limit=10&offset=-1', 'offset'],
      ['with_tags=yes', 'with_tags'],
    ]) {
      const e = await refused(`/api/v1/jump-clients?${q}`);
      expect(e.code, q).toBe('VALIDATION_FAILED');
      expect(e.message, q).toMatch(new RegExp(`^${field}: `));
    }
    const e = await refused('/api/v1/jump-clients.csv?columns=name,password_hash');
    expect(e.message).toMatch(/^columns: unknown column "password_hash"/);
  });

  it('lists the tags per group with their counts', async () => {
    const r = await api.request<{ tags: { jump_group: string; tag: string; count: number }[] }>('GET', '/api/v1/jump-clients?limit=1&with_tags=1');
    expect(r.tags).toHaveLength(10);
    expect(r.tags.every((t) => t.jump_group === 'Fleet' && t.count === 12)).toBe(true);
  });

  it('exports CSV with every matching row and cells a spreadsheet cannot run as formulas', async () => {
    const text = await api.requestText('GET', '/api/v1/jump-clients.csv?sort=created_at&columns=name,hostname,comments,jump_group');
    const lines = text.trimEnd().split('\r\n');
    expect(lines[0]).toBe('"name","hostname","comments","jump_group"');
    expect(lines.length).toBe(N + 1);
    expect(lines[1]).toBe(`"'=HYPERLINK(""http://evil.example"",""x"")","host-0","rack 0","Fleet"`);
    expect(lines[2].startsWith(`"'+1+2",`)).toBe(true);
    expect(lines[3].startsWith(`"'-2+3",`)).toBe(true);
    expect(lines[4].startsWith(`"'@SUM(A1)",`)).toBe(true);
    expect(lines[5].startsWith(`"say ""hi"", ok",`)).toBe(true);
    // No cell of the file starts with a formula character once unquoted.
    for (const line of lines) for (const cell of line.slice(1, -1).split('","')) expect(cell, line).not.toMatch(/^[=+\-@\t\r]/);
    // The search and group apply to the export as to the list.
    const one = await api.requestText('GET', '/api/v1/jump-clients.csv?search=host-77&fields=name');
    expect(one.trimEnd().split('\r\n').length).toBe(2);
  });

  it('csvCell: quotes every cell, doubles quotes, defuses formula prefixes', () => {
    expect(csvCell('=1+1')).toBe(`"'=1+1"`);
    expect(csvCell('\t=1')).toBe(`"'\t=1"`);
    expect(csvCell('a"b')).toBe('"a""b"');
    expect(csvCell(null)).toBe('""');
    expect(csvCell(['10.0.0.1', '10.0.0.2'])).toBe('"10.0.0.1 10.0.0.2"');
    expect(csvCell('plain')).toBe('"plain"');
  });
});
