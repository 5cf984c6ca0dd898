/**
 * Protocol and API fuzzing at full length (`npm run test:long`; docs/reliability.md section 1):
 * the bounded suites of test/reliability/fuzz-agent.test.ts and fuzz-api.test.ts with tens of
 * thousands of inputs, each against its own site. The seed is printed; JUMP_TEST_SEED replays it.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { apiToken, TEST_ADMIN_PASSWORD } from '../helpers/site.js';
import { testRuns, testSeed } from '../helpers/seed.js';
import { fuzzAgentSide } from '../reliability/fuzz-agent-lib.js';
import { apiPools, fuzzApi } from '../reliability/fuzz-api-lib.js';
import { startFuzzHarness, type FuzzHarness } from '../reliability/fuzz-harness.js';

let h: FuzzHarness | null = null;
afterEach(async () => {
  await h?.stop();
  h = null;
});

describe('protocol and API fuzz (long)', () => {
  it('agent protocol: tens of thousands of inputs', async () => {
    h = await startFuzzHarness();
    const seed = testSeed('fuzz-agent-long');
    const token = await apiToken(h.site.url, h.site.certPem, 'admin', TEST_ADMIN_PASSWORD);
    await fuzzAgentSide(h, token, seed, { handshake: testRuns(250, 12_000), session: testRuns(250, 12_000), sessionSocket: testRuns(48, 2_000), live: testRuns(50, 2_000) });
    console.log(`[fuzz-agent-long] ${await h.finish()}`);
    expect(h.counts['agent handshake']).toBeGreaterThan(0);
  });

  it('API: tens of thousands of calls', async () => {
    h = await startFuzzHarness();
    const seed = testSeed('fuzz-api-long');
    const token = await apiToken(h.site.url, h.site.certPem, 'admin', TEST_ADMIN_PASSWORD);
    await fuzzApi(h, token, await apiPools(h), seed, { calls: testRuns(500, 25_000), raw: testRuns(40, 2_000) });
    console.log(`[fuzz-api-long] ${await h.finish()}`);
    expect(h.counts['api as admin']).toBeGreaterThan(0);
  });
});
