import type { Observable, Subscription } from 'rxjs'
import { toWire, type AcceptedEvent } from '../../streams/event.js'
import { createPatternIndex } from '../../streams/type-patterns.js'
import { eventMessage, subscriberTooSlow } from './server-messages.js'

/** What the fan-out needs of a subscribed connection. */
export interface Subscriber {
  readonly bufferedAmount: number
  sendUnsolicited(text: string): void
}

export interface SubscriberFanoutOptions {
  /** WS_SUBSCRIBER_MAX_BUFFERED_BYTES: more unsent output than this drops the subscriber */
  readonly maxBufferedBytes: number
  /** WS_SUBSCRIBERS_MAX_BUFFERED_BYTES: more unsent output than this in all subscribers together drops the slowest */
  readonly maxTotalBufferedBytes: number
  readonly onDropped?: () => void
}

export interface SubscriberFanout {
  /** Starts, or replaces, the connection's subscription: valid patterns (`patternError`), as parsed from its frame. */
  subscribe(subscriber: Subscriber, patterns: readonly string[]): void
  unsubscribe(subscriber: Subscriber): void
  readonly size: number
  /** Ends the one subscription to the accepted-events stream and forgets every subscriber. */
  close(): void
}

/**
 * Live subscriptions (API.md §4): ONE subscription to the pipeline's accepted-events stream for the
 * whole gateway, fanned out to the connections whose patterns match. Only committed events are on
 * that stream, once each — never a rejected event, never a duplicate. It is held only while some
 * connection is subscribed: the pipeline builds an event object for that stream only when someone
 * listens (validate.ts keeps the properties as text until then).
 *
 * The subscriptions are indexed by pattern (`createPatternIndex`), so an event costs a few lookups
 * plus the subscribers it goes to: thousands of subscribers that do not want it cost it nothing.
 *
 * A subscriber that reads slower than events come would make the server hold its backlog; once its
 * unsent output passes the bound it is told why (`subscriber_too_slow`) and dropped from the
 * subscription, but keeps its connection — its acks still matter. Many subscribers each under
 * their own bound can still hold too much together: past the total bound the slowest are dropped
 * the same way (see `createTotalBound`).
 */
export function createSubscriberFanout(
  accepted$: Observable<AcceptedEvent>,
  options: SubscriberFanoutOptions,
): SubscriberFanout {
  const index = createPatternIndex<Subscriber>()
  const notice = subscriberTooSlow(options.maxBufferedBytes)
  const total = createTotalBound(options.maxTotalBufferedBytes)

  function drop(subscriber: Subscriber, message: string): void {
    forget(subscriber)
    options.onDropped?.()
    subscriber.sendUnsolicited(message)
  }

  function deliver(event: AcceptedEvent): void {
    if (index.size === 0) return
    let text: string | undefined // serialized once, and only if somebody wants it
    let bytes = 0
    index.forEachMatch(event.type, function send(subscriber) {
      if (subscriber.bufferedAmount > options.maxBufferedBytes) return drop(subscriber, notice)
      if (text === undefined) {
        text = eventMessage(toWire(event))
        bytes = Buffer.byteLength(text)
      }
      subscriber.sendUnsolicited(text)
      total.sent(bytes)
    })
    // Once per event, after its sends: the check is a comparison; the measure behind it is rare.
    if (total.due()) {
      // Each one's own backlog in its notice: it may be under the per-subscriber bound.
      for (const [subscriber, held] of total.slowestOver(index.keys()))
        drop(subscriber, subscriberTooSlow(held))
    }
  }

  let subscription: Subscription | undefined
  let closed = false
  function forget(subscriber: Subscriber): void {
    index.delete(subscriber)
    if (index.size > 0) return
    subscription?.unsubscribe()
    subscription = undefined
  }

  return {
    subscribe(subscriber, patterns) {
      if (closed) return
      index.set(subscriber, patterns)
      subscription ??= accepted$.subscribe({ next: deliver })
    },
    unsubscribe: forget,
    get size() {
      return index.size
    },
    close() {
      closed = true
      for (const subscriber of [...index.keys()]) forget(subscriber)
      subscription?.unsubscribe()
    },
  }
}

/**
 * The total bound, kept cheap: summing every subscriber's `bufferedAmount` per event would cost what
 * the index saves. It keeps an estimate instead — the last measured total plus every byte sent since
 * (drained bytes are not subtracted, so it only overestimates) — and measures again only when the
 * estimate passes the bound. A total that stays just under the bound would then be measured on every
 * event; so after a measure the next one waits for at least 1/32 of the bound to be sent, and the
 * total may pass the bound by that much (8 MiB of 256) before the slowest are dropped.
 */
function createTotalBound(maxBytes: number) {
  const slack = Math.max(1, Math.floor(maxBytes / 32))
  let estimate = 0
  let measureAt = maxBytes

  return {
    sent(bytes: number): void {
      estimate += bytes
    },
    due: (): boolean => estimate > measureAt,
    /** Measures; returns the subscribers to drop, largest backlog first, until the rest are under the bound. */
    slowestOver(subscribers: Iterable<Subscriber>): Array<[Subscriber, number]> {
      const held: Array<[Subscriber, number]> = []
      let sum = 0
      for (const subscriber of subscribers) {
        const amount = subscriber.bufferedAmount
        sum += amount
        if (amount > 0) held.push([subscriber, amount])
      }
      const dropped: Array<[Subscriber, number]> = []
      if (sum > maxBytes) {
        held.sort((a, b) => b[1] - a[1])
        for (const entry of held) {
          if (sum <= maxBytes) break
          dropped.push(entry)
          sum -= entry[1]
        }
      }
      estimate = sum
      measureAt = Math.max(maxBytes, sum + slack)
      return dropped
    },
  }
}
