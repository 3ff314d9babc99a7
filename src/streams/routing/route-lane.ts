import {
  asyncScheduler,
  defer,
  lastValueFrom,
  merge,
  mergeMap,
  Subject,
  takeUntil,
  tap,
  type SchedulerLike,
  type Subscription,
} from 'rxjs'
import { createCircuitBreaker, type CircuitBreaker } from './circuit-breaker.js'
import type { DeadLetterWriter, RouteItem, SettledBatch } from './dead-letter-writer.js'
import { deliverRoute } from './deliver-route.js'
import { pumpOutbox } from './outbox-pump.js'
import type { Delivery, RouteOutbox } from './ports.js'
import type { Route } from './route.js'
import type { RouterTelemetry } from './telemetry.js'

/** The error of dead letters written at shutdown without an outbox: the next start sends them again (router.ts). */
export const PENDING_AT_SHUTDOWN = 'pending at shutdown; sent again at the next start'

export interface LaneConfig {
  /** items a route may hold (queued or in flight); past it, in-memory items overflow to dead letters and the outbox is not read */
  readonly queueMaxEvents: number
  readonly pollMs: number
  readonly breaker: { readonly failureThreshold: number; readonly coolDownMs: number }
}

export interface LaneDeps {
  readonly delivery: Delivery
  readonly deadLetters: DeadLetterWriter
  /** the same with the short budget of shutdown */
  readonly lastDeadLetters: DeadLetterWriter
  readonly outbox?: RouteOutbox
  readonly newBatchId: () => string
  readonly scheduler?: SchedulerLike
  readonly random?: () => number
  readonly telemetry?: RouterTelemetry
}

/** One route's running state: its chain, breaker, bounded queue, outbox pump and drain. */
export interface Lane {
  readonly route: Route
  readonly breaker: CircuitBreaker
  /** items held: queued or in flight */
  readonly pending: number
  /** the most it holds (`queueMaxEvents`) */
  readonly capacity: number
  /** drain has begun: pushes go straight to dead letters */
  readonly stopped: boolean
  start(): void
  /** In-memory items; those past the queue's room go straight to dead letters (`overflow`). */
  push(items: readonly RouteItem[]): void
  /** Entries were appended to this route's outbox: read now rather than at the next poll. */
  nudge(): void
  /** Takes no more work; delivers what it holds until `deadline`, then leaves outbox items to the outbox and persists the rest as dead letters. */
  drain(deadline: Promise<void>): Promise<void>
}

export function createLane(route: Route, config: LaneConfig, deps: LaneDeps): Lane {
  const { outbox, scheduler = asyncScheduler, telemetry = {} } = deps
  const breaker = createCircuitBreaker({
    ...config.breaker,
    scheduler,
    onChange: (state) => telemetry.breakerChanged?.(route.name, state),
  })
  const input = new Subject<RouteItem>()
  const overflow = new Subject<RouteItem[]>()
  const stop = new Subject<void>()
  const wake = new Subject<void>()
  const pending = new Set<RouteItem>()
  // Past the queue's room, on their way to dead letters: not counted as pending, but kept for shutdown.
  const overflowing = new Set<RouteItem>()
  // Acks and shutdown writes in flight: not awaited by the chain, only by drain.
  const background = new Set<Promise<void>>()
  let stopped = false
  let draining: Promise<void> | undefined
  let subscription: Subscription | undefined
  let finished!: () => void
  const done = new Promise<void>((resolve) => (finished = resolve))

  const pumped$ = outbox
    ? pumpOutbox({
        outbox,
        route: route.name,
        room: () => config.queueMaxEvents - pending.size,
        pageSize: route.batchMaxEvents * route.concurrency,
        wake$: wake,
        pollMs: config.pollMs,
        scheduler,
        onError: (error) => telemetry.outboxFailed?.('read', route.name, error),
      }).pipe(
        takeUntil(stop),
        mergeMap((entries) =>
          entries.map((entry): RouteItem => ({ event: entry.event, receipt: entry.receipt })),
        ),
        tap((item) => pending.add(item)),
      )
    : undefined
  const overflowMessage = `route queue full (${config.queueMaxEvents} events pending)`
  const settled$ = merge(
    (pumped$ ? merge(input, pumped$) : input).pipe(deliverRoute(route, { ...deps, breaker })),
    // One overflow write at a time: a dead route must not turn into a flood of inserts.
    overflow.pipe(
      mergeMap((items) => deps.deadLetters(route.name, items, 'overflow', overflowMessage, 0), 1),
    ),
  )

  function settle({ items, outcome }: SettledBatch) {
    for (const item of items) if (!pending.delete(item)) overflowing.delete(item)
    const receipts = items.flatMap((item) => (item.receipt === undefined ? [] : [item.receipt]))
    if (outbox && receipts.length > 0) {
      if (outcome === 'unsettled') outbox.release(route.name, receipts)
      else track(outbox, receipts)
    }
    for (const item of items) item.onSettled?.(outcome)
    wake.next()
  }

  /** An ack that fails leaves the entries to be read again: a duplicate, never a loss. */
  function track(box: RouteOutbox, receipts: string[]) {
    remember(
      lastValueFrom(
        defer(() => box.ack(route.name, receipts)),
        { defaultValue: undefined },
      ).then(
        () => undefined,
        (error: unknown) => {
          telemetry.outboxFailed?.('ack', route.name, error)
          box.release(route.name, receipts)
        },
      ),
    )
  }

  function remember(work: Promise<void>) {
    const tracked: Promise<void> = work.finally(() => background.delete(tracked))
    background.add(tracked)
  }

  /** Without an outbox, what is left at shutdown becomes dead letters that the next start sends again. */
  async function persist(items: readonly RouteItem[]) {
    const result = await lastValueFrom(
      deps.lastDeadLetters(route.name, items, 'shutdown', PENDING_AT_SHUTDOWN, 0),
    )
    for (const item of result.items) item.onSettled?.(result.outcome)
  }

  function start() {
    if (subscription) return
    run()
  }

  function run() {
    subscription = settled$.subscribe({
      next: settle,
      complete: finished,
      // Not expected (every failure is an outcome): report, and after a pause run a new chain with
      // everything the dead one held, as the ingest pipeline's supervisor does.
      error(error: unknown) {
        telemetry.routeRestarted?.(route.name, error)
        // While draining there is nothing to restart: drain persists what is left.
        if (stopped) return finished()
        scheduler.schedule(() => {
          run()
          for (const item of pending) input.next(item)
        }, 1000)
      },
    })
  }

  async function drainBy(deadline: Promise<void>) {
    stopped = true
    stop.next()
    input.complete()
    overflow.complete()
    const flushed = await Promise.race([done.then(() => true), deadline.then(() => false)])
    if (!flushed) {
      subscription?.unsubscribe() // aborts attempts in flight
      const left = [...pending, ...overflowing]
      pending.clear()
      overflowing.clear()
      const receipts = left.flatMap((item) => (item.receipt === undefined ? [] : [item.receipt]))
      if (outbox && receipts.length > 0) outbox.release(route.name, receipts) // still in the outbox: the next start delivers them
      const memory = left.filter((item) => item.receipt === undefined)
      if (memory.length > 0) await persist(memory)
    }
    await Promise.all([...background])
    breaker.dispose()
  }

  return {
    route,
    breaker,
    get pending() {
      return pending.size
    },
    capacity: config.queueMaxEvents,
    get stopped() {
      return stopped
    },
    start,
    push(items) {
      if (stopped) return remember(persist(items))
      start() // items pushed before start would reach a Subject nobody listens to
      const room = Math.max(0, config.queueMaxEvents - pending.size)
      for (const item of items.slice(0, room)) {
        pending.add(item)
        input.next(item)
      }
      if (items.length > room) {
        const over = items.slice(room)
        for (const item of over) overflowing.add(item)
        overflow.next(over)
      }
    },
    nudge: () => wake.next(),
    drain(deadline) {
      draining ??= drainBy(deadline)
      return draining
    },
  }
}
