/**
 * The server's messages (API.md §4), read defensively: a server that sends garbage must not crash
 * the client, so every message is checked for the fields the client relies on before any is used.
 */

/** An issue the server found with an event (API.md §1: dotted path, message). */
export interface Issue {
  readonly path: string
  readonly message: string
}

/** What an event became (API.md §2), as the server says it. */
export interface WireResult {
  readonly index: number
  readonly id?: string
  readonly status: 'accepted' | 'duplicate' | 'rejected' | 'failed'
  readonly conflict?: true
  readonly errors?: readonly Issue[]
}

/** An event as the server accepted it, delivered to subscribers: with its id and `receivedAt`. */
export interface AcceptedEvent {
  readonly id: string
  readonly type: string
  readonly timestamp: string
  readonly receivedAt: string
  readonly source?: string
  readonly userId?: string
  readonly sessionId?: string
  readonly properties?: Record<string, unknown>
}

export type ServerMessage =
  | { readonly op: 'welcome'; readonly maxFrameBytes: number; readonly maxEventsPerFrame: number }
  | { readonly op: 'ack'; readonly seq: number; readonly results: readonly WireResult[] }
  | { readonly op: 'error'; readonly seq: number; readonly code: string; readonly message: string }
  /** an error not answering a frame: `subscriber_too_slow` */
  | { readonly op: 'notice'; readonly code: string; readonly message: string }
  | { readonly op: 'pong' | 'subscribed' | 'unsubscribed'; readonly seq: number }
  | { readonly op: 'event'; readonly event: AcceptedEvent }
  /** an op this client does not know (a newer server): ignored */
  | { readonly op: 'unknown' }

/** A message that breaks the protocol; the client drops the connection and re-sends. */
export class ProtocolViolation extends Error {
  override readonly name = 'ProtocolViolation'
}

const STATUSES = new Set(['accepted', 'duplicate', 'rejected', 'failed'])

/** Reads one message; throws a ProtocolViolation naming what is wrong with it. */
export function readServerMessage(data: unknown): ServerMessage {
  if (typeof data !== 'string') throw new ProtocolViolation('a binary message')
  let value: unknown
  try {
    value = JSON.parse(data)
  } catch {
    throw new ProtocolViolation(`a message that is not JSON: ${excerpt(data)}`)
  }
  if (!isObject(value) || typeof value.op !== 'string')
    throw new ProtocolViolation(`a message without "op": ${excerpt(data)}`)
  const { op } = value
  switch (op) {
    case 'welcome':
      return {
        op,
        maxFrameBytes: positive(value.maxFrameBytes, 'welcome.maxFrameBytes'),
        maxEventsPerFrame: positive(value.maxEventsPerFrame, 'welcome.maxEventsPerFrame'),
      }
    case 'ack': {
      const seq = positive(value.seq, 'ack.seq')
      if (!Array.isArray(value.results) || !value.results.every(isResult))
        throw new ProtocolViolation(`the ack of frame ${seq} has no well-formed "results"`)
      return { op, seq, results: value.results }
    }
    case 'error': {
      const code = typeof value.code === 'string' ? value.code : 'unknown'
      const message = typeof value.message === 'string' ? value.message : ''
      if (value.seq === undefined) return { op: 'notice', code, message }
      return { op, seq: positive(value.seq, 'error.seq'), code, message }
    }
    case 'pong':
    case 'subscribed':
    case 'unsubscribed':
      return { op, seq: positive(value.seq, `${op}.seq`) }
    case 'event':
      if (!isObject(value.event) || typeof value.event.type !== 'string')
        throw new ProtocolViolation('an event message without an event')
      return { op, event: value.event as unknown as AcceptedEvent }
    default:
      return { op: 'unknown' }
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

function isResult(value: unknown): value is WireResult {
  return (
    isObject(value) &&
    typeof value.status === 'string' &&
    STATUSES.has(value.status) &&
    (value.id === undefined || typeof value.id === 'string') &&
    (value.status !== 'rejected' || Array.isArray(value.errors))
  )
}

function positive(value: unknown, what: string): number {
  if (typeof value === 'number' && Number.isSafeInteger(value) && value > 0) return value
  throw new ProtocolViolation(`${what} is not a positive integer`)
}

const excerpt = (text: string) => JSON.stringify(text.length > 80 ? `${text.slice(0, 80)}…` : text)
