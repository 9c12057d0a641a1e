import { defineConfig } from 'vitest/config';

const experimental = (process.env.CORRAL_EXPERIMENTAL ?? '').split(',');

export default defineConfig({
  test: {
    testTimeout: 30_000,
    projects: [
      {
        extends: true,
        test: { name: 'unit', include: ['src/**/*.test.ts', 'reconcilers/**/*.test.ts', 'webhooks/**/*.test.ts', 'test/**/*.test.ts'], exclude: ['test/e2e/**'] },
      },
      {
        extends: true,
        // Lab tests share the same real nodes: one file at a time. The lab tests of an experimental
        // module (reconcilers/index.ts) run only when it is enabled: npm run test:pgsql.
        test: { name: 'e2e', include: ['test/e2e/**/*.test.ts'], exclude: experimental.includes('pgsql') ? [] : ['test/e2e/pgsql.e2e.test.ts'], fileParallelism: false },
      },
    ],
  },
});
