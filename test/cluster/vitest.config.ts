import { fileURLToPath } from 'node:url'
import { defineConfig } from 'vitest/config'
import base from '../../vitest.config.js'

/*
 * npm run test:cluster: the suites on real clusters (a Redis Cluster, two ClickHouse 18.16 shards
 * with ZooKeeper, Sluice processes behind HAProxy), which the scripts in scripts/ bring up. Their
 * files end in .cluster.ts so that npm test's run (test/**\/*.test.ts) never picks them up; one file
 * at a time, on 2 cores shared with the rest of CI. The base config's aliases and pool are kept;
 * its include is replaced, not merged (mergeConfig would concatenate the two lists).
 */
export default defineConfig({
  ...base,
  root: fileURLToPath(new URL('../..', import.meta.url)),
  test: {
    ...base.test,
    include: ['test/cluster/**/*.cluster.ts'],
    fileParallelism: false,
    testTimeout: 120_000,
    hookTimeout: 180_000,
  },
})
