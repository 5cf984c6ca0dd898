/**
 * Agent-protocol fuzzing, bounded (docs/reliability.md section 1; the long run is
 * test/long/fuzz.test.ts): generated hello/enroll/auth, every session-phase message, junk frames
 * and session-socket upgrades against a real site, which must answer each with its code, stay up,
 * keep its memory and keep serving a normal agent and an API client.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiToken, TEST_ADMIN_PASSWORD } from '../helpers/site.js';
import { testRuns, testSeed } from '../helpers/seed.js';
import { AGENT_MESSAGES, fuzzAgentSide } from './fuzz-agent-lib.js';
import { agentHandshakeMessage, agentSessionMessage } from '../../protocol/messages.js';
import { startFuzzHarness, type FuzzHarness } from './fuzz-harness.js';

let h: FuzzHarness;
beforeAll(async () => {
  h = await startFuzzHarness();
}, 60_000);
afterAll(async () => {
  await h?.stop();
});

/** Agent message types fuzzed elsewhere, with where. */
const FUZZED_ELSEWHERE: Record<string, string> = {
  enroll_check: "the installer's preflight: test/reliability/installer-inputs*.ts and test/integration/install-preflight.test.ts",
};

describe('agent protocol fuzz: coverage', () => {
  it('fuzzes every message type an agent may send (protocol/messages.ts), so a new one cannot be left out', () => {
    const types = [...agentHandshakeMessage.options, ...agentSessionMessage.options].map((o) => String((o.shape.t as unknown as { value: string }).value));
    const missing = types.filter((t) => !(t in AGENT_MESSAGES) && !(t in FUZZED_ELSEWHERE));
    expect(missing, 'add these to AGENT_MESSAGES in fuzz-agent-lib.ts (with their expected answers)').toEqual([]);
    expect(Object.keys(AGENT_MESSAGES).filter((t) => !types.includes(t))).toEqual([]);
    expect(types).toContain('update_status');
  });
});

describe('agent protocol fuzz (bounded)', () => {
  it('answers every generated agent input with its code, and stays up, bounded and serving', async () => {
    const seed = testSeed('fuzz-agent');
    const token = await apiToken(h.site.url, h.site.certPem, 'admin', TEST_ADMIN_PASSWORD);
    const t0 = Date.now();
    await fuzzAgentSide(h, token, seed, { handshake: testRuns(250, 250), session: testRuns(250, 250), sessionSocket: testRuns(48, 48), live: testRuns(50, 50) });
    const summary = await h.finish();
    console.log(`[fuzz-agent] ${((Date.now() - t0) / 1000).toFixed(1)} s: ${summary}`);
    expect(h.counts['agent handshake']).toBeGreaterThan(0);
  }, 120_000);
});
