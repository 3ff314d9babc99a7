/** What the sweep needs of a connection. */
export interface SweptConnection {
  readonly lastHeardAt: number
  readonly drainingSince: number | undefined
  ping(): void
  terminate(): void
  updateReading(): void
}

export interface ConnectionSweepOptions {
  /** WS_PING_INTERVAL_MS: a ping to every connection this often; silent for two intervals is dead */
  readonly pingIntervalMs: number
  /** a connection still draining after this long is terminated */
  readonly closeTimeoutMs: number
  readonly now: () => number
  readonly onPeerTimedOut?: () => void
  readonly onCloseTimedOut?: () => void
}

export interface ConnectionSweep {
  /** Starts the timer if it is not running (the gateway calls it when a connection opens). */
  start(): void
  /** Stops the timer (the gateway calls it when the last connection closes, and on close). */
  stop(): void
  readonly running: boolean
}

/**
 * Heartbeats and close deadlines for every connection of a gateway, with one timer in all: timers
 * stay O(1) however many connections there are, and a connection's teardown has no timer to clear.
 *
 * The timer ticks four times per ping interval (at most once a second), so that a silent peer is
 * terminated between 2 and 2¼ intervals after it was last heard, and a live one never before 2:
 *
 * ```
 * ping interval I, ticks every I/4
 * pings:  P---------------P---------------P-------…
 * peer:   -pong----------- (dies)
 * sweep:                                   ^ silent ≥ 2·I: terminate
 * ```
 */
export function createConnectionSweep(
  connections: () => Iterable<SweptConnection>,
  options: ConnectionSweepOptions,
): ConnectionSweep {
  const { pingIntervalMs, closeTimeoutMs, now } = options
  const tickMs = Math.max(1, Math.min(Math.floor(pingIntervalMs / 4), 1000))
  let timer: NodeJS.Timeout | undefined
  let lastPingRound = 0

  function tick(): void {
    const at = now()
    const pingRound = at - lastPingRound >= pingIntervalMs
    if (pingRound) lastPingRound = at
    for (const connection of connections()) {
      if (
        connection.drainingSince !== undefined &&
        at - connection.drainingSince >= closeTimeoutMs
      ) {
        options.onCloseTimedOut?.()
        connection.terminate()
      } else if (at - connection.lastHeardAt >= 2 * pingIntervalMs) {
        options.onPeerTimedOut?.()
        connection.terminate()
      } else {
        if (pingRound) connection.ping()
        // A safety net for resuming: the events that normally resume reading (drain, a water mark) are edge-triggered.
        connection.updateReading()
      }
    }
  }

  return {
    start() {
      if (timer !== undefined) return
      lastPingRound = now()
      timer = setInterval(tick, tickMs)
      // The server socket keeps the process alive while it listens; this timer need not.
      timer.unref()
    },
    stop() {
      if (timer === undefined) return
      clearInterval(timer)
      timer = undefined
    },
    get running() {
      return timer !== undefined
    },
  }
}
