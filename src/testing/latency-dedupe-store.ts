import {
  asyncScheduler,
  defer,
  mergeMap,
  timer,
  type ObservableInput,
  type SchedulerLike,
} from 'rxjs'
import type { DedupeStore } from '../streams/ports.js'

export type DedupeOperation = 'claim' | 'confirm' | 'release'

export interface LatencyOptions {
  /** how long each round trip takes, in ms; a function can make one call slower than another */
  readonly ms: number | ((operation: DedupeOperation) => number)
  /** virtual time in marble tests */
  readonly scheduler?: SchedulerLike
}

/**
 * A dedupe store whose every round trip takes time, as Redis's does: the call reaches the store only
 * after the latency, so claims overlapping in time meet the same way they would over a network.
 */
export function withLatency<S extends DedupeStore>(store: S, options: LatencyOptions): S {
  const { ms, scheduler = asyncScheduler } = options
  const after = <T>(operation: DedupeOperation, call: () => ObservableInput<T>) =>
    timer(typeof ms === 'number' ? ms : ms(operation), scheduler).pipe(mergeMap(() => defer(call)))
  return {
    ...store,
    claim: (claims) => after('claim', () => store.claim(claims)),
    confirm: (receipts) => after('confirm', () => store.confirm(receipts)),
    release: (receipts) => after('release', () => store.release(receipts)),
  }
}
