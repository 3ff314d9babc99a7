import type { Transport } from './event.js'
import { ACCEPTED, toResult, type EventResult, type Issue, type Outcome } from './outcome.js'
import { firstIssueOnly } from './properties.js'

/**
 * The issue text (paths and messages) one request or frame is answered with in full. A frame of a
 * thousand events, each with 20 issues of 256-character paths, was answered with 6.3 MB for 0.7 MB
 * sent; past this, each rejected event lists its first issue and how many more it had.
 */
export const ISSUE_CHARS_PER_SUBMISSION = 64 * 1024

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
  private abandoned = false
  /** the id of each event that passed validation: what `abandon` answers with */
  private ids: Array<string | undefined> | undefined
  /** what is left of ISSUE_CHARS_PER_SUBMISSION */
  private issueRoom = ISSUE_CHARS_PER_SUBMISSION

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

  /** The issues a rejected event of this submission is answered with: see ISSUE_CHARS_PER_SUBMISSION. */
  issuesToAnswer(issues: readonly Issue[]): readonly Issue[] {
    let chars = 0
    for (const issue of issues) chars += issue.path.length + issue.message.length
    if (chars <= this.issueRoom) {
      this.issueRoom -= chars
      return issues
    }
    this.issueRoom = 0
    return firstIssueOnly(issues)
  }

  /** Notes the id an event was validated with, so that even an abandoned event is answered with its id. */
  identify(index: number, id: string): void {
    this.ids ??= new Array<string | undefined>(this.size)
    this.ids[index] = id
  }

  /**
   * Notes that storage has taken an event's row (see `abandon`). Kept in the event's result slot,
   * which stays empty until it settles, rather than in a Set made for every frame.
   */
  committed(index: number): void {
    if (this.results[index] === undefined) this.results[index] = STORED
  }

  /** events not settled yet */
  get unsettled(): number {
    return this.pending
  }

  /**
   * Settles every event that has no result yet with `outcome`: the supervisor's answer for events
   * a chain that died still held — except those storage had already taken, which are `accepted`
   * (they are stored; answering `failed` would claim nothing was). Returns how many it settled. A
   * stage of the dead chain that settles one of them later (a promise it had started) is then
   * ignored, not an error.
   */
  abandon(outcome: Outcome): number {
    this.abandoned = true
    this.events = undefined
    let settled = 0
    for (let i = 0; i < this.results.length && this.pending > 0; i++) {
      const result = this.results[i]
      if (result !== undefined && result !== STORED) continue
      this.settle(i, this.ids?.[i], result === STORED ? ACCEPTED : outcome)
      settled++
    }
    return settled
  }

  settle(index: number, id: string | undefined, outcome: Outcome): void {
    const result = this.results[index]
    const settled = result !== undefined && result !== STORED
    if (this.abandoned && settled) return
    // A second settle of the same event would corrupt the count; it is a bug upstream, so ignore it loudly in tests.
    if (settled) throw new Error(`event ${index} settled twice`)
    this.results[index] = toResult(index, id, outcome)
    this.eventSettled()
    if (--this.pending === 0) this.allSettled(this.results)
  }

  /** One event has its result (a subclass may take this instead of the constructor's callback). */
  protected eventSettled(): void {
    this.onEventSettled()
  }

  /** Every event has its result (a subclass may take this instead of the constructor's callback). */
  protected allSettled(results: EventResult[]): void {
    this.onSettled(results)
  }
}

/** The mark of an event storage has taken and that has no result yet: never seen outside (see `committed`). */
const STORED: EventResult = Object.freeze({ index: -1, status: 'accepted' })

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
