/**
 * A hand-driven agent for tests of the site's Jump error paths: it speaks the real protocol
 * (handshake, enrollment, heartbeats) and then answers `session_open` as told, including ways a
 * faulty or hostile agent might.
 */
import type { TLSSocket } from 'node:tls';
import WebSocket from 'ws';
import { channelBinding, newEd25519Key, newNonce, parseSitePin, rawPublicKey, signAsAgent, verifySite } from '../../protocol/handshake.js';
import { fixtureStats } from './site.js';

export type SessionBehaviour = 'ignore' | 'accept-and-stall' | 'refuse-internal' | 'disconnect';

export interface RawAgent {
  clientId: number;
  close(): void;
}

/** Enrolls with `inst` and stays online (heartbeats every 500 ms), answering session starts with `behaviour`. */
export async function rawAgent(inst: { site_url: string; site_pin: string; key_info: string }, behaviour: SessionBehaviour): Promise<RawAgent> {
  const key = newEd25519Key();
  const ws = new WebSocket(inst.site_url.replace(/^https/, 'wss') + '/agent/v1', { rejectUnauthorized: false });
  let cb: Buffer | null = null;
  ws.on('upgrade', (res) => (cb = channelBinding(res.socket as TLSSocket)));
  const nonce = newNonce();
  let beat: NodeJS.Timeout | null = null;
  const clientId = await new Promise<number>((resolve, reject) => {
    ws.on('open', () => ws.send(JSON.stringify({ t: 'hello', protocol: 1, agent_version: '0.1.0', nonce })));
    ws.on('error', reject);
    ws.on('message', (data) => {
      const m = JSON.parse(data.toString());
      if (m.t === 'challenge') {
        if (!verifySite(parseSitePin(inst.site_pin), m.site_sig, cb!, nonce, m.nonce)) return reject(new Error('site not verified'));
        const pub = rawPublicKey(key);
        const sig = signAsAgent(key, cb!, nonce, m.nonce, pub);
        ws.send(JSON.stringify({ t: 'enroll', key_info: inst.key_info, public_key: pub, machine_id: `raw-${pub.slice(0, 8)}`, requested: {}, sig }));
      } else if (m.t === 'welcome') {
        ws.send(JSON.stringify({ t: 'stats', full: true, stats: fixtureStats({ hostname: `raw-${behaviour}` }) }));
        let seq = 0;
        beat = setInterval(() => ws.send(JSON.stringify({ t: 'hb', seq: seq++ })), 500);
        resolve(m.client_id);
      } else if (m.t === 'session_open') {
        if (behaviour === 'accept-and-stall') ws.send(JSON.stringify({ t: 'session_accepted', session_id: m.session_id }));
        else if (behaviour === 'refuse-internal') ws.send(JSON.stringify({ t: 'session_refused', session_id: m.session_id, code: 'JUMP_INTERNAL_ERROR' }));
        else if (behaviour === 'disconnect') ws.terminate();
      } else if (m.t === 'error') {
        reject(new Error(m.code));
      }
    });
  });
  ws.on('close', () => beat && clearInterval(beat));
  return {
    clientId,
    close() {
      if (beat) clearInterval(beat);
      ws.terminate();
    },
  };
}
