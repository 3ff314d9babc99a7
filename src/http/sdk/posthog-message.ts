import type { Issue } from '../../streams/outcome.js'
import {
  answerId,
  correctedTimestamp,
  eventTypeOf,
  isObject,
  jsonTypeOf,
  optionalString,
  withSdkPart,
  without,
  type BatchFrame,
  type MappedMessage,
} from './message-mapping.js'

/**
 * One PostHog message as an event (API.md §9): `uuid` → id; `event` → type (`$pageview` keeps its
 * `$`); `distinct_id` → userId (posthog-js sends it inside `properties`, which is read when the top
 * level has none; PostHog takes numbers there too); the `timestamp` corrected with `sent_at`;
 * `properties` → properties, with `"$posthog"` holding every other field as sent — except
 * `api_key`, a credential that has no place in stored events — and the batch's `sent_at` when the
 * message has none.
 */
export function posthogEvent(message: unknown, frame: BatchFrame): MappedMessage {
  if (!isObject(message))
    return fail(undefined, [
      { path: '', message: `a message must be a JSON object, not ${jsonTypeOf(message)}` },
    ])
  const issues: Issue[] = []
  const id = optionalString(message, 'uuid', issues)
  const name = optionalString(message, 'event', issues)
  let type: string | undefined
  if (name !== undefined) {
    type = eventTypeOf(name, true)
    if (type === '')
      issues.push({ path: 'event', message: 'has no letter, digit or _ . : / - to make a type of' })
  } else if (message.event === undefined || message.event === null)
    issues.push({ path: 'event', message: 'a message needs an event name' })
  const properties = message.properties
  if (properties !== undefined && properties !== null && !isObject(properties))
    issues.push({ path: 'properties', message: `must be an object, not ${jsonTypeOf(properties)}` })
  else if (isObject(properties) && Object.hasOwn(properties, '$posthog'))
    issues.push({ path: 'properties.$posthog', message: 'is reserved for the message itself' })
  const userId =
    message.distinct_id !== undefined && message.distinct_id !== null
      ? distinctId(message.distinct_id, 'distinct_id', issues)
      : isObject(properties)
        ? distinctId(properties.distinct_id, 'properties.distinct_id', issues)
        : undefined
  const time = correctedTimestamp(
    message.timestamp,
    'timestamp',
    message.sent_at ?? frame.sentAt,
    message.sent_at === undefined ? 'sent_at (of the batch)' : 'sent_at',
    frame.receivedAt,
  )
  if (!time.ok) issues.push(time.issue)
  if (issues.length > 0 || !time.ok) return fail(message.uuid, issues)

  const kept = without(message, OMIT)
  if (kept.sent_at === undefined && frame.sentAt !== undefined) kept.sent_at = frame.sentAt
  const event: Record<string, unknown> = {
    type,
    properties: withSdkPart(properties, '$posthog', kept),
  }
  if (id !== undefined) event.id = id
  if (time.timestamp !== undefined) event.timestamp = time.timestamp
  if (userId) event.userId = userId
  return { ok: true, event }
}

const OMIT = new Set(['uuid', 'properties', 'api_key'])

function distinctId(value: unknown, path: string, issues: Issue[]): string | undefined {
  if (value === undefined || value === null) return undefined
  if (typeof value === 'string') return value
  if (typeof value === 'number' && Number.isFinite(value)) return String(value)
  issues.push({ path, message: `must be a string or a number, not ${jsonTypeOf(value)}` })
  return undefined
}

function fail(uuid: unknown, issues: readonly Issue[]): MappedMessage {
  const id = answerId(uuid)
  return id === undefined ? { ok: false, issues } : { ok: false, id, issues }
}
