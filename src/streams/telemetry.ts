import type { Transport } from './event.js'
import type { ResultCounts } from './outcome.js'

/**
 * What the pipeline reports about itself, as a catalogue of typed events rather than loggers.
 * The composition root turns them into log lines and metrics; tests can record them.
 */
export interface PipelineTelemetry {
  /** a request or frame has every result: counts by status */
  submissionSettled?(transport: Transport, counts: ResultCounts): void
  batchCommitted?(rows: number, durationMs: number, events: readonly { receivedAt: number }[]): void
  insertRetried?(error: unknown, attempt: number, delayMs: number): void
  batchFailed?(rows: number, error: unknown): void
  duplicatesFound?(count: number): void
  /** the dedupe store could not be reached: `action` says whether events went on (open) or failed (reject) */
  dedupeStoreFailed?(operation: 'claim' | 'confirm' | 'release', error: unknown, action: 'open' | 'reject' | 'ignored'): void
  /** an adapter threw while answering a submission whose events had all settled; the others are unaffected */
  answerFailed?(transport: Transport, error: unknown): void
  /** a stage threw in a way the chain does not expect; the supervisor resubscribes */
  pipelineRestarted?(error: unknown): void
}

export const silentTelemetry: PipelineTelemetry = {}
