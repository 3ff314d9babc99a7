import type { Logger } from 'pino'
import type { PipelineTelemetry } from '../streams/telemetry.js'

/**
 * The pipeline's telemetry catalogue, as log lines. Per batch, never per event; a failure is logged
 * once, where it is decided. Metrics join here when the registry does.
 */
export function loggingTelemetry(logger: Logger): PipelineTelemetry {
  const log = logger.child({ component: 'pipeline' })
  return {
    insertRetried(error, attempt, delayMs) {
      log.warn({ err: error, attempt, delayMs }, 'insert failed; retrying')
    },
    batchFailed(rows, error) {
      log.error({ err: error, rows }, 'insert gave up; events settled failed')
    },
    dedupeStoreFailed(operation, error, action) {
      log.warn({ err: error, operation, action }, 'dedupe store unavailable')
    },
    answerFailed(transport, error) {
      log.error(
        { err: error, transport },
        'answering a submission failed; its client got no answer, the others are unaffected',
      )
    },
    handOffFailed(events, error) {
      log.error(
        { err: error, events },
        'handing committed events to their routes failed; they are acked all the same',
      )
    },
    pipelineRestarted(error, stranded) {
      log.error(
        { err: error, stranded },
        'pipeline stage threw; the events in flight were answered failed, and the chain resubscribed',
      )
    },
  }
}
