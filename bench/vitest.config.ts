// Benchmarks run through vitest only to load TypeScript and the test helpers; they print numbers
// beside baselines from the same run and assert only that the work was right. `npm run bench:daemon`.
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: { include: ['bench/**/*.bench.ts'], testTimeout: 900_000, hookTimeout: 900_000, fileParallelism: false },
});
