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

/** A route's `match` takes the patterns of WebSocket subscriptions: see streams/type-patterns.ts. */
export { compilePatterns as typeMatcher, patternError } from '../type-patterns.js'
