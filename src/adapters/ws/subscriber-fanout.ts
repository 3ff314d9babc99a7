import type { Observable, Subscription } from 'rxjs'
import { toWire, type AcceptedEvent } from '../../streams/event.js'
import { eventMessage, subscriberTooSlow } from './server-messages.js'
import type { TypeMatcher } from '../../streams/type-patterns.js'

/** What the fan-out needs of a subscribed connection. */
export interface Subscriber {
  readonly bufferedAmount: number
  sendUnsolicited(text: string): void
}

export interface SubscriberFanoutOptions {
  /** WS_SUBSCRIBER_MAX_BUFFERED_BYTES: more unsent output than this drops the subscriber */
  readonly maxBufferedBytes: number
  readonly onDropped?: () => void
}

export interface SubscriberFanout {
  /** Starts, or replaces, the connection's subscription. */
  subscribe(subscriber: Subscriber, matches: TypeMatcher): void
  unsubscribe(subscriber: Subscriber): void
  readonly size: number
  /** Ends the one subscription to the accepted-events stream and forgets every subscriber. */
  close(): void
}

/**
 * Live subscriptions (API.md §4): ONE subscription to the pipeline's accepted-events stream for the
 * whole gateway, fanned out to the connections whose patterns match. Only committed events are on
 * that stream, once each — never a rejected event, never a duplicate.
 *
 * A subscriber that reads slower than events come would make the server hold its backlog; once its
 * unsent output passes the bound it is told why (`subscriber_too_slow`) and dropped from the
 * subscription, but keeps its connection — its acks still matter.
 */
export function createSubscriberFanout(accepted$: Observable<AcceptedEvent>, options: SubscriberFanoutOptions): SubscriberFanout {
  const subscribers = new Map<Subscriber, TypeMatcher>()
  const notice = subscriberTooSlow(options.maxBufferedBytes)

  function deliver(event: AcceptedEvent): void {
    if (subscribers.size === 0) return
    let text: string | undefined // serialized once, and only if somebody wants it
    // Deleting the entry being visited is safe while iterating a Map.
    for (const [subscriber, matches] of subscribers) {
      if (!matches(event.type)) continue
      if (subscriber.bufferedAmount > options.maxBufferedBytes) {
        subscribers.delete(subscriber)
        options.onDropped?.()
        subscriber.sendUnsolicited(notice)
        continue
      }
      text ??= eventMessage(toWire(event))
      subscriber.sendUnsolicited(text)
    }
  }

  const subscription: Subscription = accepted$.subscribe({ next: deliver })

  return {
    subscribe(subscriber, matches) {
      subscribers.set(subscriber, matches)
    },
    unsubscribe(subscriber) {
      subscribers.delete(subscriber)
    },
    get size() {
      return subscribers.size
    },
    close() {
      subscription.unsubscribe()
      subscribers.clear()
    },
  }
}
