/**
 * What a hostile endpoint can do to the site's recordings (security issue #12 item 12 residual,
 * item 18 "recordings written synchronously without a size cap"): a raw agent that speaks the real
 * protocol floods `rec` and `sftp_log` for a finished session and past the per-session caps.
 * The caps are lowered for the test with JUMP_SITE_RECORDING_MAX_BYTES / JUMP_SITE_SFTP_LOG_MAX_BYTES.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ephemeralKey, openSession } from '../../console/ssh.js';
import { cleanup, waitFor } from '../helpers/processes.js';
import { rawAgent, type RawAgent } from '../helpers/raw-agent.js';
import { createInstaller, startTestSite, type TestSite } from '../helpers/site.js';

const REC_CAP = 256 * 1024;
const LOG_CAP = 16 * 1024;

let site: TestSite;
let agent: RawAgent;
/** How the raw agent answers the next session_open. */
let answer: 'refuse' | 'accept' = 'refuse';
const sockets: WebSocket[] = [];

beforeAll(async () => {
  process.env.JUMP_SITE_RECORDING_MAX_BYTES = String(REC_CAP);
  process.env.JUMP_SITE_SFTP_LOG_MAX_BYTES = String(LOG_CAP);
  site = await startTestSite();
  const inst = await createInstaller(site.api, { tag: 'flood' });
  agent = await rawAgent(inst, 'ignore');
  agent.ws.on('message', (data) => {
    const m = JSON.parse(data.toString()) as { t: string; session_id: string; token: string };
    if (m.t !== 'session_open') return;
    if (answer === 'refuse') {
      agent.ws.send(JSON.stringify({ t: 'session_refused', session_id: m.session_id, code: 'JUMP_INTERNAL_ERROR' }));
      return;
    }
    agent.ws.send(JSON.stringify({ t: 'session_accepted', session_id: m.session_id }));
    // Attach the session socket like a real agent, and hold it.
    const s = new WebSocket(inst.site_url.replace(/^https/, 'wss') + '/agent/v1/session', {
      rejectUnauthorized: false,
      headers: { 'x-jump-session-id': m.session_id, 'x-jump-session-token': m.token },
    });
    s.on('error', () => undefined);
    sockets.push(s);
  });
});
afterAll(async () => {
  for (const s of sockets) s.terminate();
  agent?.close();
  await cleanup();
  delete process.env.JUMP_SITE_RECORDING_MAX_BYTES;
  delete process.env.JUMP_SITE_SFTP_LOG_MAX_BYTES;
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
type SessionItem = { id: string; ended_at: string | null; recording: boolean; file_log: boolean };

/** Sends `count` messages at most 20 per second (under the site's 50 messages/s per agent). */
async function flood(make: (i: number) => object, count: number): Promise<void> {
  for (let i = 0; i < count; i++) {
    agent.ws.send(JSON.stringify(make(i)));
    if (i % 20 === 19) await sleep(1000);
  }
  await sleep(300);
}

const sftpBatch = (sessionId: string, i: number) => ({
  t: 'sftp_log',
  session_id: sessionId,
  ops: Array.from({ length: 10 }, (_, k) => [i, 'open', `/flood/${i}/${k}/${'x'.repeat(200)}`, 'r']),
});
const recBatch = (sessionId: string, i: number, header: boolean) => ({
  t: 'rec',
  session_id: sessionId,
  ...(header ? { header: { width: 80, height: 24, term: 'xterm' } } : {}),
  events: [[i, 'o', Buffer.from('A'.repeat(30 * 1024)).toString('base64')]],
});

describe('recording messages from a hostile agent', () => {
  it('ignores rec and sftp_log for a session that has ended (never live on this connection)', async () => {
    answer = 'refuse';
    const key = ephemeralKey();
    await expect(openSession(site.api, String(agent.clientId), 'shell', key.publicLine)).rejects.toThrow();
    const { items } = await site.api.request<{ items: SessionItem[] }>('GET', `/api/v1/sessions?client=${agent.clientId}`);
    expect(items).toHaveLength(1);
    const id = items[0].id;
    expect(items[0].ended_at).not.toBeNull();
    await flood((i) => (i % 2 ? sftpBatch(id, i) : recBatch(id, i, i === 0)), 6);
    expect(existsSync(join(site.dataDir, 'recordings', `${id}.sftp.jsonl`))).toBe(false);
    expect(existsSync(join(site.dataDir, 'recordings', `${id}.cast`))).toBe(false);
    const s = await site.api.request<{ item: SessionItem }>('GET', `/api/v1/sessions/${id}`);
    expect(s.item).toMatchObject({ recording: false, file_log: false });
  });

  it('caps the terminal recording and the SFTP file log of a live session, and notes the truncation; both files stay referenced', async () => {
    answer = 'accept';
    const key = ephemeralKey();
    const { info, ws } = await openSession(site.api, String(agent.clientId), 'proxy', key.publicLine);
    const id = info.session_id;
    // About 1.2 MiB of terminal output and 80 KiB of file operations, against 256 KiB and 16 KiB caps.
    await flood((i) => recBatch(id, i, i === 0), 40);
    await flood((i) => sftpBatch(id, i), 40);
    const cast = join(site.dataDir, 'recordings', `${id}.cast`);
    const log = join(site.dataDir, 'recordings', `${id}.sftp.jsonl`);
    await waitFor(() => existsSync(cast) && existsSync(log) && readFileSync(cast, 'utf8').includes('recording cap') && readFileSync(log, 'utf8').includes('truncated'));
    expect(statSync(cast).size).toBeLessThanOrEqual(REC_CAP + 1024);
    expect(statSync(cast).size).toBeGreaterThan(REC_CAP / 2);
    expect(statSync(log).size).toBeLessThanOrEqual(LOG_CAP + 1024);
    // Both stay referenced: the API shows both, and each part can be downloaded.
    const s = await site.api.request<{ item: SessionItem }>('GET', `/api/v1/sessions/${id}`);
    expect(s.item).toMatchObject({ recording: true, file_log: true });

    ws.close();
  }, 60_000);

  it('takes nothing for a session once it has ended and its grace period passed', async () => {
    answer = 'accept';
    const key = ephemeralKey();
    const { info, ws } = await openSession(site.api, String(agent.clientId), 'sftp', key.publicLine);
    const id = info.session_id;
    const log = join(site.dataDir, 'recordings', `${id}.sftp.jsonl`);
    agent.ws.send(JSON.stringify({ t: 'sftp_log', session_id: id, ops: [[1, 'open', '/during/the/session', 'r']] }));
    await waitFor(() => existsSync(log) && readFileSync(log, 'utf8').includes('/during/the/session'));
    ws.close();
    await waitFor(async () => (await site.api.request<{ item: SessionItem }>('GET', `/api/v1/sessions/${id}`)).item.ended_at);
    // After the grace period for last batches (10 s), nothing more is taken.
    await sleep(10_500);
    const before = statSync(log).size;
    await flood((i) => sftpBatch(id, i), 5);
    expect(statSync(log).size).toBe(before);
    expect(readFileSync(log, 'utf8')).not.toContain('/flood/');
  }, 60_000);
});
