import type { Cluster, Redis } from 'ioredis'
import type { ReadinessCheck } from '../http/ports.js'

/** GET /ready's question to the dedupe store: Redis answers PING, or the in-process store is there. */
export function dedupeCheck(redis: Redis | Cluster | undefined): ReadinessCheck {
  if (!redis) return { name: 'redis', backend: 'in-process', check: async () => {} }
  return {
    name: 'redis',
    backend: 'redis',
    async check() {
      await redis.ping()
    },
  }
}

/** GET /ready's question to ClickHouse: does it answer its ping (server or embedded)? */
export function clickHouseCheck(
  sink: { ping(): Promise<boolean> },
  backend: string,
): ReadinessCheck {
  return {
    name: 'clickhouse',
    backend,
    async check() {
      if (!(await sink.ping())) throw new Error('ClickHouse does not answer its ping')
    },
  }
}
