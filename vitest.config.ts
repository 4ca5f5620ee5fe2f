import { defineConfig } from 'vitest/config';
import { sharedTestOptions } from './vitest.shared';

export default defineConfig({
  test: {
    ...sharedTestOptions,
    include: ['packages/*/test/**/*.test.ts', 'projects/*/test/**/*.test.ts', 'tools/test/**/*.test.ts'],
    setupFiles: ['./tools/test/setup.ts'],
  },
});
