/**
 * Sluice as a library: the pipeline, its operators with typed options, the ports and the event
 * schema — for embedding Sluice, and for marble-testing its chains (fakes in `sluice/testing`).
 * It loads no client library and no server framework (test/entries.test.ts checks the import
 * graph): the composition root and the adapters are in `sluice/server`.
 */
export { createAdmission, type Admission, type AdmissionOptions } from './streams/admission.js'
export type { Envelope } from './streams/envelope.js'
export {
  EventSchema,
  toWire,
  type AcceptedEvent,
  type EventInput,
  type Transport,
} from './streams/event.js'
export {
  fingerprint,
  normalize,
  type Normalized,
  type NormalizeContext,
} from './streams/normalize.js'
export { canonicalJson } from './streams/properties.js'
export { batch, type BatchOptions } from './streams/operators/batch.js'
export { commit, type CommitOptions } from './streams/operators/commit.js'
export { dedupe, type DedupeOptions } from './streams/operators/dedupe.js'
export { explode } from './streams/operators/explode.js'
export {
  backoffDelay,
  retryWithBackoff,
  type BackoffOptions,
} from './streams/operators/retry-with-backoff.js'
export {
  transform,
  type EventTransform,
  type TransformOptions,
} from './streams/operators/transform.js'
export { validate, type ValidateOptions } from './streams/operators/validate.js'
export * from './streams/outcome.js'
export {
  createPipeline,
  type Pipeline,
  type PipelineConfig,
  type PipelineDeps,
} from './streams/pipeline.js'
export type {
  Claim,
  ClaimReceipt,
  ClaimStatus,
  DedupeStore,
  EventRow,
  EventSink,
} from './streams/ports.js'
export { RawEnvelope, Submission } from './streams/submission.js'
export type { PipelineTelemetry } from './streams/telemetry.js'
export {
  createCircuitBreaker,
  type CircuitBreaker,
  type CircuitBreakerOptions,
} from './streams/routing/circuit-breaker.js'
export {
  deadLetterWriter,
  type RouteItem,
  type SettledBatch,
} from './streams/routing/dead-letter-writer.js'
export { deliverRoute, type DeliverRouteDeps } from './streams/routing/deliver-route.js'
export { DeliveryError, finalError, retriableError } from './streams/routing/delivery-error.js'
export type {
  DeadLetter,
  DeadLetterQuery,
  DeadLetterRange,
  DeadLetterStore,
  Delivery,
  DeliveryBatch,
  OutboxEntry,
  RouteOutbox,
  StoredDeadLetter,
} from './streams/routing/ports.js'
export { route, type Route } from './streams/routing/route.js'
export {
  createRouter,
  type Router,
  type RouterConfig,
  type RouterDeps,
} from './streams/routing/router.js'
export type { RouterTelemetry } from './streams/routing/telemetry.js'
