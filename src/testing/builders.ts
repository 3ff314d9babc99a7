import type { Envelope } from '../streams/envelope.js'
import type { AcceptedEvent, Transport } from '../streams/event.js'
import type { EventResult, Outcome } from '../streams/outcome.js'
import { Submission } from '../streams/submission.js'

/** An accepted event with fixed times, so that marble tests can compare whole values. */
export function acceptedEvent(id: string, overrides: Partial<AcceptedEvent> = {}): AcceptedEvent {
  return {
    id,
    type: 'page_view',
    timestamp: 1_764_151_200_123,
    receivedAt: 1_764_151_200_200,
    transport: 'ws',
    ...overrides,
  }
}

export interface SettledEnvelope {
  readonly id: string
  readonly status: Outcome['status']
  readonly conflict?: true
  /** the clock's time when it settled */
  readonly at: number
}

/** Envelopes (valid events on their way to storage) that record how and when they settle. */
export function envelopes(now: () => number = Date.now) {
  const settled: SettledEnvelope[] = []
  const make = (
    id: string,
    options: { fingerprint?: string; event?: Partial<AcceptedEvent> } = {},
  ): Envelope => ({
    event: acceptedEvent(id, options.event),
    fingerprint: options.fingerprint ?? `fp-${id}`,
    settle(outcome: Outcome) {
      settled.push({
        id,
        status: outcome.status,
        ...(outcome.status === 'duplicate' && outcome.conflict && { conflict: true as const }),
        at: now(),
      })
    },
  })
  return { make, settled }
}

export interface Answered {
  readonly results: EventResult[]
  /** the clock's time when the last of its events settled */
  readonly at: number
}

/** Submissions (one request or frame each) that record their results once all their events settle. */
export function submissions(now: () => number = Date.now) {
  const answered: Answered[] = []
  const make = (events: readonly unknown[], transport: Transport = 'ws') =>
    new Submission(events, transport, now(), (results) =>
      answered.push({ results: [...results], at: now() }),
    )
  return { make, answered }
}
