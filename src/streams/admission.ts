import { BehaviorSubject, distinctUntilChanged, type Observable } from 'rxjs'

export interface AdmissionOptions {
  /** Hard bound: a request that would take the count past it is refused. */
  readonly maxInflight: number
  /** At or above this many events in flight, readers are told to pause. Default: 80% of max. */
  readonly highWater?: number
  /** Paused readers are told to resume once the count falls to this. Default: 50% of max. */
  readonly lowWater?: number
}

/**
 * Backpressure for a Subject, which cannot push back by itself: counts events in flight.
 * Adapters ask "may I take N more?" (`tryAcquire`) and watch `paused$` to stop and resume
 * reading; the hysteresis between the water marks keeps readers from flapping.
 */
export interface Admission {
  tryAcquire(count: number): boolean
  release(count: number): void
  readonly inflight: number
  readonly maxInflight: number
  readonly paused: boolean
  /** true when over the high-water mark, false again at the low-water mark; replays the current state. */
  readonly paused$: Observable<boolean>
}

export function createAdmission(options: AdmissionOptions): Admission {
  const { maxInflight } = options
  const highWater = options.highWater ?? Math.max(1, Math.floor(maxInflight * 0.8))
  const lowWater = options.lowWater ?? Math.floor(maxInflight * 0.5)
  if (!(lowWater < highWater && highWater <= maxInflight)) {
    throw new RangeError(`admission needs lowWater < highWater <= maxInflight (got ${lowWater}, ${highWater}, ${maxInflight})`)
  }
  const state = new BehaviorSubject(false)
  let inflight = 0

  return {
    tryAcquire(count) {
      if (inflight + count > maxInflight) return false
      inflight += count
      if (inflight >= highWater && !state.value) state.next(true)
      return true
    },
    release(count) {
      inflight -= count
      if (inflight <= lowWater && state.value) state.next(false)
    },
    get inflight() {
      return inflight
    },
    maxInflight,
    get paused() {
      return state.value
    },
    paused$: state.pipe(distinctUntilChanged()),
  }
}
