import { fileURLToPath } from 'node:url'
import { defineConfig, mergeConfig } from 'vitest/config'
import base from '../../vitest.config.js'

/*
 * npm run test:cluster: the suites on real clusters (a Redis Cluster, two ClickHouse 18.16 shards
 * with ZooKeeper, Sluice processes behind HAProxy), which the scripts in scripts/ bring up. Their
 * files end in .cluster.ts so that npm test's run (test/**\/*.test.ts) never picks them up; one file
 * at a time, on 2 cores shared with the rest of CI.
 */
export default mergeConfig(
  base,
  defineConfig({
    root: fileURLToPath(new URL('../..', import.meta.url)),
    test: {
      include: ['test/cluster/**/*.cluster.ts'],
      fileParallelism: false,
      testTimeout: 120_000,
      hookTimeout: 180_000,
    },
  }),
)
