import type { EventResult } from '../../streams/outcome.js'
import type { Pipeline } from '../../streams/pipeline.js'

/** A publish frame read from the socket, with the slot its ack goes into. */
export interface PublishFrame {
  readonly seq: number
  readonly ref: string | undefined
  readonly events: readonly unknown[]
  readonly reply: (text: string) => void
}

export interface PublishQueueOptions {
  readonly pipeline: Pipeline
  /** WS_MAX_INFLIGHT_PER_CONNECTION: the connection's events in the pipeline never pass it */
  readonly cap: number
  /** a frame's events all settled (the queue has already counted them out) */
  readonly onSettled: (frame: PublishFrame, results: EventResult[]) => void
  /** admission refused the next frame: it stays at the head until `pump()` is called again */
  readonly onRefused: () => void
  /** after every pump: the connection re-decides reading and closing */
  readonly afterPump: () => void
}

export interface PublishQueue {
  /** Queues a frame behind the ones already waiting, and submits what fits. */
  push(frame: PublishFrame): void
  /** Submits waiting frames, in order, while they fit under the cap and admission takes them. */
  pump(): void
  readonly inflightEvents: number
  readonly heldFrames: number
  /** Forgets waiting frames and submits nothing more (the connection is gone); frames in flight still settle. */
  close(): void
}

/**
 * One connection's publish frames on their way into the pipeline, strictly in frame order: a frame
 * that does not fit waits, and every frame behind it waits too. A frame is never split, dropped or
 * failed for pressure — it waits until it fits under the connection's cap (room comes when one of
 * its own frames settles) and admission takes it (room comes when anybody's events settle).
 *
 * ```
 * cap 50, frames of 20:   push A B C   → A, B submitted (40); C waits (60 > 50)
 *                         A settles    → C submitted (40)
 * ```
 */
export function createPublishQueue(options: PublishQueueOptions): PublishQueue {
  const { pipeline, cap } = options
  const waiting: PublishFrame[] = []
  let inflight = 0
  let closed = false
  let pumping = false
  let pumpAgain = false

  function pump(): void {
    // offer() may settle a frame synchronously (all its events rejected), which pumps again from
    // inside this loop: note it, and loop once more instead of re-entering.
    if (pumping) {
      pumpAgain = true
      return
    }
    pumping = true
    try {
      do {
        pumpAgain = false
        while (waiting.length > 0 && !closed) {
          const frame = waiting[0]!
          const count = frame.events.length
          if (inflight + count > cap) break
          waiting.shift()
          inflight += count
          if (!pipeline.offer(frame.events, 'ws', (results) => settled(frame, results))) {
            inflight -= count
            waiting.unshift(frame)
            options.onRefused()
            break
          }
        }
      } while (pumpAgain)
    } finally {
      pumping = false
    }
    options.afterPump()
  }

  function settled(frame: PublishFrame, results: EventResult[]): void {
    inflight -= frame.events.length
    options.onSettled(frame, results)
    pump()
  }

  return {
    push(frame) {
      waiting.push(frame)
      pump()
    },
    pump,
    get inflightEvents() {
      return inflight
    },
    get heldFrames() {
      return waiting.length
    },
    close() {
      closed = true
      waiting.length = 0
    },
  }
}
