import { resolve } from 'node:path'
import type { Server } from 'node:http'
import { serve, type ServerType } from '@hono/node-server'
import type { ClickHouseClient } from '@clickhouse/client'
import { Cluster, Redis } from 'ioredis'
import type { Logger } from 'pino'
import { createLogger } from '../telemetry/logger.js'
import {
  createClickHouseClient,
  createClickHouseSink,
} from '../adapters/clickhouse/clickhouse-sink.js'
import { createMemoryDedupeStore } from '../adapters/memory/memory-dedupe-store.js'
import { createWsGateway, type WsGateway } from '../adapters/ws/index.js'
import { createInstanceLease } from '../adapters/redis/instance-lease.js'
import { createRedisDedupeStore } from '../adapters/redis/redis-dedupe-store.js'
import { createRedisClusterDedupeStore } from '../adapters/redis/redis-cluster-dedupe-store.js'
import type { Config } from './config.js'
import { createHttpApp } from '../http/app.js'
import { answerClientErrors, slowClientServerOptions } from '../wire/slow-client-timeouts.js'
import { createPipeline, type Pipeline } from '../streams/pipeline.js'
import type { DedupeStore } from '../streams/ports.js'
import type { DeadLetterStore, Delivery, RouteOutbox } from '../streams/routing/ports.js'
import type { EventStorage } from './event-storage.js'
import type { EventTransform } from '../streams/operators/transform.js'
import type { PipelineTelemetry } from '../streams/telemetry.js'
import { from, lastValueFrom } from 'rxjs'
import type { DeadLetterAdmin } from '../http/ports.js'
import { createRouting, type Routing } from './create-routing.js'
import { toIso, toWire } from '../streams/event.js'
import { storedFingerprint } from '../streams/normalize.js'
import { UnknownRouteError } from '../streams/routing/router.js'
import type { Route } from '../streams/routing/route.js'
import { loggingTelemetry } from '../telemetry/pipeline-log.js'
import { combineTelemetry, createMetrics, type Metrics } from '../telemetry/metrics.js'
import { createStatusTracker } from '../telemetry/status.js'
import { clickHouseCheck, dedupeCheck } from './readiness.js'
import { createStatusSource } from './status-source.js'

export interface SluiceDeps {
  readonly logger?: Logger
  /** one registry per process: prom-client's default metrics cannot be registered twice on one registry */
  readonly metrics?: Metrics
  readonly telemetry?: PipelineTelemetry
  /** the user's own RxJS operators, run on every valid event before storage */
  readonly transforms?: readonly EventTransform[]
  /** downstream routes (ROUTES_FILE, already validated): accepted events are delivered to those that match */
  readonly routes?: readonly Route[]
  /** the user's own RxJS operators per route name, run on the events a route matched before they are queued for it */
  readonly routeTransforms?: Readonly<Record<string, readonly EventTransform[]>>

  // Prebuilt clients and ports (tests pass fakes; an embedder its own clients). Each one given is
  // used as it is, and stays the caller's to close; each one missing is built from config here.
  /** instead of one built from REDIS_URL or REDIS_CLUSTER_NODES: the Redis dedupe store and the route outbox use it */
  readonly redis?: Redis | Cluster
  /** instead of one built from CLICKHOUSE_URL or DATA_DIR: the ClickHouse sink and dead letters use it */
  readonly clickhouse?: ClickHouseClient
  /** instead of a ClickHouse sink: where events are committed and read back from */
  readonly sink?: EventStorage
  /** instead of the Redis store (with a Redis client) or the in-process one */
  readonly store?: DedupeStore
  /** instead of the Redis Streams outbox (which needs Redis) */
  readonly outbox?: RouteOutbox
  /** instead of HTTP POSTs to the routes' urls */
  readonly delivery?: Delivery
  /** instead of the ClickHouse dead-letters table (needed when `sink` is given without `clickhouse`) */
  readonly deadLetters?: DeadLetterStore
}

export interface Backends {
  readonly dedupe: string
  readonly storage: string
}

export interface Sluice {
  readonly pipeline: Pipeline
  readonly sink: EventStorage
  readonly store: DedupeStore
  readonly app: ReturnType<typeof createHttpApp>
  readonly metrics: Metrics
  readonly ws: WsGateway
  readonly backends: Backends
  /** Starts the HTTP and WebSocket servers; resolves with their ports once both listen. */
  listen(): Promise<{ port: number; wsPort: number }>
  /** Stops taking work, settles everything in flight, closes the servers and clients. */
  stop(): Promise<void>
}

/** The composition root: every client and adapter is built here, once, and passed in. */
export async function createSluice(config: Config, deps: SluiceDeps = {}): Promise<Sluice> {
  const logger = deps.logger ?? createLogger(config.LOG_LEVEL)
  const metrics = deps.metrics ?? createMetrics()
  const startedAt = Date.now()
  // GET /v1/status and the console: fed by the same hooks as the metrics
  const status = createStatusTracker()

  if (deps.sink && !deps.clickhouse && !deps.deadLetters)
    throw new TypeError(
      'createSluice: a sink without a ClickHouse client needs deps.deadLetters too',
    )

  const ownRedis: Redis | Cluster | undefined = deps.redis
    ? undefined
    : config.REDIS_URL
      ? new Redis(config.REDIS_URL, { maxRetriesPerRequest: 1, commandTimeout: 2000 })
      : config.REDIS_CLUSTER_NODES
        ? redisCluster(config.REDIS_CLUSTER_NODES)
        : undefined
  ownRedis?.on('error', (error) =>
    logger.warn({ err: error, component: 'redis' }, 'redis connection error'),
  )
  const redis = deps.redis ?? ownRedis
  // This process's lease, named by its claim batches: once it lapses (kill -9), the next claim of
  // an id the process had reserved takes it over, instead of waiting out DEDUPE_RESERVATION_SECONDS.
  const lease =
    redis && !deps.store
      ? createInstanceLease({
          redis,
          onRefreshFailed: (error) =>
            logger.warn(
              { err: error, component: 'redis' },
              'dedupe lease not refreshed: if this lasts, other instances take over its reservations',
            ),
        })
      : undefined
  const dataDir = resolve(config.DATA_DIR)
  // A given sink needs no client of ours: an embedded chDB would otherwise claim DATA_DIR for nothing.
  const client =
    deps.clickhouse ??
    (deps.sink
      ? undefined
      : await createClickHouseClient(
          config.CLICKHOUSE_URL ? { url: config.CLICKHOUSE_URL } : { dataDir },
        ))
  const sink: EventStorage =
    deps.sink ??
    createClickHouseSink({
      client: client!,
      database: config.CLICKHOUSE_DATABASE,
      cluster: config.CLICKHOUSE_CLUSTER,
    })
  // The ClickHouse sink closes its client: only when both are ours.
  const ownSink = !deps.sink && !deps.clickhouse
  // The lease goes first, over the connection it is deleted with.
  const closeOwn = () =>
    Promise.allSettled([
      ownSink ? sink.close() : undefined,
      (lease?.stop() ?? Promise.resolve()).then(() => ownRedis?.quit()),
    ])

  // What storage holds is what the client sent unless user transforms changed it: then a re-sent id
  // from before a restart cannot be compared, and is a plain duplicate.
  const storedFingerprints = deps.transforms?.length
    ? undefined
    : async (ids: readonly string[]) =>
        new Map((await sink.byIds(ids)).map((event) => [event.id, storedFingerprint(event)]))
  const memory =
    deps.store || redis
      ? undefined
      : createMemoryDedupeStore({
          ttlSeconds: config.DEDUPE_TTL_SECONDS,
          reservationSeconds: config.dedupeReservationSeconds,
          maxEntries: config.DEDUPE_MAX_ENTRIES,
          storedFingerprints,
        })
  const store: DedupeStore =
    deps.store ??
    memory ??
    (redis!.isCluster
      ? createRedisClusterDedupeStore({
          cluster: redis as Cluster,
          ttlSeconds: config.DEDUPE_TTL_SECONDS,
          reservationSeconds: config.dedupeReservationSeconds,
          lease,
        })
      : createRedisDedupeStore({
          redis: redis as Redis,
          ttlSeconds: config.DEDUPE_TTL_SECONDS,
          reservationSeconds: config.dedupeReservationSeconds,
          lease,
        }))
  // Started with the store it serves: closeOwn stops it, on a failed start below and in stop().
  lease?.start()

  // The in-process store starts empty; without this a restart would forget the dedupe window and
  // accept re-sent ids again (the table engine would collapse them, but the answer would be wrong).
  let started: Awaited<ReturnType<EventStorage['start']>>
  let remembered = 0
  try {
    started = await sink.start()
    if (memory) {
      const ids = await sink.recentIds({
        sinceMs: Date.now() - config.DEDUPE_TTL_SECONDS * 1000,
        limit: config.DEDUPE_MAX_ENTRIES,
      })
      memory.remember(ids.reverse())
      remembered = ids.length
    }
  } catch (error) {
    await closeOwn()
    throw error
  }

  const backends: Backends = {
    dedupe: deps.store
      ? 'given store'
      : deps.redis
        ? 'redis (given client)'
        : config.REDIS_CLUSTER_NODES
          ? `redis cluster ${config.REDIS_CLUSTER_NODES.join(',')}`
          : redis
            ? `redis ${redacted(config.REDIS_URL!)}`
            : `in-process (max ${config.DEDUPE_MAX_ENTRIES} ids, ${remembered} re-learned from storage)`,
    storage: deps.sink
      ? `given sink (version ${started.version})`
      : deps.clickhouse
        ? `clickhouse (given client, version ${started.version}, ${started.dialect} timestamps)`
        : config.CLICKHOUSE_URL
          ? `clickhouse server ${redacted(config.CLICKHOUSE_URL)}${config.CLICKHOUSE_CLUSTER ? ` cluster ${config.CLICKHOUSE_CLUSTER}` : ''} (version ${started.version}, ${started.dialect} timestamps)`
          : `embedded chDB in ${dataDir} (version ${started.version})`,
  }

  const routing = createRouting(config, {
    routes: deps.routes ?? [],
    transforms: deps.routeTransforms,
    client,
    redis,
    metrics,
    logger,
    telemetry: status.router,
    delivery: deps.delivery,
    outbox: deps.outbox,
    deadLetters: deps.deadLetters,
  })
  try {
    await routing.start()
  } catch (error) {
    await Promise.allSettled([routing.stop(0), closeOwn()])
    throw error
  }

  const pipeline = createPipeline(
    {
      insertBatchMaxRows: config.INSERT_BATCH_MAX_ROWS,
      insertBatchMaxWaitMs: config.INSERT_BATCH_MAX_WAIT_MS,
      insertConcurrency: config.INSERT_CONCURRENCY,
      maxInflightEvents: config.MAX_INFLIGHT_EVENTS,
      maxInflightBytes: config.MAX_INFLIGHT_BYTES,
      retry: {
        initialMs: config.INSERT_RETRY_INITIAL_MS,
        maxMs: config.INSERT_RETRY_MAX_MS,
        budgetMs: config.INSERT_RETRY_BUDGET_MS,
      },
      dedupeOnError: config.DEDUPE_ON_ERROR,
    },
    {
      sink,
      store,
      routes: routing.router,
      transforms: deps.transforms,
      telemetry: combineTelemetry(
        loggingTelemetry(logger),
        metrics.pipeline,
        status.pipeline,
        ...(deps.telemetry ? [deps.telemetry] : []),
      ),
    },
  )
  metrics.watchAdmission(pipeline.admission)

  let stopping = false
  const checks = [
    dedupeCheck(redis),
    clickHouseCheck(
      sink,
      deps.sink
        ? 'given sink'
        : deps.clickhouse
          ? 'clickhouse (given client)'
          : config.CLICKHOUSE_URL
            ? 'clickhouse server'
            : 'embedded chDB',
    ),
  ]
  const app = createHttpApp(
    {
      batchMaxEvents: config.BATCH_MAX_EVENTS,
      maxBodyBytes: config.MAX_BODY_BYTES,
      maxBodyBytesInFlight: config.MAX_INFLIGHT_BYTES,
      apiKeys: config.API_KEYS,
      corsOrigins: config.CORS_ORIGINS,
      metricsRequireKey: config.METRICS_REQUIRE_KEY,
      docsPersistAuthorization: config.DOCS_PERSIST_AUTHORIZATION,
      publicUrl: config.PUBLIC_URL,
    },
    {
      pipeline,
      logger: logger.child({ component: 'http' }),
      reader: sink,
      deadLetters: deadLetterAdmin(routing),
      checks,
      metrics: metrics.registry,
      telemetry: metrics.http,
      stopping: () => stopping,
      status: createStatusSource({
        tracker: status,
        admission: pipeline.admission,
        routes: () => routing.router?.status() ?? [],
        ws: () => ws.stats(),
        wsPort: () => wsPort,
        deadLetters: routing.deadLetters,
        startedAt,
      }),
    },
  )

  const ws = createWsGateway(
    {
      port: config.WS_PORT,
      host: config.HOST,
      maxConnections: config.MAX_WS_CONNECTIONS,
      maxFrameBytes: config.WS_MAX_FRAME_BYTES,
      maxEventsPerFrame: config.WS_MAX_EVENTS_PER_FRAME,
      maxInflightPerConnection: config.WS_MAX_INFLIGHT_PER_CONNECTION,
      pingIntervalMs: config.WS_PING_INTERVAL_MS,
      perMessageDeflate: config.WS_PER_MESSAGE_DEFLATE,
      subscriberMaxBufferedBytes: config.WS_SUBSCRIBER_MAX_BUFFERED_BYTES,
      subscribersMaxBufferedBytes: config.WS_SUBSCRIBERS_MAX_BUFFERED_BYTES,
      maxSubscriptionTypes: config.WS_MAX_SUBSCRIPTION_PATTERNS,
      apiKeys: config.API_KEYS,
      allowedOrigins: config.CORS_ORIGINS,
      // Shutdown must fit in SHUTDOWN_TIMEOUT_MS, with time left to drain the pipeline and close clients.
      closeTimeoutMs: Math.max(1000, Math.floor(config.SHUTDOWN_TIMEOUT_MS * 0.8)),
      headersTimeoutMs: config.HTTP_HEADERS_TIMEOUT_MS,
      requestTimeoutMs: config.HTTP_REQUEST_TIMEOUT_MS,
    },
    {
      pipeline,
      logger: logger.child({ component: 'ws' }),
      telemetry: metrics.ws,
      ownHttpPort: () => httpPort,
    },
  )

  let server: ServerType | undefined
  let httpPort: number | undefined
  let wsPort: number | undefined
  return {
    pipeline,
    metrics,
    ws,
    sink,
    store,
    app,
    backends,
    async listen() {
      const port = await new Promise<number>((resolveListen, reject) => {
        const serverOptions = slowClientServerOptions({
          headersTimeout: config.HTTP_HEADERS_TIMEOUT_MS,
          requestTimeout: config.HTTP_REQUEST_TIMEOUT_MS,
        })
        server = serve(
          { fetch: app.fetch, port: config.PORT, hostname: config.HOST, serverOptions },
          (info) => resolveListen(info.port),
        )
        answerClientErrors(server as Server)
        server.once('error', reject)
      })
      httpPort = port
      wsPort = (await ws.listen()).port
      return { port, wsPort }
    },
    async stop() {
      const deadline = Date.now() + config.SHUTDOWN_TIMEOUT_MS
      stopping = true
      // Stop accepting first; requests already in flight still get their answers while we drain.
      const closed = server
        ? new Promise<void>((done) => server!.close(() => done()))
        : Promise.resolve()
      // The gateway first: its frames still waiting for admission must be taken before the pipeline
      // stops taking anything; it settles every frame, sends the acks, then closes with 1001.
      await ws.close()
      await pipeline.drain()
      // Route deliveries get what is left of the shutdown budget (less a second to close clients);
      // what they cannot deliver by then stays in the outbox, or goes to dead letters without one.
      await routing.stop(Math.max(0, deadline - Date.now() - 1000))
      // Every answer is now written or being written; keep-alive connections that are idle would
      // hold close() open until their timeout, so end them, and after a grace period end the rest.
      const http = server && 'closeAllConnections' in server ? server : undefined
      http?.closeIdleConnections()
      const grace = setTimeout(() => http?.closeAllConnections(), 1000)
      await closed
      clearTimeout(grace)
      await closeOwn()
    },
  }
}

/**
 * A Redis Cluster client from its seeds (REDIS_CLUSTER_NODES). Commands fail fast, as on one Redis
 * (dedupe fails open, DEDUPE_ON_ERROR); a failover's MOVED and CLUSTERDOWN answers are retried
 * by ioredis for a moment before they fail.
 */
function redisCluster(nodes: readonly string[]): Cluster {
  return new Cluster(
    nodes.map((node) => {
      const at = node.lastIndexOf(':')
      return { host: node.slice(0, at), port: Number(node.slice(at + 1)) }
    }),
    {
      redisOptions: { maxRetriesPerRequest: 1, commandTimeout: 2000 },
      retryDelayOnFailover: 100,
      retryDelayOnClusterDown: 100,
    },
  )
}

/** A URL without its password, for logs. */
function redacted(url: string): string {
  const parsed = new URL(url)
  if (parsed.password) parsed.password = '***'
  return parsed.toString().replace(/\/$/, '')
}

/** The dead-letters endpoints over the routing part: ClickHouse for the list, the router for replays. */
function deadLetterAdmin(routing: Routing): DeadLetterAdmin {
  return {
    async list(query) {
      const letters = await lastValueFrom(from(routing.deadLetters.list(query)))
      return letters.map(({ route, event, error, attempts, time }) => ({
        route,
        event: toWire(event),
        error,
        attempts,
        time: toIso(time),
      }))
    },
    replay(route, sinceMs) {
      if (!routing.router) return Promise.reject(new UnknownRouteError(route))
      return routing.router.replay(route, sinceMs)
    },
  }
}
