import {
  catchError,
  filter,
  map,
  mergeMap,
  of,
  toArray,
  type Observable,
  type OperatorFunction,
} from 'rxjs'
import type { Envelope } from '../envelope.js'
import { TYPE_PATTERN, type AcceptedEvent } from '../event.js'
import { rejected } from '../outcome.js'

/** A user's own step before storage: enrich, redact, drop (emit nothing) or re-type events. */
export type EventTransform = OperatorFunction<AcceptedEvent, AcceptedEvent>

export interface TransformOptions {
  readonly transforms: readonly EventTransform[]
  /** events whose transforms may run at once (a transform may be asynchronous, e.g. a lookup) */
  readonly concurrency: number
}

/**
 * Runs the user's transforms over each event on its own, so that whatever a transform does — map,
 * filter, throw, wait — is charged to that event alone:
 *
 * - one event out: it goes on in place of the original (the id cannot change: it is the dedupe key);
 * - none: the event is settled `rejected` ("dropped by a transform") and stored nowhere;
 * - an error, or an event that is no longer valid: `rejected` with the reason; the stream goes on.
 *
 * ```
 * transforms: [map(redact), filter(notInternal)]
 * source:  --a--i--b--|      (i is internal)
 * result:  --A-----B--|      (i settled rejected: dropped by a transform)
 * ```
 *
 * @example
 * valid$.pipe(transform({ transforms: [map((e) => ({ ...e, properties: redact(e.properties) }))], concurrency: 64 }))
 */
export function transform(options: TransformOptions): OperatorFunction<Envelope, Envelope> {
  const { transforms, concurrency } = options
  if (transforms.length === 0) return (source) => source
  const chain = (event: AcceptedEvent): Observable<AcceptedEvent> =>
    transforms.reduce<Observable<AcceptedEvent>>((events, step) => events.pipe(step), of(event))

  return (source) =>
    source.pipe(
      mergeMap(
        (envelope) =>
          chain(envelope.event).pipe(
            toArray(),
            map((out): Envelope | undefined => {
              const problem =
                out.length === 0
                  ? 'dropped by a transform'
                  : out.length > 1
                    ? 'a transform made several events of one'
                    : invalid(out[0]!, envelope.event)
              if (problem) {
                envelope.settle(rejected([{ path: '', message: problem }]))
                return undefined
              }
              // No propertiesText: the transform may have changed the properties, so storage serializes them again.
              return {
                id: envelope.id,
                event: out[0]!,
                fingerprint: envelope.fingerprint,
                settle: (outcome) => envelope.settle(outcome),
                committed: () => envelope.committed?.(),
              }
            }),
            catchError((error: unknown) => {
              envelope.settle(
                rejected([
                  {
                    path: '',
                    message: `a transform failed: ${error instanceof Error ? error.message : String(error)}`,
                  },
                ]),
              )
              return of(undefined)
            }),
          ),
        concurrency,
      ),
      filter((envelope): envelope is Envelope => envelope !== undefined),
    )
}

function invalid(after: AcceptedEvent, before: AcceptedEvent): string | undefined {
  if (after === null || typeof after !== 'object')
    return 'a transform returned something that is not an event'
  if (after.id !== before.id) return 'a transform may not change the id (it is the dedupe key)'
  if (
    typeof after.type !== 'string' ||
    after.type.length === 0 ||
    after.type.length > 128 ||
    !TYPE_PATTERN.test(after.type)
  )
    return 'a transform gave the event an invalid type'
  if (!Number.isInteger(after.timestamp) || after.timestamp < 0)
    return 'a transform gave the event an invalid timestamp'
  return undefined
}
