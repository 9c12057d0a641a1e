import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['src/**/*.test.ts', 'reconcilers/**/*.test.ts', 'webhooks/**/*.test.ts', 'test/**/*.test.ts'],
    testTimeout: 20_000,
    // Lab tests share real nodes; files run one at a time so they never fight over them.
    fileParallelism: true,
  },
});
