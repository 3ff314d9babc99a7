import type { Logger } from 'pino'
import type { Counter } from 'prom-client'

export type UncaughtKind = 'uncaughtException' | 'unhandledRejection'

export interface UncaughtErrorsOptions {
  readonly logger: Logger
  /** `sluice_uncaught_errors_total{kind}` */
  readonly counter: Counter<'kind'>
  /** called once when more than `maxPerWindow` arrive within `windowMs` */
  readonly onFlood: (count: number, windowMs: number) => void
  readonly maxPerWindow?: number
  readonly windowMs?: number
  /** the emitter to listen on (tests pass their own) */
  readonly target?: NodeJS.EventEmitter
}

/**
 * The last net. The receive paths and handlers contain their own failures; whatever
 * still escapes is logged (one line) and counted, and the process keeps serving: with an
 * 'uncaughtException' listener Node does not exit, and one client's bad input must not end every
 * other client's connections and in-flight answers.
 *
 * The bound: one escape is a bug confined to whoever hit it; more than 50 in 10 seconds means
 * something shared is broken (a loop throwing on every tick, a pipeline failing every batch), and
 * serving on would hide it. `onFlood` then ends the process (main: a graceful shutdown, exit 1) so
 * the supervisor restarts it. The bound is high enough that a burst from one misbehaving client
 * (a few dozen frames at once) does not turn into a restart that costs every other client.
 */
export function watchUncaughtErrors(options: UncaughtErrorsOptions): () => void {
  const {
    logger,
    counter,
    onFlood,
    maxPerWindow = 50,
    windowMs = 10_000,
    target = process,
  } = options
  const recent: number[] = []
  let flooded = false

  function record(kind: UncaughtKind, error: unknown): void {
    counter.inc({ kind })
    const summary = summarize(error)
    try {
      // `error`, not pino's `err`: its serializer would rewrite the bounded summary (type: 'Object').
      logger.error({ kind, error: summary }, `${kind}: logged and counted; still serving`)
    } catch {
      // A logger that throws here would make Node exit (an error inside the handler is fatal).
      process.stderr.write(`sluice: ${kind}: ${summary.type}: ${summary.message}\n`)
    }
    const now = Date.now()
    recent.push(now)
    while (recent.length > 0 && recent[0]! <= now - windowMs) recent.shift()
    if (recent.length > maxPerWindow && !flooded) {
      flooded = true
      onFlood(recent.length, windowMs)
    }
  }
  const onException = function uncaughtException(error: unknown) {
    record('uncaughtException', error)
  }
  const onRejection = function unhandledRejection(reason: unknown) {
    record('unhandledRejection', reason)
  }
  // Both series exist from the start, so a rate or an alert on them reads 0, not "no data".
  counter.inc({ kind: 'uncaughtException' }, 0)
  counter.inc({ kind: 'unhandledRejection' }, 0)
  target.on('uncaughtException', onException)
  target.on('unhandledRejection', onRejection)
  return function unwatch() {
    target.off('uncaughtException', onException)
    target.off('unhandledRejection', onRejection)
  }
}

const MESSAGE_CHARS = 500
const STACK_CHARS = 4000

/**
 * What goes in the log line, bounded: the value may carry a client's input (an error message that
 * quotes a frame), and may be anything that was thrown: a getter that throws, a `toString` that
 * recurses. Every read is guarded, because throwing from here would end the process.
 */
export function summarize(error: unknown): { type: string; message: string; stack?: string } {
  const read = (get: () => unknown): string | undefined => {
    try {
      const value = get()
      // eslint-disable-next-line @typescript-eslint/no-base-to-string -- a thrown value may be anything; this is the one conversion every value has, and it is guarded
      return value === undefined ? undefined : String(value)
    } catch {
      return undefined
    }
  }
  if (error instanceof Error) {
    const stack = read(() => error.stack)
    return {
      type: read(() => error.constructor.name) ?? 'Error',
      message: (read(() => error.message) ?? '(unreadable message)').slice(0, MESSAGE_CHARS),
      ...(stack === undefined ? {} : { stack: stack.slice(0, STACK_CHARS) }),
    }
  }
  return {
    type: error === null ? 'null' : typeof error,
    message: (read(() => error) ?? '(unprintable value)').slice(0, MESSAGE_CHARS),
  }
}
