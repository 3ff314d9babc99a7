import type { AcceptedEvent } from './event.js'
import type { Outcome } from './outcome.js'

/** A valid event on its way to storage; it carries its own settle callback to the ack. */
export interface Envelope {
  readonly event: AcceptedEvent
  /** digest of the content the client sent (see normalize.ts) */
  readonly fingerprint: string
  /** the properties as validated, in canonical JSON: what storage writes, so an event is serialized once */
  readonly propertiesText?: string
  settle(outcome: Outcome): void
}
