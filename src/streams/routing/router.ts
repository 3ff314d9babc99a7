import {
  asyncScheduler,
  catchError,
  EMPTY,
  firstValueFrom,
  from,
  lastValueFrom,
  map,
  mergeMap,
  of,
  timer,
  toArray,
  type Observable,
  type SchedulerLike,
  type Subscription,
} from 'rxjs'
import { v7 as uuidv7 } from 'uuid'
import type { AcceptedEvent } from '../event.js'
import { batch } from '../operators/batch.js'
import type { EventTransform } from '../operators/transform.js'
import { deadLetterWriter, type RouteItem } from './dead-letter-writer.js'
import type { DeadLetterStore, Delivery, Locks, RouteOutbox } from './ports.js'
import { replayDeadLetters } from './replay.js'
import { createLane, PENDING_AT_SHUTDOWN, type Lane } from './route-lane.js'
import { typeMatcher, type Route } from './route.js'
import type { BreakerState, RouterTelemetry } from './telemetry.js'

export interface RouterConfig {
  readonly routes: readonly Route[]
  /** events a route may hold, queued or in flight (default 10000): past it, in-memory events overflow to dead letters; with an outbox, the rest waits there */
  readonly queueMaxEvents?: number
  /** consecutive failed attempts that open a route's breaker (default 5), and its cool-down (default 10000 ms) */
  readonly breaker?: { readonly failureThreshold?: number; readonly coolDownMs?: number }
  /** backoff of dead-letter inserts (default 200 / 5000 / 60000 ms) */
  readonly deadLetterRetry?: {
    readonly initialMs: number
    readonly maxMs: number
    readonly budgetMs: number
  }
  /** with an outbox: how often an idle route looks for entries other instances appended or crashed ones left (default 1000 ms) */
  readonly pollMs?: number
  /** dead letters re-sent per step of a replay (default 1000) */
  readonly replayPageSize?: number
  /**
   * Without an outbox, what drain could not deliver is written to dead letters (error
   * PENDING_AT_SHUTDOWN); start sends those again, in the background (default true).
   */
  readonly resumeAtStart?: boolean
  /**
   * The user's own operators per route name, run on each matched event before it is queued for
   * that route: enrich, redact, re-type, or drop it (emit nothing) for this route only. An event a
   * transform throws on goes to dead letters (reason `transform`); other routes are not affected.
   */
  readonly transforms?: Readonly<Record<string, readonly EventTransform[]>>
  /** events whose route transforms may run at once, over all routes, per committed batch (ROUTE_TRANSFORM_CONCURRENCY; default 256, as for the ingest transforms) */
  readonly transformConcurrency?: number
}

export interface RouterDeps {
  readonly delivery: Delivery
  readonly deadLetters: DeadLetterStore
  /** durable per-route queues (Redis Streams); without one, pending deliveries live in memory */
  readonly outbox?: RouteOutbox
  /**
   * Locks shared with the other instances (Redis): a route's replay takes `replay:<route>`, so that
   * two instances never send the same dead letters at once. Without them, replays are one at a
   * time per route within this process only (enough for a process that is alone).
   */
  readonly locks?: Locks
  readonly scheduler?: SchedulerLike
  readonly random?: () => number
  readonly newBatchId?: () => string
  readonly telemetry?: RouterTelemetry
}

export interface RouteStatus {
  readonly route: string
  readonly breaker: BreakerState
  /** events held: queued or in flight */
  readonly pending: number
}

export interface Router {
  readonly routes: readonly Route[]
  /** Opens the outbox's queues and starts every route; without an outbox, resends in the background what the last shutdown left. */
  start(): Promise<void>
  /**
   * Hands committed events to the routes that match them. With an outbox, resolves once they are
   * in it (one round trip for all routes): call it between the commit and the confirm of their
   * claims (commit.ts). If the outbox fails it rejects (reported): the caller fails the events, so
   * that their re-send is handed off again. Memory would lose them to a kill -9 of this process,
   * after their clients heard `accepted`.
   */
  enqueue(events: readonly AcceptedEvent[]): Promise<void>
  /**
   * Enqueues everything a stream of accepted events emits (e.g. `pipeline.accepted$`), in small
   * batches. These are acked already: an outbox that fails sends them to in-memory delivery (counted).
   */
  follow(accepted$: Observable<AcceptedEvent>): Subscription
  /**
   * Takes no more events; delivers what routes hold for up to `flushMs` (default 5000); then what is
   * left stays in the outbox, or without one is written to dead letters (reason `shutdown`).
   */
  drain(options?: { readonly flushMs?: number }): Promise<void>
  /**
   * Sends a route's dead letters written since `sinceMs` (all by default) through it again; see
   * replay.ts. Rejects with ReplayInProgressError while a replay of that route runs, here or on
   * any instance sharing the locks.
   */
  replay(route: string, sinceMs?: number): Promise<{ replayed: number }>
  status(): RouteStatus[]
}

export class UnknownRouteError extends Error {
  override readonly name = 'UnknownRouteError'
  constructor(readonly route: string) {
    super(`no route named ${JSON.stringify(route)}`)
  }
}

export class ReplayInProgressError extends Error {
  override readonly name = 'ReplayInProgressError'
  constructor(readonly route: string) {
    super(
      `a replay of route ${JSON.stringify(route)} is in progress; try again when it has finished`,
    )
  }
}

export class RoutingStoppedError extends Error {
  override readonly name = 'RoutingStoppedError'
  constructor() {
    super('routing is shutting down')
  }
}

/** The routing stage of ARCHITECTURE.md: one lane per route, fed from accepted events or the outbox. */
export function createRouter(config: RouterConfig, deps: RouterDeps): Router {
  const { outbox, scheduler = asyncScheduler, telemetry = {} } = deps
  const retry = {
    initialMs: 200,
    maxMs: 5000,
    budgetMs: 60_000,
    ...config.deadLetterRetry,
    random: deps.random,
  }
  const laneConfig = {
    queueMaxEvents: config.queueMaxEvents ?? 10_000,
    pollMs: config.pollMs ?? 1000,
    breaker: {
      failureThreshold: config.breaker?.failureThreshold ?? 5,
      coolDownMs: config.breaker?.coolDownMs ?? 10_000,
    },
  }
  const laneDeps = {
    ...deps,
    newBatchId: deps.newBatchId ?? uuidv7,
    deadLetters: deadLetterWriter({ store: deps.deadLetters, retry, scheduler, telemetry }),
    // At shutdown there is no time for a long budget.
    lastDeadLetters: deadLetterWriter({
      store: deps.deadLetters,
      retry: { ...retry, budgetMs: Math.min(retry.budgetMs, 2000) },
      scheduler,
      telemetry,
    }),
  }
  const lanes = new Map<string, { lane: Lane; matches: (type: string) => boolean }>(
    config.routes.map((route) => [
      route.name,
      { lane: createLane(route, laneConfig, laneDeps), matches: typeMatcher(route.match) },
    ]),
  )
  const following = new Set<Promise<void>>()
  const followers = new Set<Subscription>()
  const resuming = new Set<Promise<void>>()
  const writing = new Set<Promise<void>>()
  const transformConcurrency = config.transformConcurrency ?? 256
  const replays = new Map<string, Promise<number>>()
  let draining = false
  const replayDeps = {
    store: deps.deadLetters,
    outbox,
    scheduler,
    pageSize: config.replayPageSize ?? 1000,
  }

  /** A graceful shutdown without an outbox left these as dead letters: they are not failures, send them again. */
  function resume(lane: Lane) {
    const work: Promise<void> = replayDeadLetters(
      lane,
      replayDeps,
      undefined,
      PENDING_AT_SHUTDOWN,
    ).then(
      (replayed) => void (replayed > 0 && telemetry.replayed?.(lane.route.name, replayed)),
      (error: unknown) => telemetry.resumeFailed?.(lane.route.name, error),
    )
    resuming.add(work)
    void work.finally(() => resuming.delete(work))
  }

  function toMemory(entries: ReadonlyArray<{ lane: Lane; events: readonly AcceptedEvent[] }>) {
    for (const { lane, events } of entries) lane.push(events.map((event) => ({ event })))
  }

  /**
   * Each route's transforms over its matched events, at most `transformConcurrency` events at once
   * over all routes; each route keeps its events in the order committed. What a transform throws
   * on is written to dead letters in one insert per route, in the background: off the path to the
   * ack (drain waits for it).
   */
  async function transformed(
    matched: ReadonlyArray<{ lane: Lane; events: AcceptedEvent[] }>,
  ): Promise<Array<{ lane: Lane; events: AcceptedEvent[] }>> {
    const work = matched.flatMap(({ lane, events }, route) => {
      const steps = config.transforms?.[lane.route.name]
      return steps && steps.length > 0
        ? events.map((event, index) => ({ route, index, event, steps }))
        : []
    })
    if (work.length === 0) return [...matched]
    const outputs = matched.map(({ events }) => events.map((event): AcceptedEvent[] => [event]))
    const failures = matched.map((): RouteItem[] => [])
    await lastValueFrom(
      from(work).pipe(
        mergeMap(
          ({ route, index, event, steps }) =>
            steps
              .reduce<Observable<AcceptedEvent>>((events, step) => events.pipe(step), of(event))
              .pipe(
                toArray(),
                map((out) => void (outputs[route]![index] = out)),
                catchError((error: unknown) => {
                  outputs[route]![index] = []
                  const name = matched[route]!.lane.route.name
                  failures[route]!.push({
                    event,
                    error: `a transform of route ${name} failed: ${error instanceof Error ? error.message : String(error)}`,
                  })
                  return EMPTY
                }),
              ),
          transformConcurrency,
        ),
      ),
      { defaultValue: undefined },
    )
    matched.forEach(({ lane }, route) => {
      const items = failures[route]!
      if (items.length === 0) return
      // One insert for the route's failures of this batch, each row with its own error. The writer
      // retries and reports a write it gives up on (deadLetterWriteFailed): nothing to wait for here.
      background(
        lastValueFrom(
          laneDeps.deadLetters(lane.route.name, items, 'transform', items[0]!.error!, 0),
          { defaultValue: undefined },
        ),
      )
    })
    return matched.map(({ lane }, route) => ({ lane, events: outputs[route]!.flat() }))
  }

  /** Work off the path to the ack that drain still waits for. */
  function background(work: Promise<unknown>): void {
    const tracked: Promise<void> = work.then(
      () => undefined,
      () => undefined,
    )
    writing.add(tracked)
    void tracked.finally(() => writing.delete(tracked))
  }

  async function enqueue(
    events: readonly AcceptedEvent[],
    fallback: 'reject' | 'memory' = 'reject',
  ): Promise<void> {
    const matched = [...lanes.values()]
      .map(({ lane, matches }) => ({ lane, events: events.filter((event) => matches(event.type)) }))
      .filter((entry) => entry.events.length > 0)
    const entries = (await transformed(matched)).filter((entry) => entry.events.length > 0)
    if (entries.length === 0) return
    if (!outbox) return toMemory(entries)
    try {
      await lastValueFrom(
        from(
          outbox.append(entries.map(({ lane, events }) => ({ route: lane.route.name, events }))),
        ),
        { defaultValue: undefined },
      )
      for (const { lane } of entries) lane.nudge()
    } catch (error) {
      telemetry.outboxFailed?.('append', undefined, error)
      if (fallback === 'reject') throw error
      // Already acked: deliver them from memory rather than not at all.
      toMemory(entries)
    }
  }

  return {
    routes: config.routes,
    async start() {
      if (outbox)
        await lastValueFrom(from(outbox.open(config.routes.map((route) => route.name))), {
          defaultValue: undefined,
        })
      for (const { lane } of lanes.values()) lane.start()
      if (!outbox && config.resumeAtStart !== false)
        for (const { lane } of lanes.values()) resume(lane)
    },
    enqueue: (events) => enqueue(events),
    follow(accepted$) {
      let done!: () => void
      const finished = new Promise<void>((resolve) => (done = resolve))
      following.add(finished)
      // A few ms of batching turns a committed batch's burst of events into one outbox round trip.
      const subscription = accepted$
        .pipe(
          batch({ maxRows: 1000, maxWaitMs: 5, scheduler }),
          mergeMap((events) => enqueue(events, 'memory'), 4),
        )
        .subscribe({ complete: done, error: done })
      followers.add(subscription)
      return subscription
    },
    async drain({ flushMs = 5000 } = {}) {
      draining = true
      const deadline = firstValueFrom(timer(flushMs, scheduler)).then(() => undefined)
      // Events the pipeline accepted while it drained are enqueued first: call this after
      // pipeline.drain(), which completes accepted$. Whatever still follows is cut off then.
      await Promise.race([Promise.all(following), deadline])
      for (const subscription of followers) subscription.unsubscribe()
      await Promise.all([...lanes.values()].map(({ lane }) => lane.drain(deadline)))
      // Replays and resends still going stop at their next page; the one in hand is persisted again.
      await Promise.allSettled([...resuming, ...replays.values(), ...writing])
    },
    async replay(name, sinceMs) {
      const entry = lanes.get(name)
      if (!entry) throw new UnknownRouteError(name)
      if (draining) throw new RoutingStoppedError()
      // One replay of a route at a time, over every instance: two at once would both read, and
      // send, the same rows. Refused rather than queued: the caller learns at once that one runs.
      if (replays.has(name)) throw new ReplayInProgressError(name)
      const { locks } = deps
      const replay = (async () => {
        const lock = locks ? await locks.take(`replay:${name}`) : undefined
        if (locks && !lock) throw new ReplayInProgressError(name)
        try {
          // A lock that lapsed (this process stalled past its TTL) may be another's now: stop at the next page.
          return await replayDeadLetters(
            entry.lane,
            { ...replayDeps, lost: () => lock?.lost === true },
            sinceMs,
          )
        } finally {
          // One that cannot be released lapses by itself within the locks' TTL.
          await lock?.release().catch(() => undefined)
        }
      })()
      replays.set(name, replay)
      const replayed = await replay.finally(() => replays.delete(name))
      telemetry.replayed?.(name, replayed)
      return { replayed }
    },
    status() {
      return [...lanes.values()].map(({ lane }) => ({
        route: lane.route.name,
        breaker: lane.breaker.state,
        pending: lane.pending,
      }))
    },
  }
}
