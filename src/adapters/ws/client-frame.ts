import { parseJsonText } from '../../wire/json-text.js'
import { quote, quoteList } from '../../streams/quote.js'
import { compilePatterns, patternError, type TypeMatcher } from '../../streams/type-patterns.js'
import type { WsErrorCode } from './ws-telemetry.js'

/** A client frame, read (API.md §4). The events themselves are validated by the pipeline, not here. */
export type ClientFrame =
  | { readonly kind: 'publish'; readonly events: readonly unknown[]; readonly ref?: string }
  | { readonly kind: 'subscribe'; readonly types: readonly string[]; readonly matches: TypeMatcher }
  | { readonly kind: 'unsubscribe' }
  | { readonly kind: 'ping' }
  | {
      readonly kind: 'unusable'
      readonly code: Exclude<WsErrorCode, 'subscriber_too_slow'>
      readonly message: string
    }

export interface FrameLimits {
  readonly maxEventsPerFrame: number
  readonly maxSubscriptionTypes: number
}

const REF_MAX_CHARS = 128
const OP_KEYS: Record<string, readonly string[]> = {
  publish: ['op', 'ref', 'events'],
  subscribe: ['op', 'types'],
  unsubscribe: ['op'],
  ping: ['op'],
}

const unusable = (
  code: Exclude<WsErrorCode, 'subscriber_too_slow'>,
  message: string,
): ClientFrame => ({ kind: 'unusable', code, message })

/**
 * Reads one client frame. An object without `op` is a bare event and an array a bare publish: an
 * event may not carry an `op` key (unknown keys are rejected, API.md §1), so the two never clash.
 * A control frame is strict about its keys, like the event and the REST batch envelope.
 */
export function parseClientFrame(
  data: Buffer,
  isBinary: boolean,
  limits: FrameLimits,
): ClientFrame {
  if (isBinary)
    return unusable('invalid_frame', 'binary frames are not read; send JSON as a text frame')
  // ws has refused a text frame that is not UTF-8 already (1007).
  const parsed = parseJsonText(data, { checkUtf8: false })
  if (!parsed.ok) return unusable('invalid_json', parsed.message)
  const { value } = parsed
  if (Array.isArray(value)) return publish(value, undefined, limits)
  if (value === null || typeof value !== 'object')
    return unusable(
      'invalid_frame',
      'a frame must be an event object, an array of events, or an object with "op"',
    )
  if (!('op' in value)) return publish([value], undefined, limits)
  return control(value, limits)
}

function control(frame: Record<string, unknown>, limits: FrameLimits): ClientFrame {
  const { op } = frame
  const allowed = typeof op === 'string' && Object.hasOwn(OP_KEYS, op) ? OP_KEYS[op]! : undefined
  if (allowed === undefined)
    return unusable(
      'invalid_frame',
      `unknown op ${quote(op)}; expected publish, subscribe, unsubscribe or ping`,
    )
  const extra = Object.keys(frame).filter((key) => !allowed.includes(key))
  if (extra.length > 0)
    return unusable(
      'invalid_frame',
      `unknown key${extra.length > 1 ? 's' : ''} ${quoteList(extra)} in a ${String(op)} frame`,
    )
  switch (op) {
    case 'publish': {
      const { ref, events } = frame
      if (ref !== undefined && (typeof ref !== 'string' || ref.length > REF_MAX_CHARS))
        return unusable(
          'invalid_frame',
          `"ref" must be a string of at most ${REF_MAX_CHARS} characters`,
        )
      if (!Array.isArray(events))
        return unusable('invalid_frame', '"events" must be an array of events')
      return publish(events, ref, limits)
    }
    case 'subscribe':
      return subscribe(frame.types, limits)
    case 'unsubscribe':
      return { kind: 'unsubscribe' }
    default:
      return { kind: 'ping' }
  }
}

function publish(events: unknown[], ref: string | undefined, limits: FrameLimits): ClientFrame {
  if (events.length === 0) return unusable('invalid_frame', 'a publish needs at least one event')
  if (events.length > limits.maxEventsPerFrame) {
    return unusable(
      'too_many_events',
      `a frame holds at most ${limits.maxEventsPerFrame} events; this one has ${events.length}`,
    )
  }
  return ref === undefined ? { kind: 'publish', events } : { kind: 'publish', events, ref }
}

function subscribe(types: unknown, limits: FrameLimits): ClientFrame {
  if (!Array.isArray(types) || types.length === 0)
    return unusable(
      'invalid_frame',
      '"types" must be a non-empty array of event types or patterns ("checkout.*", "*")',
    )
  if (types.length > limits.maxSubscriptionTypes)
    return unusable(
      'invalid_frame',
      `a subscription takes at most ${limits.maxSubscriptionTypes} types`,
    )
  for (const [index, pattern] of types.entries()) {
    const problem = patternError(pattern)
    if (problem !== undefined) return unusable('invalid_frame', `types.${index} ${problem}`)
  }
  const unique = [...new Set(types as string[])]
  return { kind: 'subscribe', types: unique, matches: compilePatterns(unique) }
}
