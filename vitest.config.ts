import { fileURLToPath } from 'node:url'
import { defineConfig } from 'vitest/config'

// Tests import workspace packages from their TypeScript sources, so a test
// run needs no prior `tsc` build; only the native addon must be compiled.
const src = (path: string) => fileURLToPath(new URL(path, import.meta.url))
const alias = {
  '@blackhole/policy': src('./packages/policy/src/index.ts'),
  '@blackhole/native': src('./packages/native/lib/index.ts'),
}

export default defineConfig({
  resolve: { alias },
  test: {
    projects: [
      {
        resolve: { alias },
        test: {
          name: 'unit',
          include: [
            'packages/policy/test/**/*.test.ts',
            'apps/api/test/unit/**/*.test.ts',
            'apps/web/src/**/__tests__/*.test.ts',
          ],
        },
      },
      {
        // Real kernel: namespaces, cgroups, seccomp, Landlock. Needs root and
        // runs one file at a time so cgroup and port use never overlap.
        resolve: { alias },
        test: {
          name: 'kernel',
          include: ['packages/native/test/**/*.test.ts', 'apps/api/test/kernel/**/*.test.ts'],
          fileParallelism: false,
          testTimeout: 60_000,
          hookTimeout: 60_000,
        },
      },
    ],
  },
})
