import { ConfigError, loadConfig, type Config } from './config.js'
import { applyHeapPolicy } from './heap-policy.js'
import { createLogger } from './logger.js'
import { createSluice } from './sluice.js'
import { loadTransforms, type LoadedTransforms } from './transforms-module.js'
import { loadRoutesFile, RoutesFileError } from './routes-file.js'
import type { Route } from './streams/routing/route.js'

/** The process: configuration → composition root → servers; signals settle what is in flight and exit 0. */
async function main(): Promise<void> {
  applyHeapPolicy()
  let config: Config
  try {
    config = loadConfig()
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error
    for (const problem of error.problems) process.stderr.write(`sluice: invalid configuration: ${problem.variable}: ${problem.message}\n`)
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
      loaded = await loadTransforms(config.TRANSFORMS_MODULE, routes.map((route) => route.name))
    } catch (error) {
      process.stderr.write(`sluice: invalid configuration: TRANSFORMS_MODULE: ${error instanceof Error ? error.message : String(error)}\n`)
      process.exit(2)
    }
  }
  const logger = createLogger(config.LOG_LEVEL)
  const sluice = await createSluice(config, { logger, transforms: loaded.transforms, routeTransforms: loaded.routeTransforms, routes })
  const { port, wsPort } = await sluice.listen()
  logger.info(
    { http: port, ws: wsPort, dedupe: sluice.backends.dedupe, storage: sluice.backends.storage },
    `sluice listening: http :${port}, ws :${wsPort}; dedupe: ${sluice.backends.dedupe}; storage: ${sluice.backends.storage}`,
  )

  let stopping = false
  const shutdown = (signal: NodeJS.Signals) => {
    if (stopping) return
    stopping = true
    logger.info({ signal }, 'shutting down: settling events in flight')
    const timer = setTimeout(() => {
      logger.error({ timeoutMs: config.SHUTDOWN_TIMEOUT_MS, inflight: sluice.pipeline.admission.inflight }, 'shutdown timed out')
      process.exit(1)
    }, config.SHUTDOWN_TIMEOUT_MS)
    timer.unref()
    sluice.stop().then(
      () => {
        logger.info('stopped cleanly')
        process.exit(0)
      },
      (error: unknown) => {
        logger.error({ err: error }, 'shutdown failed')
        process.exit(1)
      },
    )
  }
  process.on('SIGTERM', shutdown)
  process.on('SIGINT', shutdown)
}

main().catch((error: unknown) => {
  process.stderr.write(`sluice: failed to start: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`)
  process.exit(1)
})
