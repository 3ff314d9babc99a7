import { join } from 'node:path'
import { defer } from 'rxjs'
import type { AcceptedEvent } from '../../streams/event.js'
import type { RouteOutbox } from '../../streams/routing/ports.js'
import { lockDirectory, unlockDirectory } from './directory-lock.js'
import { openRouteJournal, type RouteJournal } from './route-journal.js'

export interface FileRouteOutboxOptions {
  /** the journal's directory (`DATA_DIR/route-outbox`), owned by this process alone */
  readonly dir: string
  /** a released entry is read again this long after its release (default 60000, as ROUTE_CLAIM_IDLE_MS) */
  readonly releaseDelayMs?: number
  /** past this size a segment takes no more appends, so that older ones can be deleted while a backlog drains (default 64 MiB) */
  readonly segmentBytes?: number
  /** a route's last segment, all done, is replaced by an empty one once at least this big (default 1 MiB) */
  readonly compactBytes?: number
  readonly now?: () => number
  /** a line that is not an event (what a machine crash can leave): skipped */
  readonly onUnreadable?: (route: string, receipt: string, error: unknown) => void
}

export interface FileRouteOutbox extends RouteOutbox {
  /** Closes the files once the work already asked for is done, and gives up the directory; never rejects. */
  close(): Promise<void>
}

/**
 * The route outbox of a Sluice without Redis: an append-only journal per route in DATA_DIR
 * (route-journal.ts). An append returns once its bytes are written to the file, so it survives a
 * kill -9 of the process (the kernel holds them); it does not fsync, as the embedded ClickHouse
 * does not for the rows themselves, so a machine crash can lose the last seconds of both. One
 * process owns the directory, so `read` needs no claiming: after a restart it hands out, from the
 * start of the journal, everything that was not acknowledged.
 */
export function createFileRouteOutbox(options: FileRouteOutboxOptions): FileRouteOutbox {
  const {
    dir,
    releaseDelayMs = 60_000,
    segmentBytes = 64 << 20,
    compactBytes = 1 << 20,
    now = Date.now,
    onUnreadable,
  } = options
  const opening = new Map<string, Promise<RouteJournal>>()
  const journals = new Map<string, RouteJournal>()
  let locked: Promise<void> | undefined

  function journalOf(route: string): Promise<RouteJournal> {
    let journal = opening.get(route)
    if (!journal) {
      locked ??= lockDirectory(dir).catch((error: unknown) => {
        locked = undefined
        throw error
      })
      journal = locked.then(() =>
        openRouteJournal(join(dir, encodeURIComponent(route)), {
          releaseDelayMs,
          segmentBytes,
          compactBytes,
          now,
          onUnreadable: onUnreadable && ((receipt, error) => onUnreadable(route, receipt, error)),
        }),
      )
      opening.set(route, journal)
      // A journal that failed to open (a full disk, a permission) is tried again by the next call.
      void journal.then(
        (opened) => journals.set(route, opened),
        () => opening.delete(route),
      )
    }
    return journal
  }

  return {
    open(routes) {
      return defer(() => Promise.all(routes.map(journalOf)))
    },

    append(entries) {
      return defer(async () => {
        const byRoute = new Map<string, AcceptedEvent[]>()
        for (const { route, events } of entries) {
          const list = byRoute.get(route) ?? []
          list.push(...events)
          byRoute.set(route, list)
        }
        await Promise.all(
          [...byRoute].map(async ([route, events]) => (await journalOf(route)).append(events)),
        )
      })
    },

    read(route, max) {
      return defer(async () => (await journalOf(route)).read(max))
    },

    ack(route, receipts) {
      return defer(async () => (await journalOf(route)).ack(receipts))
    },

    release(route, receipts) {
      journals.get(route)?.release(receipts)
    },

    async close() {
      const open = await Promise.allSettled([...opening.values()])
      await Promise.allSettled(
        open.flatMap((result) => (result.status === 'fulfilled' ? [result.value.close()] : [])),
      )
      if (locked) await unlockDirectory(dir).catch(() => undefined)
    },
  }
}
