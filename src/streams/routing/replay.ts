import {
  asyncScheduler,
  firstValueFrom,
  from,
  lastValueFrom,
  timer,
  type SchedulerLike,
} from 'rxjs'
import type { SettledBatch } from './dead-letter-writer.js'
import type { DeadLetterStore, RouteOutbox, StoredDeadLetter } from './ports.js'
import type { Lane } from './route-lane.js'

export interface ReplayDeps {
  readonly store: DeadLetterStore
  readonly outbox?: RouteOutbox
  readonly scheduler?: SchedulerLike
  readonly pageSize: number
  /** the replay's lock was lost: stop before the next page (another instance may be replaying now) */
  readonly lost?: () => boolean
}

/**
 * Sends a route's dead letters written in [sinceMs, now] through the route again, page by page,
 * oldest first; returns how many were handed on. A page's rows are removed only once it is handed
 * on for good, so a crash mid-replay re-sends (never loses) them:
 * - with an outbox, once the page is appended to it (durable; the route's consumers take it from there);
 * - without one, once every event of the page is delivered or dead-lettered again.
 *
 * The range ends now, and the first page is read only after the clock has moved past it, so events
 * that fail again during the replay (written as new dead letters, with a later time) are not
 * replayed in a loop. Only the rows read are removed: rows of the range whose insert lands late stay.
 */
export async function replayDeadLetters(
  lane: Lane,
  deps: ReplayDeps,
  sinceMs?: number,
  error?: string,
): Promise<number> {
  const { store, outbox, scheduler = asyncScheduler, pageSize } = deps
  const route = lane.route.name
  const untilMs = scheduler.now()
  while (scheduler.now() <= untilMs) await firstValueFrom(timer(1, scheduler))
  const range = { route, sinceMs, untilMs, error }
  // Without an outbox a page waits in the route's queue: it must fit there.
  const limit = outbox ? pageSize : Math.max(1, Math.min(pageSize, Math.floor(lane.capacity / 2)))
  let replayed = 0
  let after: string | undefined
  // A replay that drain overtakes stops: what it would hand on now would only be persisted again.
  while (!lane.stopped && !deps.lost?.()) {
    const page = await firstValueFrom(from(store.page(range, limit, after)), {
      defaultValue: [] as StoredDeadLetter[],
    })
    if (page.length === 0) break
    after = page[page.length - 1]!.key
    const handed = outbox
      ? await appendPage(outbox, route, page, lane)
      : await deliverPage(lane, page)
    if (handed.length > 0)
      await lastValueFrom(
        from(
          store.remove(
            route,
            handed.map((letter) => letter.key),
          ),
        ),
        { defaultValue: undefined },
      )
    replayed += handed.length
    if (page.length < limit) break
  }
  return replayed
}

async function appendPage(
  outbox: RouteOutbox,
  route: string,
  page: StoredDeadLetter[],
  lane: Lane,
): Promise<StoredDeadLetter[]> {
  await lastValueFrom(
    from(outbox.append([{ route, events: page.map((letter) => letter.event) }])),
    { defaultValue: undefined },
  )
  lane.nudge()
  return page
}

/** Resolves with the letters whose events settled for good (delivered, or dead-lettered anew). */
function deliverPage(lane: Lane, page: StoredDeadLetter[]): Promise<StoredDeadLetter[]> {
  return new Promise((resolve) => {
    const handed: StoredDeadLetter[] = []
    let left = page.length
    const settled = (letter: StoredDeadLetter) => (outcome: SettledBatch['outcome']) => {
      if (outcome !== 'unsettled') handed.push(letter)
      if (--left === 0) resolve(handed)
    }
    lane.push(page.map((letter) => ({ event: letter.event, onSettled: settled(letter) })))
  })
}
