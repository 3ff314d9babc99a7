import type { EventResult } from '../../streams/outcome.js'
import type { Pipeline } from '../../streams/pipeline.js'

/** What a frame's ack needs: its number, its ref and the slot the ack goes into. */
export interface FrameAck {
  readonly seq: number
  readonly ref: string | undefined
  readonly reply: (text: string) => void
}

/** A publish frame read from the socket. */
export interface PublishFrame extends FrameAck {
  readonly events: readonly unknown[]
  /** the frame's length in bytes, which admission charges its events by (MAX_INFLIGHT_BYTES) */
  readonly bytes: number
}

export interface PublishQueueOptions {
  readonly pipeline: Pipeline
  /** WS_MAX_INFLIGHT_PER_CONNECTION: the connection's events in the pipeline never pass it */
  readonly cap: number
  /** a frame's events all settled (the queue has already counted them out) */
  readonly onSettled: (frame: FrameAck, results: EventResult[]) => void
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
 * its own frames settles) and admission takes it (room comes when anybody's events settle). A
 * frame whose bytes alone pass MAX_INFLIGHT_BYTES is taken once nothing else is in flight
 * (admission.ts), so it too is never refused for good.
 *
 * ```
 * cap 50, frames of 20:   push A B C   → A, B submitted (40); C waits (60 > 50)
 *                         A settles    → C submitted (40)
 * ```
 */
export function createPublishQueue(options: PublishQueueOptions): PublishQueue {
  return new FramePublishQueue(options)
}

// A class for the same reason as the mailbox: one per connection, its methods shared on the prototype.
class FramePublishQueue implements PublishQueue {
  private readonly waiting: PublishFrame[] = []
  private inflight = 0
  private closed = false
  private pumping = false
  private pumpAgain = false

  constructor(private readonly options: PublishQueueOptions) {}

  push(frame: PublishFrame): void {
    this.waiting.push(frame)
    this.pump()
  }

  pump(): void {
    // offer() may settle a frame synchronously (all its events rejected), which pumps again from
    // inside this loop: note it, and loop once more instead of re-entering.
    if (this.pumping) {
      this.pumpAgain = true
      return
    }
    this.pumping = true
    try {
      do {
        this.pumpAgain = false
        this.submitWhatFits()
      } while (this.pumpAgain)
    } finally {
      this.pumping = false
    }
    this.options.afterPump()
  }

  get inflightEvents(): number {
    return this.inflight
  }

  get heldFrames(): number {
    return this.waiting.length
  }

  close(): void {
    this.closed = true
    this.waiting.length = 0
  }

  private submitWhatFits(): void {
    const { waiting, options } = this
    while (waiting.length > 0 && !this.closed) {
      const frame = waiting[0]!
      const count = frame.events.length
      if (this.inflight + count > options.cap) break
      waiting.shift()
      this.inflight += count
      // The settle callback keeps the ack's fields, not the frame: the frame's events are the pipeline's to free.
      const ack: FrameAck = { seq: frame.seq, ref: frame.ref, reply: frame.reply }
      if (
        !options.pipeline.offer(
          frame.events,
          'ws',
          (results) => this.settled(ack, count, results),
          frame.bytes,
        )
      ) {
        this.inflight -= count
        waiting.unshift(frame)
        options.onRefused()
        break
      }
    }
  }

  private settled(ack: FrameAck, count: number, results: EventResult[]): void {
    this.inflight -= count
    this.options.onSettled(ack, results)
    this.pump()
  }
}
