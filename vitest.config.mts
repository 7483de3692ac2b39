import swc from 'unplugin-swc';
import { defineConfig } from 'vitest/config';

// unplugin-swc gives Nest's decorators their metadata; tsconfig paths resolve @nnq/<lib>.
const plugins = [swc.vite({ module: { type: 'es6' } })];
const resolve = { tsconfigPaths: true };

export default defineConfig({
  test: {
    globalSetup: ['test/setup/redis.global-setup.ts'],
    projects: [
      {
        plugins,
        resolve,
        test: { name: 'unit', include: ['libs/**/*.spec.ts', 'apps/**/*.spec.ts'], testTimeout: 60_000 },
      },
      {
        plugins,
        resolve,
        test: {
          name: 'e2e',
          include: ['test/**/*.e2e.ts'],
          testTimeout: 180_000,
          hookTimeout: 300_000,
          fileParallelism: false,
        },
      },
    ],
  },
});
