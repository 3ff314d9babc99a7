import { hostname } from 'node:os'
import { join, resolve } from 'node:path'
import type { ClickHouseClient } from '@clickhouse/client'
import type { Cluster, Redis } from 'ioredis'
import type { Logger } from 'pino'
import { createClickHouseDeadLetters } from '../adapters/clickhouse/clickhouse-dead-letters.js'
import { createHttpDelivery } from '../adapters/http-delivery/http-delivery.js'
import { createFileRouteOutbox } from '../adapters/journal/file-route-outbox.js'
import { createRedisLocks } from '../adapters/redis/redis-locks.js'
import { createRedisRouteOutbox } from '../adapters/redis/redis-route-outbox.js'
import type { Config } from './config.js'
import { combineTelemetry, type Metrics } from '../telemetry/metrics.js'
import { routerTelemetry } from '../telemetry/router-telemetry.js'
import type { EventTransform } from '../streams/operators/transform.js'
import type { Route } from '../streams/routing/route.js'
import { createRouter, type Router } from '../streams/routing/router.js'
import type { DeadLetterStore, Delivery, Lock, RouteOutbox } from '../streams/routing/ports.js'
import type { RouterTelemetry } from '../streams/routing/telemetry.js'

export interface Routing {
  /** the routing stage: the pipeline hands it each committed batch before the ack (undefined without routes) */
  readonly router: Router | undefined
  readonly deadLetters: DeadLetterStore
  start(): Promise<void>
  /** Delivers what routes hold for up to `flushMs`, keeps the rest (outbox or dead letters), closes what it opened. */
  stop(flushMs: number): Promise<void>
}

/** How long a consumer name's lease outlives its holder: a restart after a kill -9 waits up to this long for it. */
export const CONSUMER_LEASE_MS = 5000

/** Another live instance holds this instance's ROUTE_CONSUMER: a configuration error (main.ts exits 2). */
export class ConsumerNameInUseError extends Error {
  override readonly name = 'ConsumerNameInUseError'
  constructor(
    readonly consumer: string,
    holder: string | undefined,
  ) {
    super(
      `${JSON.stringify(consumer)} is in use by another live instance${holder ? ` (${holder})` : ''}: ` +
        'two instances with one consumer name would share each other’s pending route deliveries; give each its own ROUTE_CONSUMER',
    )
  }
}

/**
 * The routing part of the composition root: HTTP delivery, dead letters in ClickHouse,
 * and an outbox so that no matched event is lost across a crash: Redis Streams with Redis, else a
 * journal in DATA_DIR.
 * Without routes nothing is started, but the dead-letters table can still be listed.
 */
export function createRouting(
  config: Config,
  deps: {
    routes: readonly Route[]
    transforms?: Readonly<Record<string, readonly EventTransform[]>>
    client: ClickHouseClient | undefined
    redis: Redis | Cluster | undefined
    metrics: Metrics
    logger: Logger
    /** told the router's telemetry too, beside the metrics and the log */
    telemetry?: RouterTelemetry | undefined
    /** given ports are used as they are, and left open on stop */
    delivery?: Delivery | undefined
    outbox?: RouteOutbox | undefined
    deadLetters?: DeadLetterStore | undefined
  },
): Routing {
  const { routes, client, redis, metrics, logger } = deps
  const deadLetters =
    deps.deadLetters ??
    createClickHouseDeadLetters({
      client: client!,
      database: config.CLICKHOUSE_DATABASE,
      cluster: config.CLICKHOUSE_CLUSTER,
    })
  if (routes.length === 0) {
    return { router: undefined, deadLetters, start: async () => {}, stop: async () => {} }
  }
  const ownDelivery = deps.delivery ? undefined : createHttpDelivery()
  const delivery = deps.delivery ?? ownDelivery!
  const consumer = config.ROUTE_CONSUMER ?? hostname()
  // A connection of its own: large XADD pipelines must not queue behind (or ahead of) dedupe claims.
  const outboxRedis = deps.outbox || !redis ? undefined : duplicate(redis)
  // Without Redis, a journal in DATA_DIR (which exists in server mode too): a kill -9 still loses no delivery.
  const ownOutbox: (RouteOutbox & { close(): void }) | undefined = deps.outbox
    ? undefined
    : outboxRedis
      ? createRedisRouteOutbox({
          redis: outboxRedis,
          consumer,
          claimIdleMs: config.ROUTE_CLAIM_IDLE_MS,
        })
      : createFileRouteOutbox({
          dir: join(resolve(config.DATA_DIR), 'route-outbox'),
          releaseDelayMs: config.ROUTE_CLAIM_IDLE_MS,
          onUnreadable: (route, receipt, error) =>
            logger.warn(
              { route, receipt, err: error },
              'route outbox: skipped a journal line that is not an event',
            ),
        })
  const outbox = deps.outbox ?? ownOutbox
  // Shared with the other instances: one replay of a route at a time, one live holder of a consumer name.
  const locks = outboxRedis ? createRedisLocks({ redis: outboxRedis }) : undefined
  const consumerLocks = outboxRedis
    ? createRedisLocks({
        redis: outboxRedis,
        ttlMs: CONSUMER_LEASE_MS,
        onLost: () =>
          logger.error(
            { consumer },
            'route outbox: another instance took this ROUTE_CONSUMER while this one stalled; both now share its pending deliveries',
          ),
      })
    : undefined
  let lease: Lock | undefined
  const router = createRouter(
    {
      routes,
      queueMaxEvents: config.ROUTE_QUEUE_MAX_EVENTS,
      breaker: {
        failureThreshold: config.ROUTE_BREAKER_FAILURES,
        coolDownMs: config.ROUTE_BREAKER_COOLDOWN_MS,
      },
      pollMs: config.ROUTE_POLL_MS,
      transformConcurrency: config.ROUTE_TRANSFORM_CONCURRENCY,
      ...(deps.transforms && { transforms: deps.transforms }),
    },
    {
      delivery,
      deadLetters,
      ...(outbox && { outbox }),
      ...(locks && { locks }),
      telemetry: combineTelemetry<RouterTelemetry>(
        routerTelemetry(metrics, logger.child({ component: 'routing' })),
        ...(deps.telemetry ? [deps.telemetry] : []),
      ),
    },
  )
  metrics.watchRoutes(() => router.status())
  return {
    router,
    deadLetters,
    async start() {
      if (consumerLocks) {
        // The lease of a process killed with this name lapses within CONSUMER_LEASE_MS; a live one's never does.
        const name = `consumer:${consumer}`
        lease = await consumerLocks.wait(name, CONSUMER_LEASE_MS + 500)
        if (!lease) throw new ConsumerNameInUseError(consumer, await consumerLocks.holder(name))
      }
      await router.start()
    },
    async stop(flushMs) {
      await router.drain({ flushMs })
      await lease?.release().catch(() => {})
      ownOutbox?.close()
      ownDelivery?.close()
      await outboxRedis?.quit().catch(() => {})
    },
  }
}

/** A second connection (or set of connections, on a Cluster) to the same Redis. */
function duplicate(redis: Redis | Cluster): Redis | Cluster {
  return redis.isCluster ? (redis as Cluster).duplicate() : (redis as Redis).duplicate()
}
