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
  dedupeStoreFailed?(
    operation: 'claim' | 'confirm' | 'release',
    error: unknown,
    action: 'open' | 'reject' | 'ignored',
  ): void
  /** handing committed events to their routes failed (the router's enqueue never should): they are acked all the same */
  handOffFailed?(events: number, error: unknown): void
  /** an adapter threw while answering a submission whose events had all settled; the others are unaffected */
  answerFailed?(transport: Transport, error: unknown): void
  /** a stage threw in a way the chain does not expect; the supervisor settled the `stranded` events in flight `failed` and resubscribes */
  pipelineRestarted?(error: unknown, stranded?: number): void
}

export const silentTelemetry: PipelineTelemetry = {}
