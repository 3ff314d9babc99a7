import type { ObservableInput } from 'rxjs'
import type { AcceptedEvent } from './event.js'

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
  /**
   * The store's own note on this claim, from its claim to its confirm or release. The pipeline hands
   * the same Claim objects to all three calls, so a store can keep what it holds here rather than in
   * a map of every id in flight. Confirm takes equal claims that are other objects too; release may
   * then leave the reservation to expire, since it cannot tell it from another process's.
   */
  held?: unknown
}

export interface DedupeStore {
  /** Claims every id of a batch in one round trip; answers in the order asked. */
  claim(claims: readonly Claim[]): ObservableInput<readonly ClaimStatus[]>
  /** After the commit: turns the reservations into marks for the whole dedupe window, in one round trip. */
  confirm(claims: readonly Claim[]): ObservableInput<void>
  /** After a final failure: gives the reservations back so a re-send is accepted. */
  release(claims: readonly Claim[]): ObservableInput<void>
}

export interface EventSink {
  /**
   * Commits a batch of events in one insert; completes once the rows are durable.
   * `propertiesTexts[i]`, when given, is event i's properties already serialized as JSON (the same
   * value, keys sorted): a sink may store it rather than serialize the properties again.
   */
  write(events: readonly AcceptedEvent[], propertiesTexts?: ReadonlyArray<string | undefined>): ObservableInput<void>
  /** The sink's own retry policy: may this error go away if the same batch is written again? */
  isRetriable(error: unknown): boolean
}
