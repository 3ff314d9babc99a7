import type { Issue } from './outcome.js'
import { flatten } from './flat-string.js'
import { setOwnKey } from './own-key.js'

export const PROPERTIES_MAX_BYTES = 32 * 1024
export const PROPERTIES_MAX_DEPTH = 32
const FORBIDDEN_KEYS = new Set(['__proto__', 'constructor', 'prototype'])

export type CheckedProperties =
  /**
   * `text`: the canonical JSON of the properties (see canonicalJson), measured and ready to digest.
   * `textLeavingOut`: with `leaveOut` given and its object present, the canonical JSON of the
   * properties without that one member, from the same serialization.
   */
  | { readonly ok: true; readonly text: string; readonly textLeavingOut?: string }
  /** `omitted`: issues found past MAX_ISSUES and not written out */
  | { readonly ok: false; readonly issues: readonly Issue[]; readonly omitted?: number }

/**
 * What API.md §1 asks of `properties` beyond being an object: nesting ≤ 32, ≤ 32 KiB serialized, finite numbers, no
 * `__proto__`/`constructor`/`prototype` key at any depth. Hot path, once per event: one walk that
 * also finds the canonical form (copying only objects whose keys are out of order), then one
 * serialization, which the caller reuses for the fingerprint and storage. Checked on the parsed
 * JSON as sent, because zod's record parsing silently drops `__proto__`. `leaveOut`: the one member
 * the fingerprint of an SDK message leaves out (normalize.ts), written out from the same pass.
 */
export function checkProperties(
  properties: object,
  path = 'properties',
  leaveOut?: LeftOut,
): CheckedProperties {
  const walk: Walk = { depth: 0, forbidden: false, nonFinite: false }
  const form = visit(properties, 1, walk)
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
  const inner = leaveOut && (form as Record<string, unknown>)[leaveOut.key]
  const { text, textLeavingOut } = isPlainObject(inner)
    ? serializeLeavingOut(form as Record<string, unknown>, leaveOut!)
    : { text: JSON.stringify(form), textLeavingOut: undefined }
  // A UTF-16 unit is at most 3 bytes of UTF-8: most texts need no byte count at all.
  if (text.length * 3 > PROPERTIES_MAX_BYTES && Buffer.byteLength(text) > PROPERTIES_MAX_BYTES) {
    return {
      ok: false,
      issues: [{ path, message: `must be at most ${PROPERTIES_MAX_BYTES} bytes serialized` }],
    }
  }
  // The text waits for storage with the event (validate.ts): kept flat (flat-string.ts).
  flatten(text)
  return textLeavingOut === undefined ? { ok: true, text } : { ok: true, text, textLeavingOut }
}

/** One member of one object of `properties`, by key: what a fingerprint leaves out (normalize.ts). */
export interface LeftOut {
  readonly key: string
  readonly member: string
}

/**
 * The JSON of a canonical form, and the same without `leaveOut`'s member. When the object holding
 * the member comes first in the form (the usual case: `$` sorts before letters and digits), the
 * member is cut out of the one serialization, found by a scan that reads only the members before
 * it; else the form without the member is serialized again.
 */
function serializeLeavingOut(
  form: Record<string, unknown>,
  { key, member }: LeftOut,
): { text: string; textLeavingOut: string } {
  const text = JSON.stringify(form)
  const inner = form[key] as Record<string, unknown>
  if (!Object.hasOwn(inner, member)) return { text, textLeavingOut: text }
  const name = JSON.stringify(key)
  if (text.startsWith(name, 1) && text.charCodeAt(name.length + 1) === COLON) {
    const span = memberSpan(text, name.length + 2, member)
    if (span !== undefined)
      return { text, textLeavingOut: text.slice(0, span[0]) + text.slice(span[1]) }
  }
  // Copied key by key, not with spread syntax, which makes objects V8 is slower to serialize.
  const rest: Record<string, unknown> = {}
  for (const other of Object.keys(inner)) if (other !== member) rest[other] = inner[other]
  const formLeavingOut: Record<string, unknown> = {}
  for (const other of Object.keys(form)) formLeavingOut[other] = other === key ? rest : form[other]
  return { text, textLeavingOut: JSON.stringify(formLeavingOut) }
}

const QUOTE = 0x22
const BACKSLASH = 0x5c
const COLON = 0x3a
const COMMA = 0x2c
const OPEN_BRACE = 0x7b
const CLOSE_BRACE = 0x7d
const OPEN_BRACKET = 0x5b
const CLOSE_BRACKET = 0x5d

/**
 * Where member `name` (a key JSON writes without escapes) of the object at `at` sits in `json`,
 * JSON.stringify's own output: [start, end) with one of its commas, so that cutting it out leaves
 * the object's JSON without it. Undefined when the object has no such member.
 */
function memberSpan(json: string, at: number, name: string): [number, number] | undefined {
  if (json.charCodeAt(at) !== OPEN_BRACE) return undefined
  let i = at + 1
  while (json.charCodeAt(i) === QUOTE) {
    const start = i
    const keyEnd = stringEnd(json, i)
    const found = keyEnd - start === name.length + 2 && json.startsWith(name, start + 1)
    i = valueEnd(json, keyEnd + 1)
    if (found) {
      if (json.charCodeAt(i) === COMMA) return [start, i + 1]
      return start === at + 1 ? [start, i] : [start - 1, i]
    }
    if (json.charCodeAt(i) !== COMMA) return undefined
    i++
  }
  return undefined
}

/** The index just past the string whose opening quote is at `at`. */
function stringEnd(json: string, at: number): number {
  let i = at + 1
  for (;;) {
    const code = json.charCodeAt(i)
    if (code === QUOTE) return i + 1
    i += code === BACKSLASH ? 2 : 1
  }
}

/** The index just past the JSON value that starts at `at`. */
function valueEnd(json: string, at: number): number {
  const first = json.charCodeAt(at)
  if (first === QUOTE) return stringEnd(json, at)
  if (first !== OPEN_BRACE && first !== OPEN_BRACKET) {
    let i = at
    for (;;) {
      const code = json.charCodeAt(i)
      if (code === COMMA || code === CLOSE_BRACE || code === CLOSE_BRACKET || Number.isNaN(code))
        return i
      i++
    }
  }
  let depth = 0
  let i = at
  for (;;) {
    const code = json.charCodeAt(i)
    if (code === QUOTE) {
      i = stringEnd(json, i)
      continue
    }
    if (code === OPEN_BRACE || code === OPEN_BRACKET) depth++
    else if (code === CLOSE_BRACE || code === CLOSE_BRACKET) {
      depth--
      if (depth === 0) return i + 1
    }
    i++
  }
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value)
}

/**
 * JSON with the keys of every object sorted, so that equal content gives equal text whatever order
 * the keys came in. (Integer-like keys come first in ascending order, as JavaScript orders them.)
 */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null'
  return JSON.stringify(visit(value, 1, { depth: 0, forbidden: false, nonFinite: false }, Infinity))
}

interface Walk {
  depth: number
  forbidden: boolean
  /** a number JSON cannot carry (1e400 parses as Infinity, and would be stored as null) */
  nonFinite: boolean
}

/**
 * Checks `value` and returns its canonical form: the value itself when every object in it has its
 * keys in sorted order (no copy: most leaves do), else a copy of the objects on the way to those
 * that have not. Stops descending past the limit, so hostile nesting costs no more than the limit
 * and cannot overflow the stack (the form is then of no use, and the caller refuses the value).
 */
function visit(value: object, depth: number, walk: Walk, maxDepth = PROPERTIES_MAX_DEPTH): object {
  if (depth > walk.depth) walk.depth = depth
  if (depth > maxDepth) return value
  if (Array.isArray(value)) {
    const array = value as unknown[]
    let copy: unknown[] | undefined
    for (let i = 0; i < array.length; i++) {
      const child = array[i]
      if (typeof child === 'number') {
        if (child - child !== 0) walk.nonFinite = true
      } else if (child !== null && typeof child === 'object') {
        const form = visit(child, depth + 1, walk, maxDepth)
        if (form !== child) (copy ??= array.slice())[i] = form
      }
      if (walk.depth > maxDepth) return array
    }
    return copy ?? array
  }
  let previous: string | undefined
  let sorted = true
  // the children whose forms are copies, as key, form, key, form…: made only when there are any
  let forms: Array<string | object> | undefined
  for (const key in value) {
    if (FORBIDDEN_KEYS.has(key)) walk.forbidden = true
    if (previous !== undefined && previous > key) sorted = false
    previous = key
    const child = (value as Record<string, unknown>)[key]
    if (typeof child === 'number') {
      if (child - child !== 0) walk.nonFinite = true
    } else if (child !== null && typeof child === 'object') {
      const form = visit(child, depth + 1, walk, maxDepth)
      if (form !== child) (forms ??= []).push(key, form)
    }
    if (walk.depth > maxDepth) return value
  }
  if (sorted && forms === undefined) return value
  const copied = forms === undefined ? undefined : new CopiedChildren(forms)
  const copy: Record<string, unknown> = {}
  const keys = Object.keys(value)
  for (const key of sorted ? keys : sortInPlace(keys)) {
    const child = copied?.get(key) ?? (value as Record<string, unknown>)[key]
    setOwnKey(copy, key, child)
  }
  return copy
}

/**
 * The copied children of one object, by key. Most objects have one or two, found by a scan of the
 * pairs; a Map (about 200 bytes for even one entry, once per event's properties) only past a few,
 * so that an object of thousands of copied children is not scanned once per key.
 */
class CopiedChildren {
  private readonly map: Map<string, object> | undefined

  constructor(private readonly pairs: Array<string | object>) {
    if (pairs.length <= 16) return
    this.map = new Map()
    for (let i = 0; i < pairs.length; i += 2)
      this.map.set(pairs[i] as string, pairs[i + 1] as object)
  }

  get(key: string): object | undefined {
    if (this.map !== undefined) return this.map.get(key)
    const { pairs } = this
    for (let i = 0; i < pairs.length; i += 2) if (pairs[i] === key) return pairs[i + 1] as object
    return undefined
  }
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
  kept.push(moreIssues(issues.length - kept.length + omitted))
  return kept
}

/**
 * The first issue and how many more there were (`issues` as boundedIssues left them): what a
 * rejected event is answered with once its request or frame has answered ISSUE_CHARS_PER_SUBMISSION
 * of issues (submission.ts).
 */
export function firstIssueOnly(issues: readonly Issue[]): readonly Issue[] {
  if (issues.length <= 1) return issues
  const last = issues[issues.length - 1]!
  const counted = last.path === '' ? MORE_ISSUES.exec(last.message) : null
  const more = counted ? issues.length - 2 + Number(counted[1]) : issues.length - 1
  return [issues[0]!, moreIssues(more)]
}

/** The last issue of a list cut short, and how firstIssueOnly reads its count back. */
const moreIssues = (count: number): Issue => ({ path: '', message: `and ${count} more issues` })
const MORE_ISSUES = /^and (\d+) more issues$/
