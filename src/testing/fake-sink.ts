import { asyncScheduler, defer, map, timer, type SchedulerLike } from 'rxjs'
import type { AcceptedEvent } from '../streams/event.js'
import type { EventRow, EventSink } from '../streams/ports.js'

export interface FakeSinkOptions {
  /** virtual time in marble tests */
  readonly scheduler?: SchedulerLike
  /** how long each write takes; a function can make one batch slower than another */
  readonly latencyMs?: number | ((events: readonly AcceptedEvent[], attempt: number) => number)
  /** return an error to make write number `attempt` (1-based, across all batches) fail with it */
  readonly fail?: (events: readonly AcceptedEvent[], attempt: number) => unknown
  /** the sink's retry policy; every error is retriable unless told otherwise */
  readonly isRetriable?: (error: unknown) => boolean
}

export interface FakeSink extends EventSink {
  /** every committed batch with the time its write ended */
  readonly batches: Array<{ readonly at: number; readonly events: readonly AcceptedEvent[] }>
  readonly rows: () => AcceptedEvent[]
  attempts: number
}

/** An in-memory EventSink for marble tests: latency and failures on the scheduler's clock. */
export function createFakeSink(options: FakeSinkOptions = {}): FakeSink {
  const { scheduler = asyncScheduler, latencyMs = 0, fail, isRetriable = () => true } = options
  const sink: FakeSink = {
    batches: [],
    rows: () => sink.batches.flatMap((b) => b.events),
    attempts: 0,
    write(rows: readonly EventRow[]) {
      return defer(() => {
        const events = rows.map((row) => row.event)
        const attempt = ++sink.attempts
        const latency = typeof latencyMs === 'number' ? latencyMs : latencyMs(events, attempt)
        const error = fail?.(events, attempt)
        return timer(latency, scheduler).pipe(
          map(() => {
            // eslint-disable-next-line @typescript-eslint/only-throw-error -- a fake fails with whatever the test gives it
            if (error !== undefined) throw error
            sink.batches.push({ at: scheduler.now(), events })
          }),
        )
      })
    },
    isRetriable,
  }
  return sink
}
