import {
  asyncScheduler,
  BehaviorSubject,
  defer,
  of,
  Subject,
  switchMap,
  take,
  type Observable,
  type SchedulerLike,
  type Subscription,
} from 'rxjs'
import type { BreakerState } from './telemetry.js'

export interface CircuitBreakerOptions {
  /** consecutive failed attempts that open the breaker */
  readonly failureThreshold: number
  /** how long it stays open before one probe may go */
  readonly coolDownMs: number
  readonly scheduler?: SchedulerLike
  readonly onChange?: (state: BreakerState) => void
}

/** The right to make one attempt; report how it ended exactly once (later reports are ignored). */
export interface Permit {
  /** the destination answered like a healthy service (2xx, or a 4xx that says the batch is wrong) */
  succeeded(): void
  /** network error, timeout, 408, 429, 5xx */
  failed(): void
  /** cancelled without a verdict (shutdown): a probe gives its turn to the next waiter */
  abandoned(): void
}

export interface CircuitBreaker {
  readonly state$: Observable<BreakerState>
  readonly state: BreakerState
  /**
   * Emits one permit, then completes: at once while closed; while open, not before the cool-down
   * ends; in half-open, to one probe at a time — the others wait for its verdict.
   */
  permit(): Observable<Permit>
  /** cancels the cool-down timer */
  dispose(): void
}

/**
 * A per-route circuit breaker on the scheduler's clock, so marble tests drive it in virtual time.
 *
 * ```
 * failureThreshold 2, coolDownMs 10
 * attempts: -FF------------P       F failed, P the probe, which succeeds
 * state:    c-o---------h--c       c closed, o open, h half-open (10 ms after opening)
 * ```
 *
 * While closed, any answer that is not a failure resets the count; while open or half-open only the
 * probe's verdict moves the state (attempts that started before it opened report into the void).
 *
 * @example
 * const breaker = createCircuitBreaker({ failureThreshold: 5, coolDownMs: 10_000, onChange: (s) => log(s) })
 * attempt$.pipe(throughBreaker(breaker))
 */
export function createCircuitBreaker(options: CircuitBreakerOptions): CircuitBreaker {
  const { failureThreshold, coolDownMs, scheduler = asyncScheduler, onChange } = options
  const state$ = new BehaviorSubject<BreakerState>('closed')
  // Wakes waiters on every change of state and when a probe gives its turn back.
  const wake$ = new Subject<void>()
  let failures = 0
  let probing = false
  let coolDown: Subscription | undefined

  function set(next: BreakerState) {
    if (state$.value === next) return
    state$.next(next)
    onChange?.(next)
    wake$.next()
  }

  function open() {
    failures = 0
    probing = false
    coolDown?.unsubscribe()
    coolDown = scheduler.schedule(() => set('half-open'), coolDownMs)
    set('open')
  }

  function close() {
    failures = 0
    probing = false
    set('closed')
  }

  function permitFor(probe: boolean): Permit {
    let reported = false
    const once = (report: () => void) => () => {
      if (reported) return
      reported = true
      report()
    }
    return {
      succeeded: once(() => {
        if (probe) close()
        else if (state$.value === 'closed') failures = 0
      }),
      failed: once(() => {
        if (probe) open()
        else if (state$.value === 'closed' && ++failures >= failureThreshold) open()
      }),
      abandoned: once(() => {
        if (!probe) return
        probing = false
        wake$.next()
      }),
    }
  }

  function permit(): Observable<Permit> {
    return defer(() => {
      if (state$.value === 'closed') return of(permitFor(false))
      if (state$.value === 'half-open' && !probing) {
        probing = true
        return of(permitFor(true))
      }
      // Ask again at the next change: of the waiters woken together, the first takes the probe.
      return wake$.pipe(take(1), switchMap(permit))
    })
  }

  return {
    state$: state$.asObservable(),
    get state() {
      return state$.value
    },
    permit,
    dispose() {
      coolDown?.unsubscribe()
    },
  }
}
