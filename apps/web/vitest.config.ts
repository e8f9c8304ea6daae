import { defineConfig } from 'vitest/config'

// The dashboard's framework-free logic (stream client, cache updates,
// formatting) runs in Node; the browser behaviour is covered by e2e/.
export default defineConfig({
  test: {
    name: 'web',
    root: import.meta.dirname,
    include: ['src/**/__tests__/*.test.ts'],
    environment: 'node',
  },
})
