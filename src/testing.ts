/**
 * In-memory fakes of the ports, for marble tests under TestScheduler: `import { … } from 'sluice/testing'`.
 * The in-process dedupe store is the real adapter; give it `now: () => scheduler.now()`.
 */
export { createFakeSink, type FakeSink, type FakeSinkOptions } from './testing/fake-sink.js'
export { createMemoryDedupeStore, type MemoryDedupeStoreOptions } from './adapters/memory/memory-dedupe-store.js'
export { createFakeDelivery, type Call as DeliveryCall } from './testing/fake-delivery.js'
export { createMemoryDeadLetters } from './testing/memory-dead-letters.js'
