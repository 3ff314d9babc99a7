/**
 * Sluice as a server: the composition root, the loaders of its configuration, and the adapters to
 * the outside systems (`import { createSluice, loadConfig } from 'sluice/server'`). Unlike `sluice`,
 * this entry loads Hono, ws, ioredis, pino, prom-client and the ClickHouse clients.
 */
export { createSluice, type Backends, type Sluice, type SluiceDeps } from './app/create-sluice.js'
export type { CountQuery, EventStorage } from './app/event-storage.js'
export { loadConfig, ConfigError, type Config } from './app/config.js'
export { loadRoutesFile, parseRoutes, RoutesFileError } from './app/routes-file.js'
export { loadTransforms, type LoadedTransforms } from './app/transforms-module.js'
export {
  createMemoryDedupeStore,
  type MemoryDedupeStore,
  type MemoryDedupeStoreOptions,
} from './adapters/memory/memory-dedupe-store.js'
export {
  createRedisDedupeStore,
  type RedisDedupeStoreOptions,
} from './adapters/redis/redis-dedupe-store.js'
export {
  createInstanceLease,
  type InstanceLease,
  type InstanceLeaseOptions,
} from './adapters/redis/instance-lease.js'
export {
  createRedisRouteOutbox,
  type RedisRouteOutbox,
  type RedisRouteOutboxOptions,
} from './adapters/redis/redis-route-outbox.js'
export {
  createClickHouseClient,
  createClickHouseSink,
  type ClickHouseSink,
  type ClickHouseTarget,
} from './adapters/clickhouse/clickhouse-sink.js'
export {
  createClickHouseDeadLetters,
  type ClickHouseDeadLetters,
} from './adapters/clickhouse/clickhouse-dead-letters.js'
export {
  createHttpDelivery,
  type HttpDelivery,
  type HttpDeliveryOptions,
} from './adapters/http-delivery/http-delivery.js'
export {
  createWsGateway,
  type WsGateway,
  type WsGatewayOptions,
  type WsTelemetry,
} from './adapters/ws/index.js'
export { createHttpApp, type HttpAppDeps, type HttpAppOptions } from './http/app.js'
