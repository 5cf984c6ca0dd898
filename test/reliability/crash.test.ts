/**
 * Crash consistency, bounded (docs/reliability.md section 2): kill -9 of the site at random
 * moments while enrollments, edits, deletes, installer creation and recorded Jump sessions run;
 * after each restart the store is consistent, every acknowledged operation is there and every
 * agent is back exactly once. The long run is test/long/crash.test.ts; replay with JUMP_TEST_SEED.
 */
import { afterAll, expect, it } from 'vitest';
import { cleanup } from '../helpers/processes.js';
import { testRuns, testSeed } from '../helpers/seed.js';
import { runCrashLoop, startApiSite } from './crash-loop.js';

afterAll(cleanup);

it('keeps the store whole and every acknowledged operation across random kill -9 of the site', async () => {
  const seed = testSeed('crash');
  const iterations = testRuns(6, 300);
  const site = await startApiSite();
  const t0 = Date.now();
  const r = await runCrashLoop({ site, iterations, seed, log: (l) => process.env.JUMP_TEST_LOG && console.log(l) });
  console.log(`[crash] ${r.iterations} kills (${r.killedMidOperation} mid-operation) in ${Date.now() - t0} ms: ${JSON.stringify(r.operations)}`);
  expect(r.iterations).toBe(iterations);
  // The loop really cut operations and really acknowledged them (else it checked nothing).
  const ops = Object.values(r.operations);
  expect(ops.reduce((n, o) => n + o.acked, 0)).toBeGreaterThan(iterations);
}, 120_000);
