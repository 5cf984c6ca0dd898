import { defineConfig } from 'vitest/config';

/**
 * `npm test` runs the unit, integration, end-to-end and bounded reliability suites; `npm run
 * test:long` (JUMP_TEST_LONG=1) runs only test/long: the same reliability suites with many more
 * runs, the crash loops and the fuzzers that need minutes (docs/reliability.md).
 */
const long = process.env.JUMP_TEST_LONG === '1';

export default defineConfig({
  test: {
    include: long ? ['test/long/**/*.test.ts'] : ['test/{unit,integration,e2e,reliability}/**/*.test.ts'],
    testTimeout: long ? 30 * 60_000 : 90_000,
    hookTimeout: 60_000,
    teardownTimeout: 15_000,
    pool: 'forks',
    // Integration files each run a real site and agents; two at a time fits a 2-core machine.
    maxWorkers: 2,
    fileParallelism: true,
  },
});
