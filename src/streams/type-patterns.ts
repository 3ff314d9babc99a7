import { TYPE_PATTERN } from './event.js'

/** Does an event type match a subscription? Carries the patterns it was compiled from. */
export interface TypeMatcher {
  (type: string): boolean
  /** the patterns, as compiled: what an index over many subscriptions (a PatternIndex) keys on */
  readonly patterns: readonly string[]
}

/**
 * The patterns a subscription (and a route, API.md §8) may use: an exact type (`page_view`), a
 * prefix ending in `.*` (`checkout.*` matches `checkout.completed` and `checkout.step.2`, not
 * `checkout` itself), or `*` for every type. A type's one leading `$` belongs to its name: `$pageview`
 * and `$feature.*` are patterns, `$*` is not (`*` already matches every type). Anything else is
 * refused with the reason, so that a typo such as `checkout*` is an error frame rather than a
 * subscription that never matches.
 */
export function patternError(pattern: unknown): string | undefined {
  if (typeof pattern !== 'string') return 'must be a string'
  if (pattern === '*') return undefined
  const exact = pattern.endsWith('.*') ? pattern.slice(0, -2) : pattern
  if (exact.length === 0 || exact.length > 128) return 'must be 1 to 128 characters'
  if (!TYPE_PATTERN.test(exact)) return 'must be an event type, a prefix ending in ".*", or "*"'
  return undefined
}

/**
 * One matcher for ONE list of valid patterns: a set lookup for exact types, a scan of the (few)
 * prefixes. Matching many lists against each event this way costs their total size per event; for
 * that, index them with `createPatternIndex`.
 */
export function compilePatterns(patterns: readonly string[]): TypeMatcher {
  const compiled = [...patterns]
  if (patterns.includes('*'))
    return Object.assign(
      function matchesEveryType() {
        return true
      },
      { patterns: compiled },
    )
  const exact = new Set<string>()
  const prefixes: string[] = []
  for (const pattern of patterns) {
    if (pattern.endsWith('.*'))
      prefixes.push(pattern.slice(0, -1)) // keep the dot: `checkout.`
    else exact.add(pattern)
  }
  function matchesType(type: string): boolean {
    if (exact.has(type)) return true
    for (const prefix of prefixes) if (type.startsWith(prefix)) return true
    return false
  }
  return Object.assign(matchesType, { patterns: compiled })
}

/** Many keys (subscribers), each with its list of valid patterns, looked up by event type. */
export interface PatternIndex<K> {
  /** Sets, or replaces, the patterns of `key`. */
  set(key: K, patterns: readonly string[]): void
  delete(key: K): boolean
  has(key: K): boolean
  readonly size: number
  keys(): IterableIterator<K>
  /**
   * Calls `visit` once for each key with a pattern that matches `type`. `visit` may delete keys
   * (a deleted key not yet visited is skipped); it must not add any.
   */
  forEachMatch(type: string, visit: (key: K) => void): void
}

/**
 * An index of many pattern lists whose cost per event does not grow with the number of lists that
 * do not match it: exact types in a Map (type → keys), prefixes in a Map keyed by the prefix with
 * its dot (`checkout.` → keys), and a set for `*`. A type `a.b.c` is looked up as `a.b.c`, `a.`
 * and `a.b.`: one lookup per dot, plus one per key that matches — a prefix pattern `p.*` matches
 * exactly when `p.` is the type cut right after one of its dots.
 */
export function createPatternIndex<K>(): PatternIndex<K> {
  const patternsOf = new Map<K, readonly string[]>()
  const exact = new Map<string, Set<K>>()
  const prefixes = new Map<string, Set<K>>()
  const everything = new Set<K>()

  function add(bucket: Map<string, Set<K>>, name: string, key: K): void {
    let keys = bucket.get(name)
    if (keys === undefined) bucket.set(name, (keys = new Set()))
    keys.add(key)
  }
  function remove(bucket: Map<string, Set<K>>, name: string, key: K): void {
    const keys = bucket.get(name)
    if (keys === undefined) return
    keys.delete(key)
    if (keys.size === 0) bucket.delete(name) // an index of departed subscribers' patterns would only grow
  }
  function unindex(key: K, patterns: readonly string[]): void {
    everything.delete(key)
    for (const pattern of patterns) {
      if (pattern.endsWith('.*')) remove(prefixes, pattern.slice(0, -1), key)
      else if (pattern !== '*') remove(exact, pattern, key)
    }
  }

  return {
    set(key, patterns) {
      const previous = patternsOf.get(key)
      if (previous !== undefined) unindex(key, previous)
      patternsOf.set(key, patterns)
      // `*` matches everything: indexing its other patterns too would only visit it twice.
      if (patterns.includes('*')) return void everything.add(key)
      for (const pattern of patterns) {
        if (pattern.endsWith('.*')) add(prefixes, pattern.slice(0, -1), key)
        else add(exact, pattern, key)
      }
    },
    delete(key) {
      const previous = patternsOf.get(key)
      if (previous === undefined) return false
      unindex(key, previous)
      return patternsOf.delete(key)
    },
    has: (key) => patternsOf.has(key),
    get size() {
      return patternsOf.size
    },
    keys: () => patternsOf.keys(),
    forEachMatch(type, visit) {
      const buckets: Set<K>[] = []
      if (everything.size > 0) buckets.push(everything)
      const exactKeys = exact.get(type)
      if (exactKeys !== undefined) buckets.push(exactKeys)
      if (prefixes.size > 0) {
        for (let dot = type.indexOf('.'); dot !== -1; dot = type.indexOf('.', dot + 1)) {
          const prefixKeys = prefixes.get(type.slice(0, dot + 1))
          if (prefixKeys !== undefined) buckets.push(prefixKeys)
        }
      }
      // A key with several matching patterns (`a.*` and `a.b.*`) is visited once. The buckets are
      // iterated live: a key deleted by `visit` before its turn is skipped (Set iteration allows it).
      const seen = buckets.length > 1 ? new Set<K>() : undefined
      for (const bucket of buckets) {
        for (const key of bucket) {
          if (seen !== undefined) {
            if (seen.has(key)) continue
            seen.add(key)
          }
          visit(key)
        }
      }
    },
  }
}
