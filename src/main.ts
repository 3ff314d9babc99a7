import { ConfigError, loadConfig, type Config } from './app/config.js'
import { applyHeapPolicy } from './app/heap-policy.js'
import { createLogger } from './telemetry/logger.js'
import { createMetrics } from './telemetry/metrics.js'
import { keepAbortFatal } from './process/abort-signal.js'
import { watchUncaughtErrors } from './process/uncaught-errors.js'
import { startWatchdog, type Watchdog } from './process/watchdog.js'
import { createSluice, type Sluice } from './app/create-sluice.js'
import { ConsumerNameInUseError } from './app/create-routing.js'
import { loadTransforms, type LoadedTransforms } from './app/transforms-module.js'
import { loadRoutesFile, RoutesFileError } from './app/routes-file.js'
import type { Route } from './streams/routing/route.js'

/**
 * The process: configuration → composition root → servers; signals settle what is in flight and
 * exit 0. Exit codes: 0 after a clean shutdown, 1 when a shutdown fails or overruns, or errors keep
 * escaping (uncaught-errors.ts), 2 for bad configuration. Embedded, an abort or a fatal signal
 * ends the process at once or within about a second (abort-signal.ts, watchdog.ts).
 */
async function main(): Promise<void> {
  applyHeapPolicy()
  let config: Config
  try {
    config = loadConfig()
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error
    for (const problem of error.problems)
      process.stderr.write(
        `sluice: invalid configuration: ${problem.variable}: ${problem.message}\n`,
      )
    process.exit(2)
  }
  let routes: Route[] = []
  if (config.ROUTES_FILE) {
    try {
      routes = loadRoutesFile(config.ROUTES_FILE)
    } catch (error) {
      if (!(error instanceof RoutesFileError)) throw error
      process.stderr.write(`sluice: invalid configuration: ROUTES_FILE: ${error.message}\n`)
      process.exit(2)
    }
  }
  let loaded: LoadedTransforms = { transforms: [], routeTransforms: {} }
  if (config.TRANSFORMS_MODULE) {
    try {
      loaded = await loadTransforms(
        config.TRANSFORMS_MODULE,
        routes.map((route) => route.name),
      )
    } catch (error) {
      process.stderr.write(
        `sluice: invalid configuration: TRANSFORMS_MODULE: ${error instanceof Error ? error.message : String(error)}\n`,
      )
      process.exit(2)
    }
  }
  const logger = createLogger(config.LOG_LEVEL)
  const metrics = createMetrics()
  // Installed before the composition root, so that what escapes while it starts is logged too.
  let shutdown: (reason: NodeJS.Signals | 'uncaught errors', exitCode?: number) => void = () =>
    process.exit(1)
  watchUncaughtErrors({
    logger,
    counter: metrics.uncaughtErrors,
    onFlood(count, windowMs) {
      logger.fatal(
        { count, windowMs },
        'errors keep escaping: shutting down so that a supervisor restarts the process',
      )
      shutdown('uncaught errors', 1)
    },
  })
  let sluice: Sluice
  try {
    sluice = await createSluice(config, {
      logger,
      metrics,
      transforms: loaded.transforms,
      routeTransforms: loaded.routeTransforms,
      routes,
    })
  } catch (error) {
    if (!(error instanceof ConsumerNameInUseError)) throw error
    process.stderr.write(`sluice: invalid configuration: ROUTE_CONSUMER: ${error.message}\n`)
    process.exit(2)
  }
  // Embedded chDB installs its fatal-signal handlers when its session starts (inside createSluice).
  let watchdog: Watchdog | undefined
  if (!config.CLICKHOUSE_URL) {
    keepAbortFatal(logger)
    watchdog = startWatchdog({
      onError: (error) => logger.error({ err: error }, 'watchdog thread failed: running unwatched'),
    })
  }
  const { port, wsPort } = await sluice.listen()
  logger.info(
    { http: port, ws: wsPort, dedupe: sluice.backends.dedupe, storage: sluice.backends.storage },
    `sluice listening: http :${port}, ws :${wsPort}; dedupe: ${sluice.backends.dedupe}; storage: ${sluice.backends.storage}`,
  )

  let stopping = false
  shutdown = (reason, exitCode = 0) => {
    if (stopping) return
    stopping = true
    logger.info({ signal: reason }, 'shutting down: settling events in flight')
    // If the main thread cannot act on its own timer (stuck), the watchdog ends the process.
    watchdog?.stopping(config.SHUTDOWN_TIMEOUT_MS + SHUTDOWN_MARGIN_MS)
    const timer = setTimeout(() => {
      logger.error(
        { timeoutMs: config.SHUTDOWN_TIMEOUT_MS, inflight: sluice.pipeline.admission.inflight },
        'shutdown timed out',
      )
      process.exit(1)
    }, config.SHUTDOWN_TIMEOUT_MS)
    timer.unref()
    sluice.stop().then(
      () => {
        logger.info('stopped cleanly')
        process.exit(exitCode)
      },
      (error: unknown) => {
        logger.error({ err: error }, 'shutdown failed')
        process.exit(1)
      },
    )
  }
  process.on('SIGTERM', () => shutdown('SIGTERM'))
  process.on('SIGINT', () => shutdown('SIGINT'))
}

/** Past SHUTDOWN_TIMEOUT_MS, how long the main thread has to exit by itself before the watchdog kills it. */
const SHUTDOWN_MARGIN_MS = 2000

main().catch((error: unknown) => {
  process.stderr.write(
    `sluice: failed to start: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
  )
  process.exit(1)
})
