import { ProtocolViolation } from './protocol.js'

/** What the client sends that the server answers, and what answers each. */
export type FrameKind = 'publish' | 'ping' | 'subscribe' | 'unsubscribe'

const ANSWER: Record<FrameKind, string> = {
  publish: 'ack',
  ping: 'pong',
  subscribe: 'subscribed',
  unsubscribe: 'unsubscribed',
}

export interface SentFrame<T> {
  readonly seq: number
  readonly kind: FrameKind
  readonly payload: T
}

/**
 * One connection's frames that await their answer, by `seq`. The server numbers every frame it
 * reads from 1 on each connection, and answers them in that order, each once: an `ack` (or
 * `error`) for a publish, a `pong` for a ping, and so on (API.md §4). An answer that breaks this —
 * a seq answered twice, out of order, never sent, or the wrong kind — is a ProtocolViolation, and
 * nothing is taken from the tracker for it, so no frame is ever settled twice.
 *
 * ```
 * sent 1 2 3        answer 1 → frame 1      answer 3 → violation (2 comes first)
 *                   answer 1 → violation (answered twice)
 * ```
 */
export interface FrameTracker<T> {
  /** Numbers the next frame and keeps it until its answer. */
  sent(kind: FrameKind, payload: T): number
  /**
   * The frame `seq` answers with `op`, taken from the tracker; throws a ProtocolViolation (and
   * takes nothing) when it is not the next one due, or when `check` throws for it.
   */
  answer(seq: number, op: string, check?: (frame: SentFrame<T>) => void): SentFrame<T>
  /** The frames still waiting, oldest first (for the re-send after the connection is lost). */
  unanswered(): SentFrame<T>[]
  readonly size: number
}

export function createFrameTracker<T>(): FrameTracker<T> {
  // A queue on an array with a moving head: answers take from the front in order, and shift()
  // on a long array would copy it each time.
  let frames: Array<SentFrame<T> | undefined> = []
  let head = 0
  let lastSeq = 0

  return {
    sent(kind, payload) {
      frames.push({ seq: ++lastSeq, kind, payload })
      return lastSeq
    },
    answer(seq, op, check) {
      const next = frames[head]
      if (next === undefined || seq < next.seq)
        throw new ProtocolViolation(
          seq > lastSeq ? `an answer to frame ${seq}, never sent` : `frame ${seq} answered twice`,
        )
      if (seq > next.seq)
        throw new ProtocolViolation(
          seq > lastSeq
            ? `an answer to frame ${seq}, never sent`
            : `frame ${seq} answered before frame ${next.seq}`,
        )
      if (op !== 'error' && op !== ANSWER[next.kind])
        throw new ProtocolViolation(`frame ${seq} (${next.kind}) answered with "${op}"`)
      check?.(next)
      frames[head++] = undefined
      if (head === frames.length) {
        frames = []
        head = 0
      } else if (head >= 1024 && head * 2 >= frames.length) {
        frames = frames.slice(head)
        head = 0
      }
      return next
    },
    unanswered() {
      return frames.slice(head) as SentFrame<T>[]
    },
    get size() {
      return frames.length - head
    },
  }
}
