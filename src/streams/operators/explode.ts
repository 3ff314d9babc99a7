import { concatMap, type OperatorFunction } from 'rxjs'
import type { RawEnvelope, Submission } from '../submission.js'

/**
 * Turns each submission (a request or a frame) into one envelope per event, in the order sent.
 *
 * ```
 * submissions: --S(a,b)----T(c)--|
 * explode:     --(ab)------c-----|
 * ```
 */
export function explode(): OperatorFunction<Submission, RawEnvelope> {
  // The inner is an array, so concatMap emits it synchronously: no queue builds up here.
  return (source) => source.pipe(concatMap((submission) => submission.envelopes()))
}
