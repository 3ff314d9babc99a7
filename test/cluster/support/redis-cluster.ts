import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { Cluster, type ClusterOptions } from 'ioredis'

/** The Redis Cluster of scripts/redis-cluster.sh: 3 primaries, 3 replicas, on loopback. */
export const REDIS_CLUSTER_PORT = Number(process.env.SLUICE_REDIS_CLUSTER_PORT ?? 7000)
export const REDIS_CLUSTER_DIR = process.env.SLUICE_REDIS_CLUSTER_DIR ?? '/tmp/sluice-redis-cluster'
export const REDIS_CLUSTER_NODES = Array.from(
  { length: 6 },
  (_, i) => `127.0.0.1:${REDIS_CLUSTER_PORT + i}`,
).join(',')

/** Starts what is not running (idempotent): a test that killed a node brings it back this way. */
export function startRedisCluster(): void {
  execFileSync('bash', ['scripts/redis-cluster.sh', 'start'], { stdio: 'inherit' })
}

export function connectCluster(options: ClusterOptions = {}): Cluster {
  return new Cluster(
    REDIS_CLUSTER_NODES.split(',').map((node) => {
      const [host, port] = node.split(':')
      return { host: host!, port: Number(port) }
    }),
    { redisOptions: { maxRetriesPerRequest: 1 }, ...options },
  )
}

/** The pid of the redis-server on `port`, from the pid file the script made it write. */
export function redisPid(port: number): number {
  return Number(readFileSync(`${REDIS_CLUSTER_DIR}/${port}/redis.pid`, 'utf8').trim())
}
