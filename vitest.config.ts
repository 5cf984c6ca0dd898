import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 90_000,
    hookTimeout: 60_000,
    teardownTimeout: 15_000,
    pool: 'forks',
    // Integration files each run a real site and agents; two at a time fits a 2-core machine.
    maxWorkers: 2,
    fileParallelism: true,
  },
});
