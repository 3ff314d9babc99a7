import { filter, map, type OperatorFunction } from 'rxjs'
import type { Envelope, SettleWatcher } from '../envelope.js'
import { eventWith, type AcceptedEvent, type EventFields } from '../event.js'
import { normalizeParts } from '../normalize.js'
import { rejected, type Outcome } from '../outcome.js'
import type { RawEnvelope, Submission } from '../submission.js'

export interface ValidateOptions {
  /** Assigns ids to events sent without one; UUIDv7 by default. Inject a counter in tests. */
  readonly newId?: () => string
}

/**
 * Checks each raw event against API.md §1. An invalid one is settled `rejected` at once, with
 * per-field error paths, and goes no further; a valid one goes on, normalized, as an Envelope.
 *
 * ```
 * raw:      --a--x--b--|      (x is invalid)
 * validate: --A-----B--|      (x settled rejected)
 * ```
 *
 * @example
 * submissions$.pipe(explode(), validate({ newId: () => `id-${n++}` }))
 */
export function validate(options: ValidateOptions = {}): OperatorFunction<RawEnvelope, Envelope> {
  return (source) =>
    source.pipe(
      map(function validateOne(raw): Envelope | undefined {
        const { submission } = raw
        const result = normalizeParts(raw.raw, {
          transport: submission.transport,
          receivedAt: submission.receivedAt,
          newId: options.newId,
        })
        if (result.ok)
          return new ValidEnvelope(
            result.fields,
            result.fingerprint,
            result.propertiesText,
            submission,
            raw.index,
          )
        raw.settle(rejected(submission.issuesToAnswer(result.errors)), sentId(raw.raw))
        return undefined
      }),
      filter((envelope): envelope is Envelope => envelope !== undefined),
    )
}

/**
 * Holds the submission, not the RawEnvelope: the raw event it carries is garbage once validated.
 *
 * Memory: it keeps the properties as their canonical JSON only, not the objects JSON.parse made of
 * them. An event waits here for storage for tens to hundreds of milliseconds, with up to
 * MAX_INFLIGHT_EVENTS others: long enough for the young generation's collections to copy whatever
 * it holds, once or twice, and promote it. The properties' objects were most of that (about 340 of
 * 810 bytes retained per bench event); as one string they cost the copy of one flat string. The
 * event with its properties is built only when something reads `event` — a transform, a route, a
 * subscriber — from the stored (canonical) form, once; the sink reads `fields` and the text.
 */
class ValidEnvelope implements Envelope {
  private built: AcceptedEvent | undefined
  private watcher: SettleWatcher | undefined = undefined

  constructor(
    readonly fields: EventFields,
    readonly fingerprint: string,
    readonly propertiesText: string | undefined,
    private readonly submission: Submission,
    private readonly index: number,
  ) {
    submission.identify(index, fields.id)
  }

  get id(): string {
    return this.fields.id
  }

  get event(): AcceptedEvent {
    return (this.built ??= eventWith(
      this.fields,
      this.propertiesText === undefined
        ? undefined
        : (JSON.parse(this.propertiesText) as Record<string, unknown>),
    ))
  }

  settle(outcome: Outcome): void {
    this.submission.settle(this.index, this.fields.id, outcome)
    const { watcher } = this
    if (watcher === undefined) return
    this.watcher = undefined
    watcher.settled(this, outcome)
  }

  watch(watcher: SettleWatcher): void {
    this.watcher = watcher
  }

  committed(): void {
    this.submission.committed(this.index)
  }
}

function sentId(raw: unknown): string | undefined {
  const id = raw !== null && typeof raw === 'object' ? (raw as { id?: unknown }).id : undefined
  return typeof id === 'string' && id.length > 0 && id.length <= 128 ? id : undefined
}
