import { backoffDelay } from './backoff.js'
import { cutFrames, type CutFrame } from './frame-cutter.js'
import { createFrameTracker, type FrameTracker } from './frame-tracker.js'
import { createInflightWindow } from './inflight-window.js'
import { resolveOptions, type ClientOptions } from './options.js'
import {
  ProtocolViolation,
  readServerMessage,
  type ServerMessage,
  type WireResult,
} from './protocol.js'
import {
  failedResult,
  finalResult,
  itemsOf,
  settle,
  type Item,
  type PublishResult,
} from './publication.js'
import { createRetryQueue } from './retry-queue.js'
import type { SluiceClient } from './sluice-client.js'
import { createListener, createSubscriptionSet, type Listener } from './subscriptions.js'
import {
  abandon,
  resolveWebSocket,
  withApiKey,
  type WebSocketConstructor,
  type WebSocketLike,
} from './web-socket.js'

type Payload = Item[] | readonly Listener[] | undefined

const CLIENT_CLOSE_WAIT_MS = 1000

/**
 * The WebSocket client of API.md §10. One connection at a time; everything that goes out is a
 * frame the server answers in order, kept in a FrameTracker until then. Events wait, in this
 * order: for room in the window (publish), in `outgoing` (frames to send: first those a lost
 * connection left unanswered, then new ones), in `delayed` (events answered `failed`, until
 * their backoff is over), then on the wire.
 *
 * ```
 * publish ─► window ─► outgoing ─► wire ─► ack ─► settled (accepted / duplicate / rejected)
 *                         ▲  ▲               │
 *                         │  └── delayed ◄───┤ failed (within retryBudgetMs)
 *                         └── connection lost: every unanswered frame, in order
 * ```
 */
export function createClient(options: ClientOptions): SluiceClient {
  const config = resolveOptions(options)
  const inflight = createInflightWindow(config.maxInflightEvents)
  const url = withApiKey(config.url, config.apiKey)
  const constructorReady = resolveWebSocket(config.WebSocket)
  // Every rejection is handled where it is awaited; this one must not count as unhandled before.
  constructorReady.catch(() => {})
  // A frame on the connection, answered in turn; before the welcome there is nothing to say it on.
  const subscriptions = createSubscriptionSet((text, kind, listeners) =>
    control(text, kind, listeners),
  )

  let socket: WebSocketLike | undefined
  let tracker: FrameTracker<Payload> = createFrameTracker()
  let welcomed = false
  let limits = { maxEventsPerFrame: config.maxEventsPerFrame, maxFrameBytes: Infinity }
  let outgoing: Item[][] = []
  const delayed = createRetryQueue<Item>((items) => {
    outgoing.push(items)
    if (welcomed) flush()
    else markTrouble()
  })
  let heartbeat: ReturnType<typeof setInterval> | undefined
  let reconnectTimer: ReturnType<typeof setTimeout> | undefined
  let expiryTimer: ReturnType<typeof setTimeout> | undefined
  let attempts = 0
  let connections = 0
  let resentEvents = 0
  let lastHeard = 0
  let pingOut = false
  let lastTrouble = 'not connected yet'
  let unsettledPublishes = 0
  let closing: Promise<void> | undefined
  let closed: (() => void) | undefined
  let finished = false
  /** set when there is no WebSocket to use at all: every event fails with it at once */
  let fatal: string | undefined

  connect()

  function connect(): void {
    constructorReady.then(open, (error: unknown) => {
      // No WebSocket at all: nothing will ever be delivered, so say so now, not after the budget.
      fatal = lastTrouble = errorText(error)
      for (const frame of outgoing) for (const item of frame) give(item, fatal)
      outgoing = []
    })
  }

  function open(WebSocket: WebSocketConstructor): void {
    if (finished || socket !== undefined) return
    let ws: WebSocketLike
    try {
      ws = new WebSocket(url)
    } catch (error) {
      return lost(`cannot connect: ${errorText(error)}`)
    }
    socket = ws
    connections++
    tracker = createFrameTracker()
    welcomed = false
    pingOut = false
    lastHeard = Date.now()
    ws.onmessage = (event) => {
      if (socket === ws) receive(event.data)
    }
    ws.onerror = (event) => {
      // the close that follows is what acts; this says why
      if (socket === ws) lastTrouble = errorText(event.error ?? event.message ?? 'network error')
    }
    ws.onclose = (event) => {
      if (socket !== ws) return
      const why = event.code === 1006 ? lastTrouble : `${event.code} ${event.reason}`.trim()
      lost(`connection closed (${why})`)
    }
    heartbeat = setInterval(beat, config.heartbeatIntervalMs)
  }

  /** A ping after a quiet interval; a connection silent past the timeout is dead (browsers never see ws pings). */
  function beat(): void {
    const silent = Date.now() - lastHeard
    if (silent >= config.heartbeatTimeoutMs)
      return lost(
        welcomed
          ? `no message from the server for ${silent} ms`
          : `no welcome from the server within ${silent} ms`,
      )
    if (welcomed && !pingOut && silent >= config.heartbeatIntervalMs) {
      pingOut = true
      control('{"op":"ping"}', 'ping', undefined)
    }
  }

  function receive(data: unknown): void {
    lastHeard = Date.now()
    try {
      handle(readServerMessage(data))
    } catch (error) {
      if (!(error instanceof ProtocolViolation)) throw error
      lost(`protocol violation: ${error.message}`)
    }
  }

  function handle(message: ServerMessage): void {
    switch (message.op) {
      case 'welcome':
        return welcome(message.maxEventsPerFrame, message.maxFrameBytes)
      case 'ack': {
        const { seq, results } = message
        const frame = tracker.answer(seq, 'ack', (sent) => checkAck(sent.payload, results, seq))
        answered(frame.payload as Item[], results)
        return good()
      }
      case 'error': {
        const frame = tracker.answer(message.seq, 'error')
        refused(frame.kind, frame.payload, message.code, message.message)
        return good()
      }
      case 'pong':
        tracker.answer(message.seq, 'pong')
        pingOut = false
        return good()
      case 'subscribed': {
        const frame = tracker.answer(message.seq, 'subscribed')
        subscriptions.confirmed(frame.payload as Listener[])
        return good()
      }
      case 'unsubscribed':
        tracker.answer(message.seq, 'unsubscribed')
        return good()
      case 'notice':
        // subscriber_too_slow: the server dropped the subscription; take it again.
        if (message.code === 'subscriber_too_slow') subscriptions.resubscribe()
        return
      case 'event':
        return subscriptions.deliver(message.event)
      case 'unknown':
        return
    }
  }

  function welcome(maxEventsPerFrame: number, maxFrameBytes: number): void {
    if (welcomed) return
    welcomed = true
    limits = {
      maxEventsPerFrame: Math.min(config.maxEventsPerFrame, maxEventsPerFrame),
      maxFrameBytes,
    }
    clearTimeout(expiryTimer)
    expiryTimer = undefined
    // Subscribe first, then every frame that had no answer, in order, then the rest.
    subscriptions.resubscribe()
    flush()
  }

  /** The connection answered something right: the next loss starts its backoff afresh. */
  function good(): void {
    attempts = 0
  }

  function checkAck(payload: Payload, results: readonly WireResult[], seq: number): void {
    const items = payload as Item[]
    if (results.length !== items.length)
      throw new ProtocolViolation(
        `the ack of frame ${seq} has ${results.length} results for ${items.length} events`,
      )
    for (let i = 0; i < items.length; i++) {
      const id = results[i]!.id
      if (id !== undefined && id !== items[i]!.id)
        throw new ProtocolViolation(
          `the ack of frame ${seq} answers for event ${id}, not ${items[i]!.id}`,
        )
    }
  }

  function answered(items: Item[], results: readonly WireResult[]): void {
    let again: Item[] | undefined
    for (let i = 0; i < items.length; i++) {
      const item = items[i]!
      const result = finalResult(item, results[i]!)
      if (result !== undefined) done(item, result)
      else (again ??= []).push(item)
    }
    if (again !== undefined) retryLater(again, 'the server could not commit it (failed)')
  }

  function refused(kind: string, payload: Payload, code: string, message: string): void {
    if (kind === 'subscribe')
      return subscriptions.refused(
        payload as Listener[],
        `the server refused the subscription: ${code}: ${message}`,
      )
    if (kind === 'ping') pingOut = false
    if (kind !== 'publish') return
    const items = payload as Item[]
    if (code === 'too_many_events' && items.length > 1) {
      // The server takes fewer per frame than it said: halve and send again, first.
      limits.maxEventsPerFrame = Math.max(1, Math.floor(items.length / 2))
      outgoing.unshift(items)
      return flush()
    }
    if (code === 'internal' || code === 'overloaded')
      return retryLater(items, `the server could not take the frame (${code}: ${message})`)
    for (const item of items) give(item, `the server refused the frame: ${code}: ${message}`)
  }

  /** Items answered `failed`: sent again after a backoff, within their retry budget. */
  function retryLater(items: Item[], why: string): void {
    const now = Date.now()
    let failures = 0
    const keep: Item[] = []
    for (const item of items) {
      item.troubleSince ??= now
      failures = Math.max(failures, item.failures++)
      if (now - item.troubleSince >= config.retryBudgetMs) give(item, why)
      else keep.push(item)
    }
    if (keep.length === 0) return
    delayed.add(keep, now + backoffDelay(failures, config.backoff))
  }

  /** Sends every waiting frame, split to the server's limits; items past their budget fail instead. */
  function flush(): void {
    if (!welcomed || socket === undefined) return
    const ws = socket
    let taken = 0
    let broken: unknown
    for (; taken < outgoing.length; taken++) {
      const frames = prepare(outgoing[taken]!)
      let sent = 0
      try {
        for (; sent < frames.length; sent++) {
          const { items, text } = frames[sent]!
          ws.send(text)
          tracker.sent('publish', items)
          for (const item of items) if (item.sends++ > 0) resentEvents++
        }
      } catch (error) {
        // What was not sent waits at the head; the connection is done for.
        outgoing[taken] = frames.slice(sent).flatMap((frame) => frame.items)
        broken = error
        break
      }
    }
    outgoing.splice(0, taken)
    if (broken !== undefined) lost(`sending failed: ${errorText(broken)}`)
  }

  /** One waiting frame as the server will take it: live items only, cut to its limits. */
  function prepare(frame: Item[]): CutFrame<Item>[] {
    const now = Date.now()
    const live = frame.filter((item) => {
      if (item.settled) return false
      if (item.troubleSince === undefined || now - item.troubleSince < config.retryBudgetMs)
        return true
      give(item, `not delivered within retryBudgetMs (${config.retryBudgetMs} ms): ${lastTrouble}`)
      return false
    })
    return cutFrames(live, eventOf, limits, (item, bytes) =>
      give(
        item,
        `the event is ${bytes} bytes as JSON; the server takes frames of at most ${limits.maxFrameBytes}`,
      ),
    )
  }

  function control(
    text: string,
    kind: 'ping' | 'subscribe' | 'unsubscribe',
    payload: Payload,
  ): void {
    if (socket === undefined || !welcomed) return
    try {
      socket.send(text)
    } catch (error) {
      return lost(`sending failed: ${errorText(error)}`)
    }
    tracker.sent(kind, payload)
  }

  /**
   * The connection is gone (closed, dropped for silence or a protocol violation, or never made):
   * every frame it left unanswered goes back to the head of the queue, in order, and the client
   * connects again after a backoff — unless it is closing and nothing is left to settle.
   */
  function lost(reason: string): void {
    lastTrouble = reason
    if (socket !== undefined) abandon(socket, 4000, 'connection given up')
    socket = undefined
    welcomed = false
    clearInterval(heartbeat)
    heartbeat = undefined
    const unanswered = tracker.unanswered()
    tracker = createFrameTracker()
    const back = unanswered.filter((frame) => frame.kind === 'publish')
    outgoing = back.map((frame) => frame.payload as Item[]).concat(outgoing)
    markTrouble()
    if (maybeFinish()) return
    const delay = backoffDelay(attempts++, config.backoff)
    reconnectTimer = setTimeout(() => {
      reconnectTimer = undefined
      connect()
    }, delay)
  }

  /**
   * Nothing waiting can be sent now: its retry budget runs. Those past it fail now; a timer fails
   * the next ones when theirs runs out, if no connection comes first.
   */
  function markTrouble(): void {
    if (welcomed) return
    const now = Date.now()
    let earliest = Infinity
    const waiting = outgoing
    outgoing = []
    for (const frame of waiting) {
      const live: Item[] = []
      for (const item of frame) {
        if (item.settled) continue
        item.troubleSince ??= now
        if (now - item.troubleSince >= config.retryBudgetMs)
          give(
            item,
            `not delivered within retryBudgetMs (${config.retryBudgetMs} ms): ${lastTrouble}`,
          )
        else {
          live.push(item)
          earliest = Math.min(earliest, item.troubleSince)
        }
      }
      if (live.length > 0) outgoing.push(live)
    }
    clearTimeout(expiryTimer)
    expiryTimer = undefined
    if (earliest !== Infinity)
      expiryTimer = setTimeout(
        () => {
          expiryTimer = undefined
          markTrouble()
          maybeFinish()
        },
        earliest + config.retryBudgetMs - now,
      )
  }

  function enqueue(items: Item[]): void {
    if (fatal !== undefined) return items.forEach((item) => give(item, fatal!))
    outgoing.push(items)
    if (welcomed) flush()
    else markTrouble()
  }

  /** A final result: the item leaves the window. */
  function done(item: Item, result: PublishResult): void {
    if (settle(item, result)) inflight.give(1)
  }

  function give(item: Item, message: string): void {
    done(item, failedResult(item, message))
  }

  /** When closing and every publish has settled: the last timers go and the socket closes. */
  function maybeFinish(): boolean {
    if (closing === undefined || finished || unsettledPublishes > 0) return finished
    finished = true
    welcomed = false
    for (const timer of [reconnectTimer, expiryTimer]) clearTimeout(timer)
    clearInterval(heartbeat)
    reconnectTimer = expiryTimer = heartbeat = undefined
    delayed.clear()
    subscriptions.clear('sluice/client: closed')
    const ws = socket
    const open = ws !== undefined && ws.readyState === 1
    socket = undefined
    if (ws === undefined || !open) {
      if (ws !== undefined) abandon(ws, 1000, 'client closed')
      closed!()
      return true
    }
    // A clean close handshake, bounded: a peer that never answers it is cut off.
    const end = () => {
      clearTimeout(wait)
      abandon(ws, 1000, 'client closed')
      closed!()
    }
    const wait = setTimeout(end, CLIENT_CLOSE_WAIT_MS)
    ws.onmessage = null
    ws.onclose = end
    try {
      ws.close(1000, 'client closed')
    } catch {
      end()
    }
    return true
  }

  return {
    async publish(events) {
      if (closing !== undefined) throw new Error('sluice/client: publish after close()')
      let resolve!: (results: PublishResult[]) => void
      const settled = new Promise<PublishResult[]>((r) => (resolve = r))
      const items = itemsOf(events, resolve)
      if (items.length === 0) return []
      unsettledPublishes++
      try {
        const chunk = Math.min(config.maxEventsPerFrame, config.maxInflightEvents)
        for (let i = 0; i < items.length; i += chunk) {
          const part = items.slice(i, i + chunk)
          await inflight.take(part.length)
          enqueue(part)
        }
        return await settled
      } finally {
        unsettledPublishes--
        maybeFinish()
      }
    },

    subscribe(types, onEvent) {
      if (closing !== undefined) {
        const { listener, ready } = createListener([], onEvent)
        listener.refuse(new Error('sluice/client: subscribe after close()'))
        return { ready, unsubscribe() {} }
      }
      return subscriptions.add(types, onEvent)
    },

    close() {
      if (closing !== undefined) return closing
      closing = new Promise<void>((resolve) => (closed = resolve))
      subscriptions.clear('sluice/client: closed before the server confirmed')
      maybeFinish()
      return closing
    },

    stats() {
      return {
        connected: welcomed,
        inflightEvents: inflight.used,
        waitingPublishes: inflight.waiting,
        unansweredFrames: tracker.size,
        reconnects: Math.max(0, connections - 1),
        resentEvents,
        timers:
          delayed.timers +
          [heartbeat, reconnectTimer, expiryTimer].filter((t) => t !== undefined).length,
      }
    },
  }
}

const eventOf = (item: Item) => item.event

function errorText(error: unknown): string {
  if (error instanceof Error) return error.message
  return typeof error === 'string' ? error : 'network error'
}
