import type { Issue } from './outcome.js'

export const PROPERTIES_MAX_BYTES = 32 * 1024
export const PROPERTIES_MAX_DEPTH = 32
const FORBIDDEN_KEYS = new Set(['__proto__', 'constructor', 'prototype'])

export type CheckedProperties =
  /** `text`: the canonical JSON of the properties (see canonicalJson), measured and ready to digest */
  | { readonly ok: true; readonly text: string }
  | { readonly ok: false; readonly issues: readonly Issue[] }

/**
 * What API.md §1 asks of `properties` beyond being an object: nesting ≤ 32, ≤ 32 KiB serialized, no
 * `__proto__`/`constructor`/`prototype` key at any depth. Hot path, once per event: one walk that
 * allocates nothing, then one serialization, which the caller reuses for the fingerprint. Checked on
 * the parsed JSON as sent, because zod's record parsing silently drops `__proto__`.
 */
export function checkProperties(properties: object, path = 'properties'): CheckedProperties {
  const walk: Walk = { depth: 0, forbidden: false, sorted: true }
  visit(properties, 1, walk)
  if (walk.depth > PROPERTIES_MAX_DEPTH || walk.forbidden) {
    const issues: Issue[] = []
    if (walk.depth > PROPERTIES_MAX_DEPTH) issues.push({ path, message: `nesting is ${walk.depth} levels, at most ${PROPERTIES_MAX_DEPTH} allowed` })
    for (const forbidden of forbiddenKeyPaths(properties, path)) issues.push({ path: forbidden, message: 'key is not allowed (__proto__, constructor, prototype)' })
    return { ok: false, issues }
  }
  const text = serialize(properties, walk)
  // A UTF-16 unit is at most 3 bytes of UTF-8: most texts need no byte count at all.
  if (text.length * 3 > PROPERTIES_MAX_BYTES && Buffer.byteLength(text) > PROPERTIES_MAX_BYTES) {
    return { ok: false, issues: [{ path, message: `must be at most ${PROPERTIES_MAX_BYTES} bytes serialized` }] }
  }
  return { ok: true, text }
}

/**
 * JSON with the keys of every object sorted, so that equal content gives equal text whatever order
 * the keys came in. (Integer-like keys come first in ascending order, as JavaScript orders them.)
 */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null'
  const walk: Walk = { depth: 0, forbidden: false, sorted: true }
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
      if (child !== null && typeof child === 'object') visit(child, depth + 1, walk, maxDepth)
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
    if (child !== null && typeof child === 'object') visit(child, depth + 1, walk, maxDepth)
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
    if (key === '__proto__') Object.defineProperty(copy, key, { value: child, enumerable: true, writable: true, configurable: true })
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

/** Paths of keys that may never be stored, at any depth, sorted. */
export function forbiddenKeyPaths(root: unknown, base = 'properties'): string[] {
  const found: string[] = []
  const stack: Array<[unknown, string, number]> = [[root, base, 1]]
  while (stack.length > 0) {
    const [value, path, depth] = stack.pop()!
    if (value === null || typeof value !== 'object' || depth > PROPERTIES_MAX_DEPTH + 1) continue
    for (const key of Object.keys(value)) {
      const child = `${path}.${key}`
      if (FORBIDDEN_KEYS.has(key)) found.push(child)
      stack.push([(value as Record<string, unknown>)[key], child, depth + 1])
    }
  }
  return found.sort()
}
