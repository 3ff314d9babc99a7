import type { AcceptedEvent } from './protocol.js'
import type { ClientEvent, PublishResult } from './publication.js'
import type { Subscription } from './subscriptions.js'

/** What createClient returns (API.md §10). */
export interface SluiceClient {
  /**
   * Sends events and resolves with one final result per event, in order, once every one has its
   * fate (API.md §2, §10). Waits for room in the window first. Never rejects for the server's
   * sake — an event the client could not deliver within `retryBudgetMs` is `failed` with a
   * message — only for the caller's: a TypeError for anything but an array of event objects, an
   * Error after `close()`.
   */
  publish(events: readonly ClientEvent[]): Promise<PublishResult[]>
  /**
   * Calls `onEvent` for every accepted event whose type matches `types` (`page_view`,
   * `checkout.*`, `*`), live, from now on; re-subscribed after every reconnect (events accepted
   * while the client was disconnected are not replayed).
   */
  subscribe(types: readonly string[], onEvent: (event: AcceptedEvent) => void): Subscription
  /** Takes no more publishes, waits for every publish made to settle, then closes the connection. */
  close(): Promise<void>
  stats(): ClientStats
}

export interface ClientStats {
  readonly connected: boolean
  /** events published and not yet settled (never more than maxInflightEvents) */
  readonly inflightEvents: number
  /** publishes waiting for room in the window */
  readonly waitingPublishes: number
  /** frames waiting for their answer on the current connection */
  readonly unansweredFrames: number
  /** connections made after the first */
  readonly reconnects: number
  /** events sent again (after a lost connection, a `failed` answer, a refused frame) */
  readonly resentEvents: number
  /** the client's timers now (0 after close) */
  readonly timers: number
}
