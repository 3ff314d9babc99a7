import { filter, map, type OperatorFunction } from 'rxjs'
import type { Envelope } from '../envelope.js'
import type { AcceptedEvent } from '../event.js'
import { normalize } from '../normalize.js'
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
        const result = normalize(raw.raw, {
          transport: submission.transport,
          receivedAt: submission.receivedAt,
          newId: options.newId,
        })
        if (result.ok)
          return new ValidEnvelope(
            result.event,
            result.fingerprint,
            result.propertiesText,
            submission,
            raw.index,
          )
        raw.settle(rejected(result.errors), sentId(raw.raw))
        return undefined
      }),
      filter((envelope): envelope is Envelope => envelope !== undefined),
    )
}

// Holds the submission, not the RawEnvelope: the raw event it carries is garbage once validated.
class ValidEnvelope implements Envelope {
  constructor(
    readonly event: AcceptedEvent,
    readonly fingerprint: string,
    readonly propertiesText: string | undefined,
    private readonly submission: Submission,
    private readonly index: number,
  ) {
    submission.identify(index, event.id)
  }

  settle(outcome: Outcome): void {
    this.submission.settle(this.index, this.event.id, outcome)
  }

  committed(): void {
    this.submission.committed(this.index)
  }
}

function sentId(raw: unknown): string | undefined {
  const id = raw !== null && typeof raw === 'object' ? (raw as { id?: unknown }).id : undefined
  return typeof id === 'string' && id.length > 0 && id.length <= 128 ? id : undefined
}
