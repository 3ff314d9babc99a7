import { parseRfc3339 } from '../../streams/event.js'
import type { Issue } from '../../streams/outcome.js'
import { setOwnKey } from '../../streams/own-key.js'

/**
 * One SDK message mapped onto an event of API.md §1, or why it cannot be: a message that cannot be
 * mapped is still answered, `rejected` with these issues, and never sinks its batch.
 */
export type MappedMessage =
  | { readonly ok: true; readonly event: Record<string, unknown> }
  | { readonly ok: false; readonly id?: string; readonly issues: readonly Issue[] }

/** What a message is read with besides itself: the batch around it and when it arrived. */
export interface BatchFrame {
  /** the batch's `context` (Segment), merged beneath each message's own */
  readonly context?: unknown
  /** the batch's `sentAt` (Segment) or `sent_at` (PostHog): the device's clock when it sent the batch */
  readonly sentAt?: unknown
  /** epoch ms when the request arrived */
  readonly receivedAt: number
}

const OUTSIDE_TYPE = /[^A-Za-z0-9_.:/-]+/g

/**
 * An SDK event name as a §1 type: each run of characters a type may not hold becomes `_`, and
 * leading `_` go (`Order Completed` → `Order_Completed`). `keepDollar`: PostHog's own events
 * (`$pageview`) keep their one leading `$`, which §1 allows. Empty when nothing usable is left.
 */
export function eventTypeOf(name: string, keepDollar: boolean): string {
  const prefix = keepDollar && name.startsWith('$') ? '$' : ''
  const rest = name.slice(prefix.length).replace(OUTSIDE_TYPE, '_').replace(/^_+/, '')
  return rest === '' ? '' : prefix + rest
}

export type TimestampResult =
  | { readonly ok: true; readonly timestamp: number | undefined }
  | { readonly ok: false; readonly issue: Issue }

/**
 * The event's time, corrected for the device's clock as Segment does: a device whose clock is off
 * stamps both `timestamp` and `sentAt` with the same error, so `timestamp − sentAt + receivedAt`
 * cancels it. No `sentAt`: the timestamp as sent. No timestamp: undefined (the receive time, §1).
 */
export function correctedTimestamp(
  timestamp: unknown,
  timestampPath: string,
  sentAt: unknown,
  sentAtPath: string,
  receivedAt: number,
): TimestampResult {
  if (timestamp === undefined || timestamp === null) return { ok: true, timestamp: undefined }
  const at = epochMs(timestamp)
  if (at === undefined) return { ok: false, issue: { path: timestampPath, message: NOT_A_TIME } }
  if (sentAt === undefined || sentAt === null) return { ok: true, timestamp: at }
  const sent = epochMs(sentAt)
  if (sent === undefined) return { ok: false, issue: { path: sentAtPath, message: NOT_A_TIME } }
  return { ok: true, timestamp: at - sent + receivedAt }
}

const NOT_A_TIME =
  'must be an RFC 3339 date-time (e.g. 2026-11-26T10:00:00.123Z) or integer epoch milliseconds, from 1970 up to 2100'

// Every message of a batch is corrected with the batch's one `sentAt`: read it once, not per message.
let lastText: string | undefined
let lastMs: number | undefined

function epochMs(value: unknown): number | undefined {
  if (typeof value === 'string') {
    if (value !== lastText) {
      lastMs = parseRfc3339(value)
      lastText = value
    }
    return lastMs
  }
  if (typeof value === 'number' && Number.isInteger(value) && value >= 0) return value
  return undefined
}

export function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value)
}

/** An optional string field: undefined when absent or null, an issue when of another JSON type. */
export function optionalString(
  message: Record<string, unknown>,
  field: string,
  issues: Issue[],
): string | undefined {
  const value = message[field]
  if (value === undefined || value === null) return undefined
  if (typeof value === 'string') return value
  issues.push({ path: field, message: `must be a string, not ${jsonTypeOf(value)}` })
  return undefined
}

export function jsonTypeOf(value: unknown): string {
  if (value === null) return 'null'
  if (Array.isArray(value)) return 'an array'
  return typeof value === 'object' ? 'an object' : `a ${typeof value}`
}

/** The id a rejected message is answered with: its own, when it is one §1 would take. */
export function answerId(value: unknown): string | undefined {
  return typeof value === 'string' && value.length > 0 && value.length <= 128 ? value : undefined
}

/**
 * The event's `properties`: the message's own object (or a new one) with the SDK's part of the
 * message under `key`. The message was parsed from this request's body and is the mapping's to
 * change, so its object is extended in place, not copied: a copy made with spread syntax was
 * measured 2–3× slower to walk in validation (V8 keeps no enum cache for such objects).
 */
export function withSdkPart(
  properties: unknown,
  key: string,
  part: Record<string, unknown>,
): Record<string, unknown> {
  const extended = isObject(properties) ? properties : {}
  extended[key] = part
  return extended
}

/** `base` with `over`'s keys set on top, in a new object built key by key (see withSdkPart). */
export function merged(base: Record<string, unknown>, over: unknown): Record<string, unknown> {
  const result = without(base, NOTHING)
  if (isObject(over)) for (const key of Object.keys(over)) setOwnKey(result, key, over[key])
  return result
}

const NOTHING: ReadonlySet<string> = new Set()

/** The message's fields without `omit`, in the order sent: what the `$segment` / `$posthog` part keeps. */
export function without(
  message: Record<string, unknown>,
  omit: ReadonlySet<string>,
): Record<string, unknown> {
  const kept: Record<string, unknown> = {}
  for (const key of Object.keys(message)) if (!omit.has(key)) setOwnKey(kept, key, message[key])
  return kept
}
