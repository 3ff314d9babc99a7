import { TYPE_PATTERN } from '../event.js'

/** One downstream route (API.md §8), with every default filled in by the routes-file loader. */
export interface Route {
  /** unique; names the route in headers (`x-sluice-route`), metrics, outbox keys and dead letters */
  readonly name: string
  /** exact types, `prefix.*` patterns, or `*` */
  readonly match: readonly string[]
  readonly url: string
  readonly headers: Readonly<Record<string, string>>
  /** a batch is sent once it holds this many events ... */
  readonly batchMaxEvents: number
  /** ... or this long after its first event arrived */
  readonly batchMaxWaitMs: number
  /** batches in flight at once */
  readonly concurrency: number
  /** per attempt */
  readonly timeoutMs: number
  /** attempts per batch, the first one included, before it goes to dead letters */
  readonly maxAttempts: number
  readonly backoffInitialMs: number
  readonly backoffMaxMs: number
}

/** API.md §8: only `name`, `match` and `url` are required. */
export const ROUTE_DEFAULTS = {
  headers: {},
  batchMaxEvents: 100,
  batchMaxWaitMs: 1000,
  concurrency: 4,
  timeoutMs: 5000,
  maxAttempts: 8,
  backoffInitialMs: 200,
  backoffMaxMs: 30_000,
} as const satisfies Partial<Route>

/** A route with the defaults for everything not given (for tests and embedding). */
export function route(fields: Pick<Route, 'name' | 'match' | 'url'> & Partial<Route>): Route {
  return { ...ROUTE_DEFAULTS, ...fields }
}

/**
 * Why a match pattern is not valid, or undefined when it is: an exact type (`page_view`), a prefix
 * ending in `.*` (`checkout.*` matches `checkout.completed` and `checkout.step.2`, not `checkout`
 * itself), or `*`. A typo such as `checkout*` is refused rather than becoming a route that never matches.
 * The same rules as WebSocket subscriptions (src/adapters/ws/type-patterns.ts).
 */
export function patternError(pattern: string): string | undefined {
  if (pattern === '*') return undefined
  const exact = pattern.endsWith('.*') ? pattern.slice(0, -2) : pattern
  if (exact.length === 0 || exact.length > 128) return 'must be 1 to 128 characters'
  if (!TYPE_PATTERN.test(exact)) return 'must be an event type, a prefix ending in ".*", or "*"'
  return undefined
}

/** One predicate for a route's patterns: a set lookup for exact types, a scan of the (few) prefixes. */
export function typeMatcher(patterns: readonly string[]): (type: string) => boolean {
  if (patterns.includes('*')) return () => true
  const exact = new Set<string>()
  const prefixes: string[] = []
  for (const pattern of patterns) {
    if (pattern.endsWith('.*')) prefixes.push(pattern.slice(0, -1)) // keep the dot: `checkout.`
    else exact.add(pattern)
  }
  return function matchesType(type) {
    if (exact.has(type)) return true
    for (const prefix of prefixes) if (type.startsWith(prefix)) return true
    return false
  }
}
