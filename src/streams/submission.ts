import type { Transport } from './event.js'
import { toResult, type EventResult, type Outcome } from './outcome.js'

/**
 * One request or frame: its raw events, and the results as they settle. It calls `onSettled`
 * once, with every event's result in the order sent, when the last of them settles.
 *
 * Memory: a submission hands its raw events out once, to its envelopes, and keeps none, so that a
 * raw event (the object JSON.parse made) is garbage as soon as it is validated, not when the last
 * event of its frame settles: up to MAX_INFLIGHT_EVENTS events wait in storage's queues, and only
 * their normalized form is needed there. Whoever offers the array should not keep it either.
 */
export class Submission {
  readonly results: EventResult[]
  readonly size: number
  private pending: number
  private events: readonly unknown[] | undefined

  constructor(
    events: readonly unknown[],
    readonly transport: Transport,
    readonly receivedAt: number,
    private readonly onSettled: (results: EventResult[]) => void,
    private readonly onEventSettled: () => void = () => {},
  ) {
    this.events = events
    this.size = events.length
    this.results = new Array<EventResult>(events.length)
    this.pending = events.length
    if (this.pending === 0) onSettled(this.results)
  }

  /** The envelopes this submission explodes into: one per raw event. Called once; a second call has none. */
  envelopes(): RawEnvelope[] {
    const events = this.events ?? []
    this.events = undefined
    const out = new Array<RawEnvelope>(events.length)
    for (let i = 0; i < out.length; i++) out[i] = new RawEnvelope(this, i, events[i])
    return out
  }

  settle(index: number, id: string | undefined, outcome: Outcome): void {
    // A second settle of the same event would corrupt the count; it is a bug upstream, so ignore it loudly in tests.
    if (this.results[index] !== undefined) throw new Error(`event ${index} settled twice`)
    this.results[index] = toResult(index, id, outcome)
    this.onEventSettled()
    if (--this.pending === 0) this.onSettled(this.results)
  }
}

/** One raw event on its way through validation; it carries its own settle callback. */
export class RawEnvelope {
  constructor(
    readonly submission: Submission,
    readonly index: number,
    readonly raw: unknown,
  ) {}

  settle(outcome: Outcome, id?: string): void {
    this.submission.settle(this.index, id, outcome)
  }
}
