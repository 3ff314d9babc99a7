import type { AcceptedEvent } from '../streams/event.js'
import type { EventSink } from '../streams/ports.js'
import type { EventReader } from '../http/ports.js'

export interface CountQuery {
  /** keep the list short: ClickHouse 18.16 refuses queries over 256 KiB */
  readonly ids?: readonly string[]
  readonly type?: string
  /** count what a merge leaves (replayed ids once) */
  readonly final?: boolean
}

/**
 * What the server needs of its event storage besides the pipeline's EventSink: schema at start,
 * reads for GET /v1/events and /ready, and what the in-process dedupe store re-learns after a
 * restart. The ClickHouse sink is the production one; `sluice/testing` has one in memory.
 */
export interface EventStorage extends EventSink, EventReader {
  /** Prepares the storage (database, tables) and says which version answers. */
  start(): Promise<{ readonly version: string; readonly dialect?: string }>
  ping(): Promise<boolean>
  /** The stored events of these ids. */
  byIds(ids: readonly string[]): Promise<AcceptedEvent[]>
  /** Ids received at or after `sinceMs`, newest first. */
  recentIds(query: {
    readonly sinceMs: number
    readonly limit: number
  }): Promise<Array<{ id: string; receivedAt: number }>>
  /** Rows stored, all or of some ids or of one type. */
  count(options?: CountQuery): Promise<number>
  close(): Promise<void>
}
