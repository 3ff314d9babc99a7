import { Observable, type OperatorFunction } from 'rxjs'
import type { RawEnvelope, Submission } from '../submission.js'

/**
 * Turns each submission (a request or a frame) into one envelope per event, in the order sent.
 *
 * ```
 * submissions: --S(a,b)----T(c)--|
 * explode:     --(ab)------c-----|
 * ```
 *
 * A loop, not `concatMap` over the array: the same emissions, without an inner subscription for
 * every request and frame (with one event per frame, that subscription cost more than the event).
 */
export function explode(): OperatorFunction<Submission, RawEnvelope> {
  return (source) =>
    new Observable<RawEnvelope>((subscriber) =>
      source.subscribe({
        next(submission) {
          // As concatMap did: what throws here is the chain's error (the supervisor's to handle),
          // not an error thrown at whoever called the ingress Subject's next.
          try {
            for (const envelope of submission.envelopes()) {
              // a stage below that failed or unsubscribed takes no more
              if (subscriber.closed) return
              subscriber.next(envelope)
            }
          } catch (error) {
            subscriber.error(error)
          }
        },
        error: (error: unknown) => subscriber.error(error),
        complete: () => subscriber.complete(),
      }),
    )
}
