/**
 * One seed per randomized suite, printed so a failure can be replayed: `JUMP_TEST_SEED=<n> npm
 * test` (or `npm run test:long`) reruns with the same seed. Suites derive their random choices
 * from `seededRandom(seed)` (and fast-check's `seed` option), never from Math.random.
 */

/** The run's seed: JUMP_TEST_SEED when set (an integer), else a fresh one. Printed once per suite. */
export function testSeed(suite: string): number {
  const given = process.env.JUMP_TEST_SEED;
  const seed = given !== undefined && given !== '' ? Number(given) : Math.floor(Math.random() * 2 ** 31);
  if (!Number.isSafeInteger(seed)) throw new Error(`JUMP_TEST_SEED must be an integer, got ${given}`);
  console.log(`[${suite}] seed ${seed} (replay: JUMP_TEST_SEED=${seed})`);
  return seed;
}

/** Runs for a property or loop: `JUMP_TEST_RUNS` when set, else `short` in npm test and `long` in test:long. */
export function testRuns(short: number, long: number): number {
  const given = Number(process.env.JUMP_TEST_RUNS);
  if (Number.isSafeInteger(given) && given > 0) return given;
  return process.env.JUMP_TEST_LONG === '1' ? long : short;
}

/** A deterministic PRNG (mulberry32) in [0, 1) from `seed`: the same seed, the same sequence. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
