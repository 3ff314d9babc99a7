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
