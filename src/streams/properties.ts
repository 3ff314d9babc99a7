import type { Issue } from './outcome.js'

export const PROPERTIES_MAX_BYTES = 32 * 1024
export const PROPERTIES_MAX_DEPTH = 32
const FORBIDDEN_KEYS = new Set(['__proto__', 'constructor', 'prototype'])

export type CheckedProperties =
  /** `text`: the canonical JSON of the properties (see canonicalJson), measured and ready to digest */
  | { readonly ok: true; readonly text: string }
  /** `omitted`: issues found past MAX_ISSUES and not written out */
  | { readonly ok: false; readonly issues: readonly Issue[]; readonly omitted?: number }

/**
 * What API.md §1 asks of `properties` beyond being an object: nesting ≤ 32, ≤ 32 KiB serialized, finite numbers, no
 * `__proto__`/`constructor`/`prototype` key at any depth. Hot path, once per event: one walk that
 * allocates nothing, then one serialization, which the caller reuses for the fingerprint. Checked on
 * the parsed JSON as sent, because zod's record parsing silently drops `__proto__`.
 */
export function checkProperties(properties: object, path = 'properties'): CheckedProperties {
  const walk: Walk = { depth: 0, forbidden: false, nonFinite: false, sorted: true }
  visit(properties, 1, walk)
  if (walk.depth > PROPERTIES_MAX_DEPTH || walk.forbidden || walk.nonFinite) {
    const issues: Issue[] = []
    if (walk.depth > PROPERTIES_MAX_DEPTH)
      issues.push({
        path,
        message: `nesting is ${walk.depth} levels, at most ${PROPERTIES_MAX_DEPTH} allowed`,
      })
    if (!walk.forbidden && !walk.nonFinite) return { ok: false, issues }
    const offending = offendingValues(properties, path)
    issues.push(...offending.issues)
    return offending.omitted === 0
      ? { ok: false, issues }
      : { ok: false, issues, omitted: offending.omitted }
  }
  const text = serialize(properties, walk)
  // A UTF-16 unit is at most 3 bytes of UTF-8: most texts need no byte count at all.
  if (text.length * 3 > PROPERTIES_MAX_BYTES && Buffer.byteLength(text) > PROPERTIES_MAX_BYTES) {
    return {
      ok: false,
      issues: [{ path, message: `must be at most ${PROPERTIES_MAX_BYTES} bytes serialized` }],
    }
  }
  return { ok: true, text }
}

/**
 * JSON with the keys of every object sorted, so that equal content gives equal text whatever order
 * the keys came in. (Integer-like keys come first in ascending order, as JavaScript orders them.)
 */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null'
  const walk: Walk = { depth: 0, forbidden: false, nonFinite: false, sorted: true }
  visit(value, 1, walk, Infinity)
  return serialize(value, walk)
}

/** The canonical JSON of a value already walked: sorted copies only where the walk found keys out of order. */
function serialize(value: object, walk: Walk): string {
  return JSON.stringify(walk.sorted ? value : sortedCopy(value))
}

interface Walk {
  depth: number
  forbidden: boolean
  /** a number JSON cannot carry (1e400 parses as Infinity, and would be stored as null) */
  nonFinite: boolean
  /** every object's keys are already in sorted order: the value is its own canonical form */
  sorted: boolean
}

/** Stops descending past the limit, so hostile nesting costs no more than the limit and cannot overflow the stack. */
function visit(value: object, depth: number, walk: Walk, maxDepth = PROPERTIES_MAX_DEPTH): void {
  if (depth > walk.depth) walk.depth = depth
  if (depth > maxDepth) return
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const child: unknown = value[i]
      if (typeof child === 'number') {
        if (child - child !== 0) walk.nonFinite = true
      } else if (child !== null && typeof child === 'object')
        visit(child, depth + 1, walk, maxDepth)
      if (walk.depth > maxDepth) return
    }
    return
  }
  let previous: string | undefined
  for (const key in value) {
    if (FORBIDDEN_KEYS.has(key)) walk.forbidden = true
    if (previous !== undefined && previous > key) walk.sorted = false
    previous = key
    const child = (value as Record<string, unknown>)[key]
    if (typeof child === 'number') {
      if (child - child !== 0) walk.nonFinite = true
    } else if (child !== null && typeof child === 'object') visit(child, depth + 1, walk, maxDepth)
    if (walk.depth > maxDepth) return
  }
}

function sortedCopy(value: unknown): unknown {
  if (value === null || typeof value !== 'object') return value
  if (Array.isArray(value)) return value.map(sortedCopy)
  const copy: Record<string, unknown> = {}
  for (const key of sortInPlace(Object.keys(value))) {
    const child = sortedCopy((value as Record<string, unknown>)[key])
    // A plain assignment to __proto__ would set the prototype instead of a key.
    if (key === '__proto__')
      Object.defineProperty(copy, key, {
        value: child,
        enumerable: true,
        writable: true,
        configurable: true,
      })
    else copy[key] = child
  }
  return copy
}

/**
 * Most objects have a few keys: insertion sort them, as Array.prototype.sort allocates a work area on
 * every call. Many keys (quadratic time) go to the library sort.
 */
function sortInPlace(keys: string[]): string[] {
  if (keys.length > 16) return keys.sort()
  for (let i = 1; i < keys.length; i++) {
    const key = keys[i]!
    let j = i - 1
    while (j >= 0 && keys[j]! > key) {
      keys[j + 1] = keys[j]!
      j--
    }
    keys[j + 1] = key
  }
  return keys
}

/**
 * The issues of values that may never be stored — keys `__proto__`, `constructor`, `prototype` and
 * numbers that are not finite — at any depth, in path order. At most `limit` (the caller caps the
 * list at MAX_ISSUES anyway), each path at most MAX_PATH_CHARS: a path is written out only for a
 * value found, from the keys on the way to it, never for every key visited.
 */
export function offendingValues(
  root: unknown,
  base = 'properties',
  keep = MAX_ISSUES,
): { readonly issues: Issue[]; readonly omitted: number } {
  const issues: Issue[] = []
  let omitted = 0
  const keys: string[] = []
  const hit = (message: string) => {
    if (issues.length < keep) issues.push({ path: joinedPath(base, keys), message })
    else omitted++
  }
  const walk = (value: unknown, depth: number): void => {
    if (value === null || typeof value !== 'object' || depth > PROPERTIES_MAX_DEPTH + 1) return
    for (const key of Object.keys(value)) {
      keys.push(key)
      const child = (value as Record<string, unknown>)[key]
      if (FORBIDDEN_KEYS.has(key)) hit('key is not allowed (__proto__, constructor, prototype)')
      else if (typeof child === 'number' && child - child !== 0)
        hit('must be a finite number (JSON cannot carry this one: it would be stored as null)')
      walk(child, depth + 1)
      keys.pop()
    }
  }
  walk(root, 1)
  return { issues, omitted }
}

/** API.md §1: a rejected event lists at most this many issues, the last saying how many more there were. */
export const MAX_ISSUES = 20
export const MAX_PATH_CHARS = 256

/** `base.key.key…`, written out no further than MAX_PATH_CHARS: the keys may be megabytes long. */
function joinedPath(base: string, keys: readonly string[]): string {
  let path = base
  for (const key of keys) {
    if (path.length > MAX_PATH_CHARS) break
    path += `.${key.length > MAX_PATH_CHARS ? key.slice(0, MAX_PATH_CHARS) : key}`
  }
  return boundedPath(path)
}

/** A path cut to MAX_PATH_CHARS, its end marked so that a cut path is never taken for a real one. */
export function boundedPath(path: string): string {
  return path.length <= MAX_PATH_CHARS ? path : `${path.slice(0, MAX_PATH_CHARS - 1)}…`
}

/**
 * At most MAX_ISSUES issues: all of them when they fit, else the first MAX_ISSUES − 1 and one that
 * counts the rest (`omitted`: issues found but never written out).
 */
export function boundedIssues(issues: readonly Issue[], omitted = 0): readonly Issue[] {
  if (issues.length <= MAX_ISSUES && omitted === 0) return issues
  const kept = issues.slice(0, MAX_ISSUES - 1)
  kept.push({ path: '', message: `and ${issues.length - kept.length + omitted} more issues` })
  return kept
}
