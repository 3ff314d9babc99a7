import type { Logger } from 'pino'

/**
 * Makes `abort()` end the process again once embedded chDB is running.
 *
 * Why: creating a chDB session installs ClickHouse's fatal-signal handler for SIGABRT, SIGSEGV,
 * SIGBUS, SIGILL, SIGFPE, SIGSYS, SIGTRAP and SIGTSTP (ClickHouse `SignalHandlers.cpp`). In the
 * server that handler writes the signal to a pipe read by a listener thread, then sleeps in 1 s steps
 * until the listener says it has logged the fault, at most 300 of them, then 3 s more, and only then
 * re-raises the signal with its default action. Embedded, nobody reads the pipe: the thread that
 * aborted sleeps for about 303 s, and if it is the main thread (a V8 out-of-memory, `process.abort()`,
 * `kill -ABRT`) no JavaScript runs, so SIGTERM is taken by Node and never acted on.
 *
 * A JavaScript SIGABRT listener replaces that handler with libuv's, which only notes the signal and
 * returns. glibc's `abort()` then restores the default action and raises SIGABRT again, so a V8
 * out-of-memory or any native abort ends the process at once (status 134, a core dump if enabled).
 * A SIGABRT sent from outside reaches this listener, which aborts the same way.
 *
 * Call it after the chDB session exists (chDB installs its handlers then, not at import). The fault
 * signals (SIGSEGV…) cannot be handled like this: a handler that returns re-runs the faulting
 * instruction forever. The watchdog covers them.
 */
export function keepAbortFatal(logger: Logger): void {
  process.on('SIGABRT', function abortNow() {
    logger.fatal('SIGABRT received: aborting')
    process.abort()
  })
}
