import {
  asyncScheduler,
  defer,
  retry,
  Subject,
  type Observable,
  type ObservableInput,
  type SchedulerLike,
} from 'rxjs'
import { createAdmission, retainedBytes, type Admission } from './admission.js'
import type { AcceptedEvent, Transport } from './event.js'
import { acknowledge } from './operators/acknowledge.js'
import { batch } from './operators/batch.js'
import { commit } from './operators/commit.js'
import { dedupe } from './operators/dedupe.js'
import { explode } from './operators/explode.js'
import { transform, type EventTransform } from './operators/transform.js'
import { validate } from './operators/validate.js'
import { countResults, failed, type EventResult } from './outcome.js'
import type { DedupeStore, EventSink } from './ports.js'
import { Submission } from './submission.js'
import type { PipelineTelemetry } from './telemetry.js'

export interface PipelineConfig {
  readonly insertBatchMaxRows: number
  readonly insertBatchMaxWaitMs: number
  readonly insertConcurrency: number
  readonly maxInflightEvents: number
  /** MAX_INFLIGHT_BYTES: the bound on bytes retained for events in flight (admission.ts); absent: none */
  readonly maxInflightBytes?: number
  readonly highWater?: number
  readonly lowWater?: number
  /** backoff of inserts: first ceiling, largest ceiling, and the whole budget before a batch fails */
  readonly retry: { readonly initialMs: number; readonly maxMs: number; readonly budgetMs: number }
  readonly dedupeOnError?: 'open' | 'reject'
  /** events whose user transforms may run at once (default 256) */
  readonly transformConcurrency?: number
}

export interface PipelineDeps {
  readonly sink: EventSink
  readonly store: DedupeStore
  readonly scheduler?: SchedulerLike
  readonly newId?: () => string
  readonly random?: () => number
  readonly telemetry?: PipelineTelemetry
  /** the user's own operators, run on every valid event before storage (see operators/transform.ts) */
  readonly transforms?: readonly EventTransform[]
  /** routing (the router, or anything with its `enqueue`): committed batches are handed to it before their claims are confirmed and acked */
  readonly routes?: RouteHandOff
}

/**
 * What the pipeline needs of routing: the router's `enqueue`. With an outbox it completes once the
 * events are appended there (one round trip per batch), so an event is durable for its routes
 * before its client hears `accepted`; an error fails the batch (commit.ts).
 */
export interface RouteHandOff {
  enqueue(events: readonly AcceptedEvent[]): ObservableInput<void>
}

export interface Pipeline {
  readonly admission: Admission
  /** every event once it is committed, whatever transport it came by */
  readonly accepted$: Observable<AcceptedEvent>
  /**
   * Submits the events of one request or frame; `onSettled` gets one result per event, in order,
   * once all have settled. Returns false, taking nothing, when admission refuses them (overload).
   * `bytes`: the size of the JSON they arrived in (the body, the frame), which admission charges them
   * by; a caller without one (in-process) is charged as if it were 0 bytes (the fixed parts only).
   */
  offer(
    events: readonly unknown[],
    transport: Transport,
    onSettled: (results: EventResult[]) => void,
    bytes?: number,
  ): boolean
  /** Promise form of `offer`: undefined when refused. */
  submit(
    events: readonly unknown[],
    transport: Transport,
    bytes?: number,
  ): Promise<EventResult[]> | undefined
  /** Takes no more; resolves once every event taken so far has settled. */
  drain(): Promise<void>
}

const IGNORE = () => {}

/** What a client is told for an event its chain died with: nothing says it was stored, so it is sent again. */
const STRANDED = failed('internal error; send it again')

/**
 * The one operator chain of API.md and ARCHITECTURE.md:
 * ingress Subject → explode → validate → transform → batch → dedupe → commit (insert, hand off to
 * routes, confirm the claims) → acknowledge → accepted events.
 *
 * Supervisor: a stage that throws in a way the chain does not expect is reported, and the chain is
 * subscribed again (the ingress Subject is hot, so later submissions flow again). Every event the
 * dead chain held is answered `failed` first, which also gives back its admission; the stages'
 * own teardown gives back what they held in the dedupe store, and the new chain starts with empty
 * state (dedupe's ids on their way), so a re-send is never parked behind a copy that died.
 */
export function createPipeline(config: PipelineConfig, deps: PipelineDeps): Pipeline {
  const scheduler = deps.scheduler ?? asyncScheduler
  const routes = deps.routes
  const telemetry = deps.telemetry ?? {}
  const admission = createAdmission({
    maxInflight: config.maxInflightEvents,
    highWater: config.highWater,
    lowWater: config.lowWater,
    maxInflightBytes: config.maxInflightBytes,
  })
  const ingress = new Subject<Submission>()
  // The submissions taken by the chain now running that are not fully settled yet.
  let inFlight = new Set<Submission>()

  const chain$ = defer(() =>
    ingress.pipe(
      explode(),
      validate({ newId: deps.newId }),
      transform({
        transforms: deps.transforms ?? [],
        concurrency: config.transformConcurrency ?? 256,
      }),
      batch({
        maxRows: config.insertBatchMaxRows,
        maxWaitMs: config.insertBatchMaxWaitMs,
        scheduler,
      }),
      dedupe({
        store: deps.store,
        concurrency: config.insertConcurrency,
        onStoreError: config.dedupeOnError,
        telemetry,
      }),
      commit({
        sink: deps.sink,
        store: deps.store,
        concurrency: config.insertConcurrency,
        maxRows: config.insertBatchMaxRows,
        retry: { ...config.retry, random: deps.random },
        scheduler,
        telemetry,
        // Between the insert and the confirm: see commit.ts for why not after it.
        ...(routes && { handOff: (events: readonly AcceptedEvent[]) => routes.enqueue(events) }),
      }),
      acknowledge(),
    ),
  )

  /** Answers every event the dead chain held, and gives the next chain a set of its own. */
  function strand(): number {
    const dead = inFlight
    inFlight = new Set()
    let stranded = 0
    for (const submission of dead) stranded += submission.abandon(STRANDED)
    return stranded
  }

  const committed$ = chain$.pipe(
    retry({
      delay: (error: unknown) => {
        // Answered first, whether or not anyone listens: `hook?.(…, strand())` would skip the call.
        const stranded = strand()
        telemetry.pipelineRestarted?.(error, stranded)
        return [0]
      },
    }),
  )
  const accepted = new Subject<AcceptedEvent>()
  const done = new Promise<void>((resolve) =>
    committed$.subscribe({
      next(batch) {
        // The events are built only for someone listening (validate.ts keeps properties as text).
        if (accepted.observed) for (const event of batch.events) accepted.next(event)
      },
      complete: resolve,
    }),
  )

  let open = true
  function offer(
    events: readonly unknown[],
    transport: Transport,
    onSettled: (results: EventResult[]) => void,
    bytes = 0,
  ): boolean {
    // Each event is charged an equal share of its submission's bytes and gives it back when it settles.
    const share = retainedBytes(bytes, events.length)
    if (!open || !admission.tryAcquire(events.length, share * events.length)) return false
    if (events.length === 0) {
      answer(transport, [], onSettled)
      return true
    }
    // The ingress Subject hands the submission to the chain running now, synchronously: it is that chain's.
    const submission = new Offered(events, transport, scheduler.now(), onSettled, share, inFlight)
    inFlight.add(submission)
    ingress.next(submission)
    return true
  }

  /**
   * A submission as the pipeline takes it: what it owes when it settles is kept in fields, not in
   * three closures per submission (with one event per frame, they were a good part of what a frame
   * kept alive until its ack).
   */
  class Offered extends Submission {
    constructor(
      events: readonly unknown[],
      transport: Transport,
      receivedAt: number,
      private readonly answerTo: (results: EventResult[]) => void,
      private readonly share: number,
      private readonly owner: Set<Submission>,
    ) {
      super(events, transport, receivedAt, IGNORE)
    }

    protected override eventSettled(): void {
      admission.release(1, this.share)
    }

    protected override allSettled(results: EventResult[]): void {
      this.owner.delete(this)
      answer(this.transport, results, this.answerTo)
    }
  }

  // An adapter that fails while answering (an ack it cannot write) fails that answer only: the
  // exception must not reach the operator that settled the event, or the supervisor would restart
  // the chain and strand every other client's events in flight.
  function answer(
    transport: Transport,
    results: EventResult[],
    onSettled: (results: EventResult[]) => void,
  ): void {
    telemetry.submissionSettled?.(transport, countResults(results))
    try {
      onSettled(results)
    } catch (error) {
      telemetry.answerFailed?.(transport, error)
    }
  }

  return {
    admission,
    accepted$: accepted.asObservable(),
    offer,
    submit(events, transport, bytes) {
      let resolve!: (results: EventResult[]) => void
      const settled = new Promise<EventResult[]>((r) => (resolve = r))
      return offer(events, transport, resolve, bytes) ? settled : undefined
    },
    async drain() {
      open = false
      ingress.complete()
      await done
      accepted.complete()
    },
  }
}
