import { defer, of } from 'rxjs'
import type { EventStorage, CountQuery } from '../app/event-storage.js'
import type { AcceptedEvent } from '../streams/event.js'
import type { EventRow } from '../streams/ports.js'

export interface MemoryStorageOptions {
  /** while it returns true the storage is unreachable: writes fail (retriable), reads reject, ping answers false */
  readonly down?: () => boolean
}

export interface MemoryStorage extends EventStorage {
  /** every row written, in the order written */
  readonly rows: AcceptedEvent[]
  /** write calls made, failed ones included */
  writes: number
}

const unreachable = () => new Error('connect ECONNREFUSED (memory storage is down)')

/**
 * The event storage in memory, for tests of the server around it (`createSluice(config, { sink })`):
 * it commits, reads back newest first, counts and re-learns ids as the ClickHouse sink does, with no
 * server behind it. Properties come back as storage keeps them: the canonical JSON, parsed.
 */
export function createMemoryStorage(options: MemoryStorageOptions = {}): MemoryStorage {
  const { down = () => false } = options
  const rows: AcceptedEvent[] = []

  function reachable(): Promise<void> {
    return down() ? Promise.reject(unreachable()) : Promise.resolve()
  }

  // What a merge leaves: each id once, its last row.
  function merged(): AcceptedEvent[] {
    const byId = new Map<string, AcceptedEvent>()
    for (const row of rows) byId.set(row.id, row)
    return [...byId.values()]
  }

  const newestFirst = (a: AcceptedEvent, b: AcceptedEvent) =>
    b.receivedAt - a.receivedAt || b.timestamp - a.timestamp

  const storage: MemoryStorage = {
    rows,
    writes: 0,
    write(batch: readonly EventRow[]) {
      return defer(() => {
        storage.writes++
        if (down()) throw unreachable()
        for (const { event, propertiesText } of batch)
          rows.push(
            propertiesText === undefined
              ? { ...event }
              : { ...event, properties: JSON.parse(propertiesText) as Record<string, unknown> },
          )
        return of(undefined)
      })
    },
    isRetriable: () => true,
    start: () => Promise.resolve({ version: 'memory' }),
    ping: () => Promise.resolve(!down()),
    async recent({ type, sinceMs, limit, maxPropertiesBytes = Infinity }) {
      await reachable()
      const newest = merged()
        .filter(
          (e) =>
            (type === undefined || e.type === type) &&
            (sinceMs === undefined || e.receivedAt >= sinceMs),
        )
        .sort(newestFirst)
        .slice(0, limit)
      // As the ClickHouse sink does: the newest whose properties fit, and always the newest one.
      let bytes = 0
      for (let i = 0; i < newest.length; i++) {
        const event = newest[i]!
        bytes += event.properties === undefined ? 0 : JSON.stringify(event.properties).length
        if (bytes > maxPropertiesBytes && i > 0) return newest.slice(0, i)
      }
      return newest
    },
    async byIds(ids) {
      await reachable()
      const wanted = new Set(ids)
      return rows.filter((e) => wanted.has(e.id))
    },
    async recentIds({ sinceMs, limit }) {
      await reachable()
      return merged()
        .filter((e) => e.receivedAt >= sinceMs)
        .sort(newestFirst)
        .slice(0, limit)
        .map(({ id, receivedAt }) => ({ id, receivedAt }))
    },
    async count({ ids, type, final = false }: CountQuery = {}) {
      await reachable()
      const wanted = ids && new Set(ids)
      return (final ? merged() : rows).filter(
        (e) => (!wanted || wanted.has(e.id)) && (type === undefined || e.type === type),
      ).length
    },
    close: async () => {},
  }
  return storage
}
