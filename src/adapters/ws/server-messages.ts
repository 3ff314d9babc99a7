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

/**
 * The same text as `serialize` gives the ack, written out: an ack goes out for every publish frame,
 * and JSON.stringify of its object and its results cost about twice as much (with one event per
 * frame, ~0.6 µs of the frame's CPU). A result of another shape than {index, id, status} (a
 * conflict, errors, no id) is left to JSON.stringify.
 */
export function ack(seq: number, ref: string | undefined, results: readonly EventResult[]): string {
  let text =
    ref === undefined
      ? `{"op":"ack","seq":${seq},"results":[`
      : `{"op":"ack","seq":${seq},"ref":${JSON.stringify(ref)},"results":[`
  for (let i = 0; i < results.length; i++) {
    const result = results[i]!
    if (i > 0) text += ','
    text +=
      result.id !== undefined && result.conflict === undefined && result.errors === undefined
        ? `{"index":${result.index},"id":${JSON.stringify(result.id)},"status":"${result.status}"}`
        : JSON.stringify(result)
  }
  return `${text}]}`
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
