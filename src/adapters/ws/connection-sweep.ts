/** What the sweep needs of a connection. */
export interface SweptConnection {
  readonly lastHeardAt: number
  readonly drainingSince: number | undefined
  /** bytes of the data message it is receiving (its frames' declared lengths so far); 0 between messages */
  readonly incompleteMessageBytes: number
  /** messages received so far: a change means the one in progress ended */
  readonly messagesReceived: number
  ping(): void
  terminate(): void
  updateReading(): void
  closeAfterReplies(code?: number, reason?: string): void
}

export interface ConnectionSweepOptions {
  /** WS_PING_INTERVAL_MS: a ping to every connection this often; silent for two intervals is dead */
  readonly pingIntervalMs: number
  /** a connection still draining after this long is terminated */
  readonly closeTimeoutMs: number
  readonly now: () => number
  /** HTTP_REQUEST_TIMEOUT_MS: a message must arrive whole within it, as a request must (else 1008) */
  readonly messageTimeoutMs: number
  /**
   * MAX_INFLIGHT_BYTES: the incomplete messages of all connections, in all; past it the connections
   * with the largest are closed (1013, try again later) until they are under it
   */
  readonly maxIncompleteBytes: number
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
  const { pingIntervalMs, closeTimeoutMs, messageTimeoutMs, maxIncompleteBytes, now } = options
  const tickMs = Math.max(1, Math.min(Math.floor(pingIntervalMs / 4), 1000))
  let timer: NodeJS.Timeout | undefined
  let lastPingRound = 0
  /** for each connection receiving a message: when the sweep first saw it, and its count then */
  const incomplete = new WeakMap<SweptConnection, { since: number; atMessage: number }>()

  function tick(): void {
    let incompleteBytes = 0
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
      } else if (messageTooSlow(connection, at)) {
        connection.closeAfterReplies(1008, 'a message must arrive whole within the request timeout')
      } else {
        if (pingRound) connection.ping()
        // A safety net for resuming: the events that normally resume reading (drain, a water mark) are edge-triggered.
        connection.updateReading()
        // A connection closing is on its way out with what it holds: only the others can be shed.
        if (connection.drainingSince === undefined)
          incompleteBytes += connection.incompleteMessageBytes
      }
    }
    if (incompleteBytes > maxIncompleteBytes) closeLargestIncomplete(incompleteBytes)
  }

  /**
   * Whether the message `connection` is receiving has been on its way for messageTimeoutMs: a
   * peer that sends a message's first megabyte and never the rest, while it answers every ping,
   * held that megabyte for as long as it liked.
   */
  function messageTooSlow(connection: SweptConnection, at: number): boolean {
    if (connection.incompleteMessageBytes === 0) {
      incomplete.delete(connection)
      return false
    }
    const seen = incomplete.get(connection)
    if (seen === undefined || seen.atMessage !== connection.messagesReceived) {
      incomplete.set(connection, { since: at, atMessage: connection.messagesReceived })
      return false
    }
    return at - seen.since >= messageTimeoutMs
  }

  /** Closes the connections with the largest incomplete messages until the rest fit the budget. */
  function closeLargestIncomplete(total: number): void {
    const largest = [...connections()]
      .filter((connection) => connection.drainingSince === undefined)
      .sort((a, b) => b.incompleteMessageBytes - a.incompleteMessageBytes)
    for (const connection of largest) {
      if (total <= maxIncompleteBytes || connection.incompleteMessageBytes === 0) break
      total -= connection.incompleteMessageBytes
      connection.closeAfterReplies(
        1013,
        'too many incomplete messages on the server; try again later',
      )
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
