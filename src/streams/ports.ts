import type { ObservableInput } from 'rxjs'
import type { AcceptedEvent, EventFields } from './event.js'

/**
 * The ports the pipeline depends on. Adapters implement them; the pipeline never sees a client
 * library. Each call returns an ObservableInput so production code can hand back a promise
 * (wrapped in `defer`) and marble tests a cold observable on virtual time.
 */

/** What a claim found for one id. */
export type ClaimStatus =
  /** nobody had it: it is now reserved for us until we confirm or release it */
  | 'new'
  /** committed earlier with the same content */
  | 'duplicate'
  /** committed earlier with other content: an id collision, not a retry */
  | 'conflict'
  /** reserved by a commit still in progress elsewhere (another instance, or one that crashed) */
  | 'pending'

export interface Claim {
  readonly id: string
  readonly fingerprint: string
}

/**
 * The store's answer to one claim batch: a status per id, in the order asked. It is also the only
 * handle on the reservations the claim took (its `new` ids): the pipeline hands it back, unread
 * beyond `statuses`, to confirm or release them. What else it holds is the store's own business;
 * a store ignores receipts it did not issue, and a receipt already confirmed or released.
 */
export interface ClaimReceipt {
  readonly statuses: readonly ClaimStatus[]
}

export interface DedupeStore {
  /** Claims every id of a batch in one round trip; the receipt answers in the order asked. */
  claim(claims: readonly Claim[]): ObservableInput<ClaimReceipt>
  /** After the commit: turns the receipts' reservations into marks for the whole dedupe window, in one round trip. */
  confirm(receipts: readonly ClaimReceipt[]): ObservableInput<void>
  /** After a final failure: gives the receipts' reservations back so a re-send is accepted. */
  release(receipts: readonly ClaimReceipt[]): ObservableInput<void>
}

/** One row of an insert: the event, and its properties already serialized as canonical JSON when known. */
export interface EventRow {
  readonly event: AcceptedEvent
  /** the properties as validated, keys sorted: a sink may store it rather than serialize them again */
  readonly propertiesText?: string
  /**
   * The event's other fields, when the row has them apart from its properties. The pipeline's rows
   * keep their properties as `propertiesText` only, and build `event` (parsing the text) when it is
   * read: a sink that stores `propertiesText` reads these fields instead, and builds nothing.
   */
  readonly fields?: EventFields
}

export interface EventSink {
  /** Commits a batch of rows in one insert; completes once they are durable. */
  write(rows: readonly EventRow[]): ObservableInput<void>
  /** The sink's own retry policy: may this error go away if the same batch is written again? */
  isRetriable(error: unknown): boolean
}
