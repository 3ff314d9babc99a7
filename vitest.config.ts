import { fileURLToPath } from 'node:url'
import { defineConfig } from 'vitest/config'

const src = (path: string) => fileURLToPath(new URL(`./src/${path}`, import.meta.url))

export default defineConfig({
  resolve: {
    // The docs' examples import the package by name, as its users do.
    alias: [
      { find: /^sluice\/testing$/, replacement: src('testing.ts') },
      { find: /^sluice\/client$/, replacement: src('client.ts') },
      { find: /^sluice\/server$/, replacement: src('server.ts') },
      { find: /^sluice$/, replacement: src('index.ts') },
    ],
  },
  test: {
    include: ['test/**/*.test.ts', 'docs/**/*.test.ts'],
    // Each file in its own process: chDB binds one data directory per process.
    pool: 'forks',
    testTimeout: 30_000,
    hookTimeout: 60_000,
  },
})
