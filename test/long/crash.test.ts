/**
 * Crash consistency at full length (docs/reliability.md section 2): hundreds of kill -9 of the
 * site at random moments (JUMP_TEST_RUNS overrides the count; JUMP_TEST_SEED replays a run).
 */
import { afterAll, expect, it } from 'vitest';
import { cleanup } from '../helpers/processes.js';
import { testRuns, testSeed } from '../helpers/seed.js';
import { runCrashLoop, startApiSite } from '../reliability/crash-loop.js';

afterAll(cleanup);

it('keeps the store whole and every acknowledged operation across hundreds of kill -9', async () => {
  const seed = testSeed('crash-long');
  const iterations = testRuns(8, 300);
  const site = await startApiSite();
  const r = await runCrashLoop({ site, iterations, seed, maxAgents: 12, maxRunMs: 3000, log: (l) => console.log(l) });
  console.log(`[crash-long] ${r.iterations} kills (${r.killedMidOperation} mid-operation): ${JSON.stringify(r.operations)}`);
  expect(r.iterations).toBe(iterations);
});
