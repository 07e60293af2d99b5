import { defineConfig } from 'vitest/config';

// Benchmark sections that need the TypeScript test fakes (fake Cloudflare API, DNS/SMTP lab).
// Not part of `npm test`: run by bench/vitest-section.mjs, one file at a time.
export default defineConfig({
  test: {
    include: ['bench/**/*.bench-run.ts'],
    testTimeout: 60 * 60_000,
    hookTimeout: 10 * 60_000,
    maxWorkers: 1,
    fileParallelism: false,
  },
});
