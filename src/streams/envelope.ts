import type { AcceptedEvent } from './event.js'
import type { Outcome } from './outcome.js'
import type { ClaimReceipt, EventRow } from './ports.js'

/** A valid event on its way to storage (a row as it will be written); it carries its own settle callback to the ack. */
export interface Envelope extends EventRow {
  /** digest of the content the client sent (see normalize.ts) */
  readonly fingerprint: string
  settle(outcome: Outcome): void
  /**
   * Storage has taken the event's row: whatever happens to the chain now, the event was stored, so
   * a supervisor restart answers it `accepted`, never `failed` (which says nothing was stored).
   */
  committed?(): void
}

/** A batch dedupe let through, with the receipts of the claims that reserved its ids (none when the store was unreachable and dedupe failed open). */
export interface ClaimedBatch {
  readonly envelopes: readonly Envelope[]
  readonly receipts: readonly ClaimReceipt[]
}

/** A batch storage has taken, its claims confirmed: on its way to the routes and then to the ack. */
export interface CommittedBatch {
  readonly envelopes: readonly Envelope[]
  readonly events: readonly AcceptedEvent[]
}
