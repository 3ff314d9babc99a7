import type { Issue } from '../../streams/outcome.js'
import {
  answerId,
  correctedTimestamp,
  eventTypeOf,
  isObject,
  jsonTypeOf,
  merged,
  optionalString,
  withSdkPart,
  without,
  type BatchFrame,
  type MappedMessage,
} from './message-mapping.js'

/** The six calls of Segment's spec; every other `type` is refused. */
export const SEGMENT_CALLS = ['track', 'identify', 'page', 'screen', 'group', 'alias'] as const
export type SegmentCall = (typeof SEGMENT_CALLS)[number]

/** Where each call keeps what becomes the event's `properties`; alias has none. */
const PROPERTIES_FIELD: Record<SegmentCall, 'properties' | 'traits' | undefined> = {
  track: 'properties',
  page: 'properties',
  screen: 'properties',
  identify: 'traits',
  group: 'traits',
  alias: undefined,
}

export interface SegmentFrame extends BatchFrame {
  /** the call a single-call path (`/v1/track`, `/v1/t`) implies when the message names none */
  readonly call?: SegmentCall
}

/**
 * One Segment / RudderStack message as an event (API.md §9): `messageId` → id; a track's `event`
 * → type, the other calls' name → type; `userId`, else `anonymousId` → userId; the clock-corrected
 * `timestamp` (else `originalTimestamp`); `properties` (track, page, screen) or `traits` (identify,
 * group) → properties, with `"$segment"` holding every other field as sent — except `writeKey`, a
 * credential that has no place in stored events — and the batch's `context` merged beneath the
 * message's own, and the batch's `sentAt` when the message has none.
 */
export function segmentEvent(message: unknown, frame: SegmentFrame): MappedMessage {
  if (!isObject(message))
    return fail(undefined, [
      { path: '', message: `a message must be a JSON object, not ${jsonTypeOf(message)}` },
    ])
  const issues: Issue[] = []
  const call = callOf(message, frame.call, issues)
  const id = optionalString(message, 'messageId', issues)
  const userId = optionalString(message, 'userId', issues)
  const anonymousId = optionalString(message, 'anonymousId', issues)

  const field = call === undefined ? undefined : PROPERTIES_FIELD[call]
  const properties = field === undefined ? undefined : message[field]
  if (properties !== undefined && properties !== null && !isObject(properties))
    issues.push({ path: field!, message: `must be an object, not ${jsonTypeOf(properties)}` })
  else if (isObject(properties) && Object.hasOwn(properties, '$segment'))
    issues.push({ path: `${field}.$segment`, message: 'is reserved for the message itself' })
  const context = message.context
  if (context !== undefined && context !== null && !isObject(context))
    issues.push({ path: 'context', message: `must be an object, not ${jsonTypeOf(context)}` })

  let type: string | undefined = call
  if (call === 'track') {
    // an event of another JSON type is an issue already
    const name = optionalString(message, 'event', issues)
    if (name !== undefined) {
      type = eventTypeOf(name, false)
      if (type === '') issues.push({ path: 'event', message: NO_TYPE })
    } else if (message.event === undefined || message.event === null)
      issues.push({ path: 'event', message: 'a track needs an event name' })
  }
  const sentAtPath = message.sentAt === undefined ? 'sentAt (of the batch)' : 'sentAt'
  const time = correctedTimestamp(
    message.timestamp ?? message.originalTimestamp,
    message.timestamp === undefined ? 'originalTimestamp' : 'timestamp',
    message.sentAt ?? frame.sentAt,
    sentAtPath,
    frame.receivedAt,
  )
  if (!time.ok) issues.push(time.issue)
  if (issues.length > 0 || !time.ok) return fail(message.messageId, issues)

  const kept = without(message, field === undefined ? OMIT : OMIT_WITH[field])
  if (isObject(frame.context)) kept.context = merged(frame.context, context)
  if (kept.sentAt === undefined && frame.sentAt !== undefined) kept.sentAt = frame.sentAt

  const event: Record<string, unknown> = {
    type,
    properties: withSdkPart(properties, '$segment', kept),
  }
  if (id !== undefined) event.id = id
  if (time.timestamp !== undefined) event.timestamp = time.timestamp
  const user = userId || anonymousId
  if (user) event.userId = user
  return { ok: true, event }
}

const NO_TYPE = 'has no letter, digit or _ . : / - to make a type of'
const OMIT = new Set(['messageId', 'writeKey'])
const OMIT_WITH = {
  properties: new Set([...OMIT, 'properties']),
  traits: new Set([...OMIT, 'traits']),
}

function callOf(
  message: Record<string, unknown>,
  implied: SegmentCall | undefined,
  issues: Issue[],
): SegmentCall | undefined {
  const sent = message.type
  if (sent === undefined && implied !== undefined) return implied
  if (typeof sent === 'string' && (SEGMENT_CALLS as readonly string[]).includes(sent)) {
    if (implied === undefined || sent === implied) return sent as SegmentCall
    issues.push({ path: 'type', message: `is ${sent}, but this path takes ${implied} calls` })
    return undefined
  }
  issues.push({
    path: 'type',
    message: `must be one of ${SEGMENT_CALLS.join(', ')}${sent === undefined ? '' : `, not ${typeof sent === 'string' ? JSON.stringify(sent.slice(0, 64)) : jsonTypeOf(sent)}`}`,
  })
  return undefined
}

function fail(messageId: unknown, issues: readonly Issue[]): MappedMessage {
  const id = answerId(messageId)
  return id === undefined ? { ok: false, issues } : { ok: false, id, issues }
}
