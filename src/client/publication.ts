import type { Issue, WireResult } from './protocol.js'
import { uuidv7 } from './uuidv7.js'

/** An event as a client publishes it (API.md §1); without `id`, the client assigns a UUIDv7. */
export interface ClientEvent {
  readonly id?: string
  readonly type: string
  /** RFC 3339 string or epoch milliseconds; absent: the time Sluice receives it */
  readonly timestamp?: string | number
  readonly source?: string
  readonly userId?: string
  readonly sessionId?: string
  readonly properties?: Record<string, unknown>
}

interface ResultBase {
  /** the event's place in the array given to `publish` */
  readonly index: number
  /** the event's id: the caller's, or the one the client assigned */
  readonly id: string
}

/**
 * What became of one published event, final (API.md §2, as the client reports it): `duplicate`
 * only when the id was stored by someone else's send (the client's own re-sends that the server
 * recognises are `accepted`); `failed` carries why the client gave up.
 */
export type PublishResult =
  | (ResultBase & { readonly status: 'accepted' })
  | (ResultBase & { readonly status: 'duplicate'; readonly conflict?: true })
  | (ResultBase & { readonly status: 'rejected'; readonly errors: readonly Issue[] })
  | (ResultBase & { readonly status: 'failed'; readonly message: string })

/** One event on its way, from its publish to its final result. */
export interface Item {
  readonly event: Record<string, unknown>
  readonly id: string
  readonly index: number
  readonly publication: Publication
  /** frames it went out in so far */
  sends: number
  /** `failed` answers so far */
  failures: number
  /** when it first could not be delivered (a lost connection, a `failed` answer): its retry budget runs from here */
  troubleSince: number | undefined
  settled: boolean
}

export interface Publication {
  readonly results: PublishResult[]
  left: number
  readonly done: (results: PublishResult[]) => void
}

/**
 * The items of one publish, ids assigned: a TypeError for anything that is not an array of event
 * objects, before anything is sent. The caller's objects are kept as they are when they carry an id
 * (re-sends must say the same thing: do not change an event after publishing it).
 */
export function itemsOf(events: unknown, done: (results: PublishResult[]) => void): Item[] {
  if (!Array.isArray(events))
    throw new TypeError('publish: events must be an array of event objects')
  const list = events as readonly unknown[]
  const publication: Publication = {
    results: new Array<PublishResult>(list.length),
    left: list.length,
    done,
  }
  return list.map((event, index) => {
    if (typeof event !== 'object' || event === null || Array.isArray(event))
      throw new TypeError(`publish: events[${index}] is not an event object`)
    const given = (event as { id?: unknown }).id
    if (given !== undefined && typeof given !== 'string')
      throw new TypeError(`publish: events[${index}].id must be a string`)
    const id = given ?? uuidv7()
    return {
      event: given === undefined ? { ...event, id } : (event as Record<string, unknown>),
      id,
      index,
      publication,
      sends: 0,
      failures: 0,
      troubleSince: undefined,
      settled: false,
    }
  })
}

/**
 * The final result for an item from the server's answer, or `undefined` when the answer is
 * `failed` (the item is to be sent again). A `duplicate` without conflict that answers a re-send
 * is the client's own earlier send, stored: `accepted` (API.md §10).
 */
export function finalResult(item: Item, answer: WireResult): PublishResult | undefined {
  const { index, id } = item
  switch (answer.status) {
    case 'accepted':
      return { index, id, status: 'accepted' }
    case 'duplicate':
      if (answer.conflict === true) return { index, id, status: 'duplicate', conflict: true }
      return item.sends > 1 ? { index, id, status: 'accepted' } : { index, id, status: 'duplicate' }
    case 'rejected':
      return { index, id, status: 'rejected', errors: answer.errors ?? [] }
    case 'failed':
      return undefined
  }
}

/** Records an item's result; false (and nothing changes) if it had one already. */
export function settle(item: Item, result: PublishResult): boolean {
  if (item.settled) return false
  item.settled = true
  const publication = item.publication
  publication.results[item.index] = result
  if (--publication.left === 0) publication.done(publication.results)
  return true
}

export function failedResult(item: Item, message: string): PublishResult {
  return { index: item.index, id: item.id, status: 'failed', message }
}
