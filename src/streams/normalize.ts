import { hash } from 'node:crypto'
import { z } from 'zod'
import { v7 as uuidv7 } from 'uuid'
import {
  EventSchema,
  eventWith,
  parseRfc3339,
  type AcceptedEvent,
  type EventFields,
  type Transport,
} from './event.js'
import {
  boundedIssues,
  boundedPath,
  canonicalJson,
  checkProperties,
  MAX_ISSUES,
  type LeftOut,
} from './properties.js'
import { certainlyValidEvent } from './event-fast-path.js'
import { quote } from './quote.js'
import type { Issue } from './outcome.js'

export type Normalized =
  | {
      readonly ok: true
      readonly event: AcceptedEvent
      readonly fingerprint: string
      readonly propertiesText: string | undefined
    }
  | { readonly ok: false; readonly errors: readonly Issue[] }

/**
 * A valid event in parts: its fields, and its properties both as sent (`properties`) and as
 * canonical JSON (`propertiesText`), which is what storage keeps. The pipeline keeps only the text
 * while the event waits for storage (see validate.ts).
 */
export type NormalizedParts =
  | {
      readonly ok: true
      readonly fields: EventFields
      readonly properties: Record<string, unknown> | undefined
      readonly fingerprint: string
      readonly propertiesText: string | undefined
    }
  | { readonly ok: false; readonly errors: readonly Issue[] }

export interface NormalizeContext {
  readonly transport: Transport
  readonly receivedAt: number
  /** Assigns ids to events sent without one (UUIDv7 by default). */
  readonly newId?: () => string
}

// The same schema, compiled ahead of time by zod into straight-line code (about 4× faster here); an
// event that fails it is parsed again by the runtime parser, so errors are the schema's own.
const CompiledEventSchema = z.compile(EventSchema)

/** Validates one raw event against API.md §1 and turns it into the event as it will be stored. */
export function normalize(raw: unknown, context: NormalizeContext): Normalized {
  const parts = normalizeParts(raw, context)
  if (!parts.ok) return parts
  return {
    ok: true,
    event: eventWith(parts.fields, parts.properties),
    fingerprint: parts.fingerprint,
    propertiesText: parts.propertiesText,
  }
}

/** `normalize`, with the event's fields and properties apart. */
export function normalizeParts(raw: unknown, context: NormalizeContext): NormalizedParts {
  // The schema transforms nothing, so a valid event is used as sent: no copy of it is made.
  const valid = certainlyValidEvent(raw) || z.validate(CompiledEventSchema, raw)
  const properties =
    isObject(raw) && isObject(raw.properties)
      ? checkProperties(raw.properties, 'properties', sdkMessageOf(raw.properties))
      : undefined
  if (!valid || (properties !== undefined && !properties.ok)) {
    const parsed = valid ? undefined : EventSchema.safeParse(raw)
    const errors: Issue[] = parsed?.error ? parsed.error.issues.flatMap(toIssues) : []
    let omitted = 0
    if (properties !== undefined && !properties.ok) {
      errors.push(...properties.issues)
      omitted = properties.omitted ?? 0
    }
    return { ok: false, errors: boundedIssues(errors, omitted) }
  }
  // z.validate narrowed raw to the event's input type
  const input = raw
  const sentTimestamp =
    input.timestamp === undefined
      ? undefined
      : typeof input.timestamp === 'number'
        ? input.timestamp
        : parseRfc3339(input.timestamp)!
  // Every key in one literal, absent ones undefined: one object with its fields inside it. Keys
  // added one by one made V8 give every event's fields a second object (a property array), and
  // these fields wait for storage with up to MAX_INFLIGHT_EVENTS others. Readers get events from
  // eventWith, which leaves absent keys out.
  const fields: EventFields = {
    id: input.id ?? (context.newId ?? uuidv7)(),
    type: input.type,
    timestamp: sentTimestamp ?? context.receivedAt,
    receivedAt: context.receivedAt,
    // An empty string is no value: ClickHouse stores both as '', so a reader of storage could never
    // tell them apart, and the event as accepted is the event as stored (and as re-sent).
    source: input.source || undefined,
    userId: input.userId || undefined,
    sessionId: input.sessionId || undefined,
    transport: context.transport,
  }
  return {
    ok: true,
    fields,
    properties: input.properties,
    fingerprint: digest(fields, input.properties, sentTimestamp, properties),
    propertiesText: properties?.text,
  }
}

/**
 * A digest of what the client said about the event: a re-send of the same event has the same one
 * even when its default timestamp (receive time) or transport differ, and key order does not matter.
 * `canonical`: the canonical JSON of the properties (and without an SDK message's sending time) when
 * the caller has it already.
 */
export function fingerprint(
  event: AcceptedEvent,
  sentTimestamp: number | undefined,
  canonical?: Canonical,
): string {
  return digest(event, event.properties, sentTimestamp, canonical)
}

interface Canonical {
  readonly text: string
  readonly textLeavingOut?: string
}

function digest(
  event: EventFields,
  eventProperties: Record<string, unknown> | undefined,
  sentTimestamp: number | undefined,
  canonical?: Canonical,
): string {
  const sdk = eventProperties === undefined ? undefined : sdkMessageOf(eventProperties)
  const head = JSON.stringify([
    event.id,
    event.type,
    sdk === undefined ? (sentTimestamp ?? null) : null,
    event.source ?? null,
    event.userId ?? null,
    event.sessionId ?? null,
  ])
  const properties =
    sdk !== undefined
      ? (canonical?.textLeavingOut ?? canonicalJson(withoutSendingTime(eventProperties!, sdk)))
      : (canonical?.text ??
        (eventProperties === undefined ? 'null' : canonicalJson(eventProperties)))
  // The canonical JSON of the whole 7-element array, as earlier versions digested it.
  return hash('sha1', `${head.slice(0, -1)},${properties}]`, 'base64url')
}

/** Where an analytics SDK's message is kept in properties (API.md §9), and the field of its sending time. */
const SDK_MESSAGES: readonly LeftOut[] = [
  { key: '$segment', member: 'sentAt' },
  { key: '$posthog', member: 'sent_at' },
]

/**
 * An analytics SDK sends a message again (after a timeout, a 503, a crash of ours) with a new
 * `sentAt`, and so a new clock-skew-corrected timestamp (API.md §9): neither is part of what the
 * client said about the event. For a message kept under `$segment` / `$posthog`, the properties
 * without its sending time — and no top-level timestamp, which the message's own `timestamp` in
 * there replaces — are what its fingerprint digests, so the SDK's retry is a plain duplicate, not a
 * conflict. Undefined for any other event (most of them: two property lookups each). Read from the
 * event alone, so a fingerprint re-made from storage (`storedFingerprint`) is the same.
 */
function sdkMessageOf(properties: Record<string, unknown>): LeftOut | undefined {
  for (const sdk of SDK_MESSAGES) if (isObject(properties[sdk.key])) return sdk
  return undefined
}

function withoutSendingTime(
  properties: Record<string, unknown>,
  { key, member }: LeftOut,
): Record<string, unknown> {
  const { [member]: _sentAt, ...rest } = properties[key] as Record<string, unknown>
  return { ...properties, [key]: rest }
}

/**
 * The fingerprint of an event read back from storage, which keeps no sign of whether its timestamp
 * was sent: one equal to the receive time to the millisecond is taken as the receive-time default.
 * Storage keeps what the pipeline stored, so with user transforms this is not what the client said.
 */
export function storedFingerprint(event: AcceptedEvent): string {
  return fingerprint(event, event.timestamp === event.receivedAt ? undefined : event.timestamp)
}

/** Zod's issues as API.md's: dotted paths, and one issue per unknown key with the key as its path. */
function toIssues(issue: z.core.$ZodIssue): Issue[] {
  const path = issue.path.join('.')
  if (issue.code === 'unrecognized_keys') {
    // Only as many as an answer can hold: the rest are counted by boundedIssues all the same.
    return issue.keys.map((key, i) =>
      i > MAX_ISSUES
        ? UNKNOWN_KEY
        : {
            path: boundedPath(path === '' ? key : `${path}.${key}`),
            message: `unknown key ${quote(key)}`,
          },
    )
  }
  return [{ path: boundedPath(path), message: issue.message }]
}

const UNKNOWN_KEY: Issue = { path: '', message: 'unknown key' }

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value)
}
