import type { AcceptedEvent } from './protocol.js'

/** A live feed of accepted events whose type matches (API.md §4); see SluiceClient.subscribe. */
export interface Subscription {
  /** Resolves once the server has confirmed the subscription; rejects if it refused it. */
  readonly ready: Promise<void>
  /** Stops this feed (the others of the client go on). */
  unsubscribe(): void
}

/** The same rule as the server's (API.md §4): a type, a prefix ending in `.*`, or `*`. */
const TYPE = /^\$?[A-Za-z0-9][A-Za-z0-9_.:/-]*$/

export function checkPatterns(types: unknown): readonly string[] {
  if (!Array.isArray(types) || types.length === 0)
    throw new TypeError('subscribe: types must be a non-empty array of event types or patterns')
  for (const pattern of types as readonly unknown[]) {
    const exact =
      typeof pattern === 'string' && pattern.endsWith('.*') ? pattern.slice(0, -2) : pattern
    if (pattern !== '*' && (typeof exact !== 'string' || exact.length > 128 || !TYPE.test(exact)))
      throw new TypeError(
        `subscribe: ${JSON.stringify(pattern)} is not an event type, a prefix ending in ".*", or "*"`,
      )
  }
  return [...new Set(types as string[])]
}

export function matches(patterns: readonly string[], type: string): boolean {
  for (const pattern of patterns) {
    if (pattern === '*' || pattern === type) return true
    if (pattern.endsWith('.*') && type.startsWith(pattern.slice(0, -1))) return true
  }
  return false
}

/** One subscription, as the client keeps it. */
export interface Listener {
  readonly patterns: readonly string[]
  readonly onEvent: (event: AcceptedEvent) => void
  /** settles `ready`; only the first call counts */
  confirm(): void
  refuse(error: Error): void
  confirmed: boolean
}

export function createListener(
  patterns: readonly string[],
  onEvent: (event: AcceptedEvent) => void,
): { listener: Listener; ready: Promise<void> } {
  let settle: { confirm(): void; refuse(error: Error): void } | undefined
  const ready = new Promise<void>((confirm, refuse) => (settle = { confirm, refuse }))
  // A caller who never looks at `ready` must not get an unhandled rejection for it.
  ready.catch(() => {})
  const listener: Listener = {
    patterns,
    onEvent,
    confirmed: false,
    confirm() {
      if (listener.confirmed) return
      listener.confirmed = true
      settle!.confirm()
    },
    refuse(error) {
      settle!.refuse(error)
    },
  }
  return { listener, ready }
}

/** The patterns the connection subscribes to: every listener's, each once. */
export function unionOf(listeners: Iterable<Listener>): string[] {
  const all = new Set<string>()
  for (const listener of listeners) for (const pattern of listener.patterns) all.add(pattern)
  return [...all]
}

/**
 * Every subscription of a client, on its one connection: the server holds one subscription per
 * connection (a subscribe replaces it), so the client subscribes to the union of its listeners'
 * patterns and hands each event to the listeners it matches.
 */
export interface SubscriptionSet {
  add(types: unknown, onEvent: (event: AcceptedEvent) => void): Subscription
  /** A new connection, which holds no subscription yet (after a welcome), or one the server dropped. */
  resubscribe(): void
  /** The server confirmed the subscribe frame that carried these listeners. */
  confirmed(listeners: readonly Listener[]): void
  /** The server refused it: those not confirmed before are told why and removed. */
  refused(listeners: readonly Listener[], why: string): void
  deliver(event: AcceptedEvent): void
  /** Ends every subscription (the client closes). */
  clear(why: string): void
}

/** `send`: a subscribe or unsubscribe frame on the connection, a no-op when there is none. */
export function createSubscriptionSet(
  send: (text: string, kind: 'subscribe' | 'unsubscribe', listeners: readonly Listener[]) => void,
): SubscriptionSet {
  const listeners = new Set<Listener>()
  // the union last sent on this connection; undefined: none sent, the connection holds nothing
  let subscribedTo: string | undefined

  function sync(): void {
    const patterns = unionOf(listeners)
    const key = patterns.join('\n')
    if (key === (subscribedTo ?? '')) return
    subscribedTo = key
    if (patterns.length === 0) return send('{"op":"unsubscribe"}', 'unsubscribe', [])
    send(JSON.stringify({ op: 'subscribe', types: patterns }), 'subscribe', [...listeners])
  }

  return {
    add(types, onEvent) {
      if (typeof onEvent !== 'function')
        throw new TypeError('subscribe: onEvent must be a function')
      const { listener, ready } = createListener(checkPatterns(types), onEvent)
      listeners.add(listener)
      sync()
      return {
        ready,
        unsubscribe() {
          if (!listeners.delete(listener)) return
          listener.refuse(new Error('unsubscribed before the server confirmed'))
          sync()
        },
      }
    },
    resubscribe() {
      subscribedTo = undefined
      sync()
    },
    confirmed(sent) {
      for (const listener of sent) if (listeners.has(listener)) listener.confirm()
    },
    refused(sent, why) {
      for (const listener of sent)
        if (!listener.confirmed && listeners.delete(listener)) listener.refuse(new Error(why))
      subscribedTo = undefined
      sync()
    },
    deliver(event) {
      for (const listener of listeners) {
        if (!matches(listener.patterns, event.type)) continue
        try {
          listener.onEvent(event)
        } catch (error) {
          // The listener's own bug: reported as an event listener's would be, never the client's end.
          queueMicrotask(() => {
            throw error
          })
        }
      }
    },
    clear(why) {
      for (const listener of listeners) listener.refuse(new Error(why))
      listeners.clear()
    },
  }
}
