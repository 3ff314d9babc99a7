import type { EventResult } from '../../streams/outcome.js'
import type { WsErrorCode } from './ws-telemetry.js'

/**
 * What the server sends (API.md §4), serialized once here so that every message has one shape.
 * Replies to a frame carry its `seq`; `welcome`, `event` and the `subscriber_too_slow` error are
 * not replies and carry none.
 */
export type ServerMessage =
  | { op: 'welcome'; connectionId: string; maxFrameBytes: number; maxEventsPerFrame: number }
  | { op: 'ack'; seq: number; ref?: string; results: readonly EventResult[] }
  | { op: 'error'; seq?: number; code: WsErrorCode; message: string }
  | { op: 'pong'; seq: number }
  | { op: 'subscribed'; seq: number; types: readonly string[] }
  | { op: 'unsubscribed'; seq: number }
  | { op: 'event'; event: Record<string, unknown> }

const serialize = (message: ServerMessage): string => JSON.stringify(message)

export function welcome(
  connectionId: string,
  maxFrameBytes: number,
  maxEventsPerFrame: number,
): string {
  return serialize({ op: 'welcome', connectionId, maxFrameBytes, maxEventsPerFrame })
}

export function ack(seq: number, ref: string | undefined, results: readonly EventResult[]): string {
  return serialize(
    ref === undefined ? { op: 'ack', seq, results } : { op: 'ack', seq, ref, results },
  )
}

export function errorReply(seq: number, code: WsErrorCode, message: string): string {
  return serialize({ op: 'error', seq, code, message })
}

export function pong(seq: number): string {
  return serialize({ op: 'pong', seq })
}

export function subscribed(seq: number, types: readonly string[]): string {
  return serialize({ op: 'subscribed', seq, types })
}

export function unsubscribed(seq: number): string {
  return serialize({ op: 'unsubscribed', seq })
}

export function eventMessage(event: Record<string, unknown>): string {
  return serialize({ op: 'event', event })
}

/** Sent, without a seq, to a subscriber dropped for reading too slowly; the connection stays open. */
export function subscriberTooSlow(maxBufferedBytes: number): string {
  return serialize({
    op: 'error',
    code: 'subscriber_too_slow',
    message: `unsubscribed: more than ${maxBufferedBytes} bytes of events were waiting to be sent; read faster and subscribe again`,
  })
}
