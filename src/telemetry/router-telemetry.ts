import type { Logger } from 'pino'
import type { RouterTelemetry } from '../streams/routing/telemetry.js'
import type { Metrics } from './metrics.js'

/** The router's telemetry catalogue as metrics, and as log lines where an operator must act. */
export function routerTelemetry(metrics: Metrics, log: Logger): RouterTelemetry {
  const { routes } = metrics
  return {
    batchDelivered(route, events, _attempts, durationMs) {
      routes.deliveries.inc({ route, outcome: 'delivered' })
      routes.events.inc({ route, outcome: 'delivered' }, events)
      routes.duration.observe({ route }, durationMs / 1000)
    },
    deliveryRetried: (route) => routes.deliveries.inc({ route, outcome: 'retried' }),
    batchDeadLettered(route, events, reason, error) {
      routes.deliveries.inc({ route, outcome: 'dead_lettered' })
      routes.deadLetters.inc({ route, reason }, events)
      log.warn({ route, events, reason, error }, 'events written to dead letters')
    },
    deadLetterWriteFailed(route, events, error, kept) {
      routes.deadLetterWriteFailures.inc({ route, kept: String(kept) }, events)
      log.error(
        { route, events, err: error, kept },
        kept
          ? 'dead letters could not be written; the events stay in the outbox'
          : 'dead letters could not be written; events lost',
      )
    },
    breakerChanged(route, state) {
      if (state === 'open') log.warn({ route }, 'route circuit breaker opened')
      else log.info({ route, state }, 'route circuit breaker changed')
    },
    outboxFailed(operation, route, error) {
      routes.outboxErrors.inc({ operation })
      log.warn({ operation, route, err: error }, 'route outbox failed')
    },
    routeRestarted: (route, error) =>
      log.error({ route, err: error }, 'route chain threw; restarted'),
    resumeFailed: (route, error) =>
      log.warn(
        { route, err: error },
        'could not resend what the last shutdown left; POST /v1/dead-letters/replay sends it',
      ),
  }
}
