import type { AcceptedEvent } from './event.js'
import type { Outcome } from './outcome.js'
import type { ClaimReceipt, EventRow } from './ports.js'

/** A valid event on its way to storage (a row as it will be written); it carries its own settle callback to the ack. */
export interface Envelope extends EventRow {
  /** the event's id (its dedupe key), read without building the event; absent: `event.id` */
  readonly id?: string
  /** digest of the content the client sent (see normalize.ts) */
  readonly fingerprint: string
  settle(outcome: Outcome): void
  /**
   * Storage has taken the event's row and its routes have it (commit.ts): whatever happens to the
   * chain now, the event was stored, so a supervisor restart answers it `accepted`, never `failed`
   * (which says nothing was stored).
   */
  committed?(): void
  /**
   * Optional: after this envelope settles, tells `watcher` once, with its outcome. dedupe tracks an
   * envelope that offers this as it is; one that does not, it wraps in an envelope of its own (a
   * second object for every event in flight).
   */
  watch?(watcher: SettleWatcher): void
}

/** Told once that an envelope it watches has settled, and how (see `Envelope.watch`). */
export interface SettleWatcher {
  settled(envelope: Envelope, outcome: Outcome): void
}

/** A batch dedupe let through, with the receipts of the claims that reserved its ids (none when the store was unreachable and dedupe failed open). */
export interface ClaimedBatch {
  readonly envelopes: readonly Envelope[]
  readonly receipts: readonly ClaimReceipt[]
}

/** A batch storage has taken and its routes have, its claims confirmed: on its way to the ack. */
export interface CommittedBatch {
  readonly envelopes: readonly Envelope[]
  /** the envelopes' events: reading them builds them (see validate.ts), so only a reader that needs them does */
  readonly events: readonly AcceptedEvent[]
}
