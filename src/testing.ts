/**
 * Fakes of every port, and builders, for tests: `import { … } from 'sluice/testing'`.
 * Each fake keeps time on the scheduler it is given (TestScheduler in marble tests) or on the real
 * clock. The in-process dedupe store is the real adapter; give it `now: () => scheduler.now()`.
 */
export { createFakeSink, type FakeSink, type FakeSinkOptions } from './testing/fake-sink.js'
export {
  createMemoryStorage,
  type MemoryStorage,
  type MemoryStorageOptions,
} from './testing/memory-storage.js'
export {
  createMemoryDedupeStore,
  type MemoryDedupeStoreOptions,
} from './adapters/memory/memory-dedupe-store.js'
export {
  withLatency,
  type DedupeOperation,
  type LatencyOptions,
} from './testing/latency-dedupe-store.js'
export { createFakeDelivery, type Call as DeliveryCall } from './testing/fake-delivery.js'
export { createFakeRouteOutbox, type FakeRouteOutbox } from './testing/fake-route-outbox.js'
export { createMemoryDeadLetters } from './testing/memory-dead-letters.js'
export {
  acceptedEvent,
  envelopes,
  submissions,
  type Answered,
  type SettledEnvelope,
} from './testing/builders.js'
export type { EventStorage } from './app/event-storage.js'
