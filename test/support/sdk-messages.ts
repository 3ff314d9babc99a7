import { randomUUID } from 'node:crypto'
import type { PostHogCall, SegmentCall, SegmentCallType, SegmentFamilySdk } from './sdk-clients.js'

/**
 * What the SDK tests send, and what API.md §9 says each message becomes once stored. Every id and
 * user id carries the run's prefix, so a run reads back its own messages only.
 */

export const SEGMENT_CALL_TYPES: readonly SegmentCallType[] = [
  'track',
  'identify',
  'page',
  'screen',
  'group',
  'alias',
]

/** A track's `event` with a space: §9 maps it to the type `Order_Completed`. */
export const TRACK_EVENT = 'Order Completed'
export const TRACK_TYPE = 'Order_Completed'

/** `perType` messages of each of the six calls, interleaved as an application would make them. */
export function segmentCalls(run: string, perType: number): SegmentCall[] {
  const calls: SegmentCall[] = []
  for (let i = 0; i < perType; i++)
    for (const type of SEGMENT_CALL_TYPES) calls.push(segmentCall(run, type, i))
  return calls
}

export function segmentCall(run: string, type: SegmentCallType, i: number): SegmentCall {
  const messageId = `${run}-${type}-${i}`
  const userId = `${run}-user-${i}`
  const anonymousId = `${run}-anon-${i}`
  switch (type) {
    case 'track':
      return {
        type,
        message: {
          messageId,
          userId,
          event: TRACK_EVENT,
          properties: { index: i, revenue: 19.99, items: [{ sku: `sku-${i}`, quantity: 2 }] },
        },
      }
    case 'identify':
      return { type, message: { messageId, userId, traits: { email: `${i}@example.com` } } }
    case 'page':
      // anonymous: §9 takes `anonymousId` as the user id when there is no `userId`
      return {
        type,
        message: {
          messageId,
          anonymousId,
          category: 'Docs',
          name: 'Pricing',
          properties: { path: `/pricing/${i}` },
        },
      }
    case 'screen':
      return { type, message: { messageId, userId, name: 'Settings', properties: { tab: i } } }
    case 'group':
      return { type, message: { messageId, userId, groupId: `${run}-group`, traits: { seats: i } } }
    case 'alias':
      return { type, message: { messageId, userId, previousId: anonymousId } }
  }
}

/** The stored type of a Segment message (§9). */
export const segmentType = (call: SegmentCall) => (call.type === 'track' ? TRACK_TYPE : call.type)

/** The fields of a message that §9 keeps under `properties.$segment` and a test can predict. */
const SEGMENT_KEPT = ['event', 'anonymousId', 'userId', 'name', 'category', 'groupId', 'previousId']

/**
 * A stored event reduced to what §9 fixes for a Segment message, so that a list of them compares
 * with `toEqual` and a mismatch shows the message it concerns.
 */
export function segmentView(event: StoredEvent) {
  const { $segment, ...properties } = event.properties as Record<string, any>
  return {
    id: event.id,
    type: event.type,
    userId: event.userId,
    source: event.source,
    properties,
    segment: {
      type: $segment?.type,
      library: $segment?.context?.library?.name,
      ...Object.fromEntries(SEGMENT_KEPT.map((key) => [key, $segment?.[key]])),
    },
  }
}

/** What `segmentView` of the stored event must be for a message sent with a key named `source`. */
export function expectedSegmentView(call: SegmentCall, source: string, sdk: SegmentFamilySdk) {
  const { message } = call
  const properties = (
    call.type === 'identify' || call.type === 'group' ? message.traits : (message.properties ?? {})
  ) as Record<string, unknown>
  const sent =
    call.type === 'page' && sdk.pageCategoryInProperties
      ? { ...properties, category: message.category }
      : properties
  return {
    id: message.messageId,
    type: segmentType(call),
    userId: message.userId ?? message.anonymousId,
    source,
    properties: sent,
    segment: {
      type: call.type,
      library: sdk.library,
      ...Object.fromEntries(SEGMENT_KEPT.map((key) => [key, message[key]])),
    },
  }
}

/** An event as GET /v1/events returns it (§1 plus `receivedAt`). */
export interface StoredEvent {
  readonly id: string
  readonly type: string
  readonly timestamp: string
  readonly receivedAt: string
  readonly source?: string
  readonly userId?: string
  readonly properties?: Record<string, unknown>
}

/** PostHog's calls, `perType` of each; captures carry a `uuid` of the test's, the others get the SDK's. */
export function postHogCalls(run: string, perType: number): PostHogCall[] {
  const calls: PostHogCall[] = []
  for (let i = 0; i < perType; i++) {
    calls.push(
      {
        type: 'capture',
        message: {
          distinctId: `${run}-capture-${i}`,
          event: TRACK_EVENT,
          uuid: randomUUID(),
          properties: { index: i, revenue: 19.99 },
        },
      },
      {
        type: 'capture',
        message: {
          distinctId: `${run}-pageview-${i}`,
          event: '$pageview',
          uuid: randomUUID(),
          properties: { $current_url: `https://example.com/${i}` },
        },
      },
      {
        type: 'identify',
        message: { distinctId: `${run}-identify-${i}`, properties: { email: `${i}@example.com` } },
      },
      { type: 'alias', message: { distinctId: `${run}-alias-${i}`, alias: `${run}-other-${i}` } },
      {
        type: 'groupIdentify',
        message: { groupType: 'company', groupKey: `${run}-group-${i}`, properties: { seats: i } },
      },
    )
  }
  return calls
}

/** The stored type of each PostHog call: `capture`'s own event, the others' `$` events. */
export function postHogType(call: PostHogCall): string {
  if (call.type === 'capture') return call.message.event === TRACK_EVENT ? TRACK_TYPE : '$pageview'
  return { identify: '$identify', alias: '$create_alias', groupIdentify: '$groupidentify' }[
    call.type
  ]
}

/** The PostHog `distinct_id` of a call: the user id §9 stores. */
export function postHogDistinctId(call: PostHogCall): string {
  if (call.type === 'groupIdentify')
    return `$${call.message.groupType}_${String(call.message.groupKey)}`
  return call.message.distinctId!
}

/** The properties §9 keeps for a PostHog call: the SDK's own (`$lib` among them) and the test's. */
function postHogProperties(call: PostHogCall): Record<string, unknown> {
  const lib = { $lib: 'posthog-node' }
  switch (call.type) {
    case 'capture':
      return { ...call.message.properties, ...lib }
    case 'identify':
      return { $set: call.message.properties, ...lib }
    case 'alias':
      return { alias: call.message.alias, ...lib }
    case 'groupIdentify':
      return {
        $group_type: call.message.groupType,
        $group_key: call.message.groupKey,
        $group_set: call.message.properties,
        ...lib,
      }
  }
}

/** A stored event reduced to what §9 fixes for the PostHog call it is compared with. */
export function postHogView(event: StoredEvent, call: PostHogCall) {
  const properties = event.properties ?? {}
  const expected = postHogProperties(call)
  return {
    type: event.type,
    userId: event.userId,
    source: event.source,
    ...(call.type === 'capture' ? { id: event.id } : {}),
    properties: Object.fromEntries(Object.keys(expected).map((key) => [key, properties[key]])),
    posthog: typeof properties.$posthog,
  }
}

export function expectedPostHogView(call: PostHogCall, source: string) {
  return {
    type: postHogType(call),
    userId: postHogDistinctId(call),
    source,
    ...(call.type === 'capture' ? { id: call.message.uuid } : {}),
    properties: postHogProperties(call),
    posthog: 'object',
  }
}
