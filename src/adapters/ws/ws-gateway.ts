import { randomUUID } from 'node:crypto'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { Duplex } from 'node:stream'
import type { Logger } from 'pino'
import type { Subscription } from 'rxjs'
import { WebSocketServer, type WebSocket } from 'ws'
import { createApiKeyCheck } from '../../wire/api-keys.js'
import { answerClientErrors, slowClientServerOptions } from '../../wire/slow-client-timeouts.js'
import type { Pipeline } from '../../streams/pipeline.js'
import { createAdmissionWaitList } from './admission-wait-list.js'
import {
  createConnectionActor,
  type ConnectionActor,
  type ConnectionHost,
} from './connection-actor.js'
import { createConnectionSweep } from './connection-sweep.js'
import { createSubscriberFanout, type SubscriberFanout } from './subscriber-fanout.js'
import { createTurnBudget } from './turn-budget.js'
import { createOriginCheck } from './origin-check.js'
import { refuseUpgrade, requestIdOf, upgradeKey } from './upgrade-refusal.js'
import { PER_MESSAGE_DEFLATE, resolveWsOptions, type WsGatewayOptions } from './ws-options.js'
import type { WsTelemetry } from './ws-telemetry.js'

export interface WsGatewayDeps {
  readonly pipeline: Pipeline
  /** for the gateway's own failures only: nothing is logged per connection or per event */
  readonly logger: Logger
  readonly telemetry?: WsTelemetry
  /** milliseconds; injectable for tests */
  readonly now?: () => number
  /** the REST port Sluice listens on: pages served there may connect when allowedOrigins is unset */
  readonly ownHttpPort?: () => number | undefined
}

export interface WsGatewayStats {
  readonly connections: number
  /** upgrades being completed */
  readonly upgrading: number
  /** the gateway's own timers: the heartbeat sweep while there are connections, the admission retry while a frame waits, the close deadline while closing */
  readonly timers: number
  readonly subscribers: number
  /** events of open connections in the pipeline */
  readonly inflightEvents: number
  /** the most events one connection has in the pipeline (bounded by maxInflightPerConnection) */
  readonly largestConnectionInflight: number
  /** publish frames read and not yet taken by the pipeline */
  readonly heldFrames: number
  readonly pausedConnections: number
  /** connections whose next frame waits for admission */
  readonly waitingForAdmission: number
}

export interface WsGateway {
  /** Starts listening on `port` (0: any free port); resolves with the port. */
  listen(): Promise<{ port: number }>
  /**
   * Graceful: refuses new upgrades, stops reading frames, lets every frame already read settle and
   * sends its ack, then closes each connection with 1001. Connections still open after
   * `closeTimeoutMs` are terminated. Resolves when every socket is closed and the server stopped.
   */
  close(): Promise<void>
  stats(): WsGatewayStats
}

/**
 * The WebSocket transport of API.md §4: one connection actor per socket (ws, on WS_PORT), over the
 * one pipeline. The gateway owns what is shared: the upgrade (API key, connection limit), the
 * registry of connections, ONE timer for heartbeats and deadlines, ONE subscription to the
 * accepted-events stream for every subscriber, ONE subscription to the admission water marks that
 * pauses and resumes reading on every socket, and the list of connections waiting for admission.
 */
export function createWsGateway(options: WsGatewayOptions, deps: WsGatewayDeps): WsGateway {
  const resolved = resolveWsOptions(options)
  const { pipeline, logger, telemetry = {} } = deps
  const now = deps.now ?? Date.now
  if (resolved.maxEventsPerFrame > pipeline.admission.maxInflight) {
    throw new RangeError(
      `ws option maxEventsPerFrame (${resolved.maxEventsPerFrame}) must not exceed the pipeline's MAX_INFLIGHT_EVENTS (${pipeline.admission.maxInflight})`,
    )
  }
  const keys = createApiKeyCheck(resolved.apiKeys)
  const originAllowed = createOriginCheck(
    resolved.allowedOrigins,
    deps.ownHttpPort ?? (() => undefined),
  )
  const connections = new Map<string, ConnectionActor>()
  // ws's own limit is the contract's (1009 over WS_MAX_FRAME_BYTES); the actor delays that close until its acks are out.
  const wss = new WebSocketServer({
    noServer: true,
    clientTracking: false,
    maxPayload: resolved.maxFrameBytes,
    perMessageDeflate: resolved.perMessageDeflate && PER_MESSAGE_DEFLATE,
  })
  // A handshake ws cannot take (no or a bad Sec-WebSocket-Key, another version, not GET): ws would
  // answer it in HTML; it is answered in the error shape instead, as every refusal here is.
  wss.on('wsClientError', (error: Error, socket: Duplex, request: IncomingMessage) => {
    const status = request.method === 'GET' ? 400 : 405
    telemetry.upgradeRefused?.(status, 'invalid_handshake')
    refuseUpgrade(
      request,
      socket,
      status,
      status === 400 ? 'invalid_request' : 'method_not_allowed',
      `not a WebSocket handshake Sluice can take (RFC 6455): ${error.message}`,
      status === 400 ? { 'Sec-WebSocket-Version': '13' } : { Allow: 'GET' },
    )
  })
  const server = createServer(
    slowClientServerOptions({
      headersTimeout: resolved.headersTimeoutMs,
      requestTimeout: resolved.requestTimeoutMs,
    }),
    notAnUpgrade,
  )
  answerClientErrors(server)
  server.on('upgrade', onUpgrade)
  server.on('error', (error) =>
    logger.error({ err: error, component: 'ws' }, 'websocket server error'),
  )

  const sweep = createConnectionSweep(() => connections.values(), {
    pingIntervalMs: resolved.pingIntervalMs,
    closeTimeoutMs: resolved.closeTimeoutMs,
    messageTimeoutMs: resolved.requestTimeoutMs,
    maxIncompleteBytes: pipeline.admission.maxInflightBytes,
    now,
    onPeerTimedOut: telemetry.peerTimedOut?.bind(telemetry),
    onCloseTimedOut: telemetry.closeTimedOut?.bind(telemetry),
  })
  const waiting = createAdmissionWaitList()
  let fanout: SubscriberFanout | undefined
  let waterMarks: Subscription | undefined
  let accepting = false
  let upgrading = 0
  let closing: Promise<void> | undefined
  let closeDeadline: NodeJS.Timeout | undefined
  let allClosed: (() => void) | undefined

  const host: ConnectionHost = {
    options: resolved,
    pipeline,
    telemetry,
    turnBudget: createTurnBudget(),
    now,
    eventsSettled: () => waiting.roomMayHaveCome(),
    waitForAdmission: (connection) => waiting.add(connection),
    subscribe: (connection, matches) => fanout?.subscribe(connection, matches.patterns),
    unsubscribe: (connection) => fanout?.unsubscribe(connection),
    faulted(connection, error) {
      telemetry.frameFailed?.()
      logger.error(
        { err: error, connectionId: connection.id },
        'handling a frame failed; closing that connection (1011)',
      )
    },
    closed(connection, code) {
      connections.delete(connection.id)
      waiting.remove(connection)
      fanout?.unsubscribe(connection)
      telemetry.connectionClosed?.(code)
      if (connections.size === 0) {
        sweep.stop()
        allClosed?.()
      }
    },
  }

  function onUpgrade(request: IncomingMessage, socket: Duplex, head: Buffer): void {
    if (!accepting) {
      telemetry.upgradeRefused?.(503, 'shutting_down')
      return refuseUpgrade(
        request,
        socket,
        503,
        'shutting_down',
        'the server is shutting down; connect again shortly',
        { 'Retry-After': '1' },
      )
    }
    if (!originAllowed(request)) {
      telemetry.upgradeRefused?.(403, 'origin_not_allowed')
      return refuseUpgrade(
        request,
        socket,
        403,
        'origin_not_allowed',
        "this page may not connect: its Origin is not in CORS_ORIGINS (or, with CORS_ORIGINS unset, not Sluice's own HTTP origin)",
      )
    }
    const holder = keys.identify(upgradeKey(request))
    if (holder === undefined) {
      telemetry.upgradeRefused?.(401, 'unauthorized')
      return refuseUpgrade(
        request,
        socket,
        401,
        'unauthorized',
        'an API key is required: Authorization: Bearer <key>, X-API-Key: <key>, or ?api_key=<key>',
      )
    }
    if (connections.size + upgrading >= resolved.maxConnections) {
      telemetry.upgradeRefused?.(503, 'too_many_connections')
      return refuseUpgrade(
        request,
        socket,
        503,
        'overloaded',
        `the server holds its maximum of ${resolved.maxConnections} connections; connect again shortly`,
        { 'Retry-After': '1' },
      )
    }
    // Counted until ws hands the socket over, or gives up on a bad handshake (it then ends the socket).
    upgrading++
    let counted = true
    const uncount = () => {
      if (!counted) return
      counted = false
      upgrading--
    }
    socket.once('close', uncount)
    wss.handleUpgrade(request, socket, head, function upgraded(ws: WebSocket) {
      uncount()
      socket.off('close', uncount)
      if (!accepting) return ws.close(1001, 'server shutting down')
      const connection = createConnectionActor(randomUUID(), ws, socket, host, holder)
      connections.set(connection.id, connection)
      telemetry.connectionOpened?.()
      sweep.start()
    })
  }

  function onWaterMark(): void {
    for (const connection of connections.values()) connection.updateReading()
    if (!pipeline.admission.paused) waiting.roomMayHaveCome()
  }

  return {
    listen() {
      return new Promise((resolve, reject) => {
        server.once('error', reject)
        server.listen(resolved.port, resolved.host, () => {
          server.off('error', reject)
          accepting = true
          fanout = createSubscriberFanout(pipeline.accepted$, {
            maxBufferedBytes: resolved.subscriberMaxBufferedBytes,
            maxTotalBufferedBytes: resolved.subscribersMaxBufferedBytes,
            onDropped: telemetry.subscriberDropped?.bind(telemetry),
          })
          waterMarks = pipeline.admission.paused$.subscribe(onWaterMark)
          resolve({ port: (server.address() as AddressInfo).port })
        })
      })
    },

    close() {
      closing ??= (async () => {
        accepting = false
        const stopped = new Promise<void>((resolve) => server.close(() => resolve()))
        if (connections.size > 0) {
          const drained = new Promise<void>((resolve) => (allClosed = resolve))
          for (const connection of connections.values())
            connection.closeAfterReplies(1001, 'server shutting down')
          closeDeadline = setTimeout(() => {
            for (const connection of connections.values()) {
              telemetry.closeTimedOut?.()
              connection.terminate()
            }
          }, resolved.closeTimeoutMs)
          await drained
          clearTimeout(closeDeadline)
          closeDeadline = undefined
        }
        await stopped
        sweep.stop()
        waiting.clear()
        waterMarks?.unsubscribe()
        fanout?.close()
        wss.close()
      })()
      return closing
    },

    stats() {
      let inflightEvents = 0
      let largestConnectionInflight = 0
      let heldFrames = 0
      let pausedConnections = 0
      for (const connection of connections.values()) {
        inflightEvents += connection.inflightEvents
        largestConnectionInflight = Math.max(largestConnectionInflight, connection.inflightEvents)
        heldFrames += connection.heldFrames
        if (connection.readingPaused) pausedConnections++
      }
      return {
        connections: connections.size,
        upgrading,
        timers: (sweep.running ? 1 : 0) + waiting.timers + (closeDeadline === undefined ? 0 : 1),
        subscribers: fanout?.size ?? 0,
        inflightEvents,
        largestConnectionInflight,
        heldFrames,
        pausedConnections,
        waitingForAdmission: waiting.size,
      }
    },
  }
}

/** The WS port speaks only WebSocket: a plain request is told to upgrade. */
function notAnUpgrade(request: IncomingMessage, response: ServerResponse): void {
  const requestId = requestIdOf(request)
  const body = JSON.stringify({
    error: {
      code: 'upgrade_required',
      message: 'this port speaks WebSocket (API.md §4); the REST API is on PORT',
      requestId,
    },
  })
  response.writeHead(426, {
    'content-type': 'application/json',
    connection: 'close',
    upgrade: 'websocket',
    'content-length': Buffer.byteLength(body),
    'x-request-id': requestId,
  })
  response.end(body)
  request.resume()
}
