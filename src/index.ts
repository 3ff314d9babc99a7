/**
 * Sluice as a library: the pipeline, its operators with typed options, the ports and the event
 * schema — for embedding Sluice, and for marble-testing its chains (fakes in `sluice/testing`).
 */
export { createAdmission, type Admission, type AdmissionOptions } from './streams/admission.js'
export type { Envelope } from './streams/envelope.js'
export { EventSchema, toWire, type AcceptedEvent, type EventInput, type Transport } from './streams/event.js'
export { canonicalJson, fingerprint, normalize, type Normalized, type NormalizeContext } from './streams/normalize.js'
export { batch, type BatchOptions } from './streams/operators/batch.js'
export { commit, type CommitOptions } from './streams/operators/commit.js'
export { dedupe, type DedupeOptions } from './streams/operators/dedupe.js'
export { explode } from './streams/operators/explode.js'
export { backoffDelay, retryWithBackoff, type BackoffOptions } from './streams/operators/retry-with-backoff.js'
export { validate, type ValidateOptions } from './streams/operators/validate.js'
export * from './streams/outcome.js'
export { createPipeline, type Pipeline, type PipelineConfig, type PipelineDeps } from './streams/pipeline.js'
export type { Claim, ClaimStatus, DedupeStore, EventSink } from './streams/ports.js'
export { RawEnvelope, Submission } from './streams/submission.js'
export type { PipelineTelemetry } from './streams/telemetry.js'
export { createMemoryDedupeStore, type MemoryDedupeStoreOptions } from './adapters/memory-dedupe-store.js'
export { createRedisDedupeStore } from './adapters/redis-dedupe-store.js'
export { createClickHouseClient, createClickHouseSink, type ClickHouseSink, type ClickHouseTarget } from './adapters/clickhouse-sink.js'
export { loadConfig, ConfigError, type Config } from './config.js'
export { createSluice, type Sluice, type SluiceDeps } from './sluice.js'
