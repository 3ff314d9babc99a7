import { TYPE_PATTERN } from './event.js'

/** Does an event type match a subscription? */
export type TypeMatcher = (type: string) => boolean

/**
 * The patterns a subscription (and a route, API.md §8) may use: an exact type (`page_view`), a
 * prefix ending in `.*` (`checkout.*` matches `checkout.completed` and `checkout.step.2`, not
 * `checkout` itself), or `*` for every type. Anything else is refused with the reason, so that a
 * typo such as `checkout*` is an error frame rather than a subscription that never matches.
 */
export function patternError(pattern: unknown): string | undefined {
  if (typeof pattern !== 'string') return 'must be a string'
  if (pattern === '*') return undefined
  const exact = pattern.endsWith('.*') ? pattern.slice(0, -2) : pattern
  if (exact.length === 0 || exact.length > 128) return 'must be 1 to 128 characters'
  if (!TYPE_PATTERN.test(exact)) return 'must be an event type, a prefix ending in ".*", or "*"'
  return undefined
}

/** One matcher for a list of valid patterns: a set lookup for exact types, a scan of the (few) prefixes. */
export function compilePatterns(patterns: readonly string[]): TypeMatcher {
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
