import type { Duplex } from 'node:stream'
import { WebSocket, type RawData } from 'ws'
import type { Pipeline } from '../../streams/pipeline.js'
import { parseClientFrame } from './client-frame.js'
import { createOutboundMailbox } from './outbound-mailbox.js'
import { createPublishQueue } from './publish-queue.js'
import { ack, errorReply, pong, subscribed, unsubscribed, welcome } from './server-messages.js'
import type { TypeMatcher } from '../../streams/type-patterns.js'
import type { ResolvedWsOptions } from './ws-options.js'
import type { WsTelemetry } from './ws-telemetry.js'

/** open: reading frames; draining: reading no more, settling what it holds before it closes; closed: gone. */
export type ConnectionState = 'open' | 'draining' | 'closed'

/** What the gateway gives each connection: shared limits and the few things only the gateway can do. */
export interface ConnectionHost {
  readonly options: ResolvedWsOptions
  readonly pipeline: Pipeline
  readonly telemetry: WsTelemetry
  now(): number
  /** events of one of its frames settled: room came free in the pipeline */
  eventsSettled(): void
  /** admission refused its next frame: call `pump()` again when there may be room */
  waitForAdmission(connection: ConnectionActor): void
  subscribe(connection: ConnectionActor, matches: TypeMatcher): void
  unsubscribe(connection: ConnectionActor): void
  closed(connection: ConnectionActor, code: number): void
}

export interface ConnectionActor {
  readonly id: string
  readonly state: ConnectionState
  /** when the peer last sent anything (a frame, a ping or a pong); now, while we are not reading it for our own reasons */
  readonly lastHeardAt: number
  /** when it started draining, if it has */
  readonly drainingSince: number | undefined
  readonly inflightEvents: number
  /** publish frames read but not yet taken by the pipeline */
  readonly heldFrames: number
  readonly readingPaused: boolean
  /** bytes queued to the peer and not yet written to the network */
  readonly bufferedAmount: number
  /** Submits held frames that fit now. */
  pump(): void
  /** Decides again whether to read (the pipeline crossed a water mark). */
  updateReading(): void
  /** A message that answers no frame (a subscribed event, a notice): sent now, outside the reply order. */
  sendUnsolicited(text: string): void
  ping(): void
  terminate(): void
  /** Stops reading; once every frame it read has settled and been answered, closes with `code`. */
  closeAfterReplies(code?: number, reason?: string | Buffer): void
}

/**
 * The actor that owns one socket: its state, its frame counter, its events in flight and its
 * ordered replies. Frames become pipeline submissions in frame order; their acks go out in frame
 * order through the mailbox, however the batches settle. The actor holds no timer: heartbeats and
 * close deadlines are one sweep in the gateway.
 *
 * Backpressure: it stops reading its socket (TCP then pushes back on the sender) while the pipeline
 * is over its high-water mark, while it has as many events in flight as it may (and as many replies
 * waiting for their turn), while a frame waits for admission, and while too much output waits to be
 * written to a peer that does not read.
 */
export function createConnectionActor(id: string, ws: WebSocket, socket: Duplex, host: ConnectionHost): ConnectionActor {
  const { options, pipeline, telemetry } = host
  const cap = options.maxInflightPerConnection
  let state: ConnectionState = 'open'
  let frames = 0
  let paused = false
  let pausedForIngest = false
  let lastHeardAt = host.now()
  let drainingSince: number | undefined
  let closing: { code?: number; reason?: string | Buffer } | undefined
  let closeSent = false
  const mailbox = createOutboundMailbox(
    (text) => ws.readyState === WebSocket.OPEN && ws.send(text),
    // One write for a run of replies instead of one per reply.
    (run) => {
      socket.cork()
      try {
        run()
      } finally {
        socket.uncork()
      }
    },
  )
  const queue = createPublishQueue({
    pipeline,
    cap,
    onSettled(frame, results) {
      // After close the mailbox is cleared and this fill is ignored: the peer is gone.
      frame.reply(ack(frame.seq, frame.ref, results))
      host.eventsSettled()
    },
    onRefused() {
      // Over the pipeline's hard bound: the frame waits (never dropped, never failed) and reading stops.
      telemetry.admissionWaited?.()
      host.waitForAdmission(actor)
    },
    afterPump() {
      updateReading()
      closeIfDrained()
    },
  })

  function onMessage(data: RawData, isBinary: boolean): void {
    lastHeardAt = host.now()
    if (state === 'closed' || closeSent) return
    // Every frame counts, whatever it is and however wrong (API.md §4).
    const seq = ++frames
    const reply = mailbox.reserve()
    const frame = parseClientFrame(asBuffer(data), isBinary, options)
    switch (frame.kind) {
      case 'publish':
        queue.push({ seq, ref: frame.ref, events: frame.events, reply })
        break
      case 'ping':
        reply(pong(seq))
        break
      case 'subscribe':
        reply(subscribed(seq, frame.types), () => host.subscribe(actor, frame.matches))
        break
      case 'unsubscribe':
        reply(unsubscribed(seq), () => host.unsubscribe(actor))
        break
      case 'unusable':
        telemetry.frameRefused?.(frame.code)
        reply(errorReply(seq, frame.code, frame.message))
        break
    }
    updateReading()
    closeIfDrained()
  }

  function updateReading(): void {
    if (state === 'closed' || closeSent) return
    // Replies wait in frame order behind the oldest unsettled frame; a peer that keeps sending pings
    // behind a slow commit is not read past `cap` waiting replies, so the mailbox stays bounded too.
    const forIngest = state === 'draining' || queue.heldFrames > 0 || queue.inflightEvents >= cap || mailbox.pending >= cap || pipeline.admission.paused
    const stop = forIngest || ws.bufferedAmount > options.sendHighWaterBytes
    // A peer we do not read cannot be heard, so a pause of our own making does not count as its
    // silence. A peer that does not read what we send does not get that excuse: a dead host stops
    // taking bytes, so its output backs up, and it must still time out.
    if (pausedForIngest && !forIngest) lastHeardAt = host.now()
    pausedForIngest = forIngest
    if (stop === paused) return
    paused = stop
    if (stop) {
      // ws.pause() pauses the net.Socket and, unlike socket.pause(), is not undone by ws's own
      // receiver when it drains. Frames already parsed from the last chunk may still arrive: they are held.
      ws.pause()
      telemetry.readingPaused?.()
    } else {
      ws.resume()
      telemetry.readingResumed?.()
    }
  }

  function closeAfterReplies(code?: number, reason?: string | Buffer): void {
    if (state !== 'open') return
    state = 'draining'
    drainingSince = host.now()
    closing = { code, reason }
    updateReading()
    closeIfDrained()
  }

  function closeIfDrained(): void {
    if (state !== 'draining' || closeSent || queue.heldFrames > 0 || queue.inflightEvents > 0 || mailbox.pending > 0) return
    closeSent = true
    // The close frame is queued behind every reply already written, so the peer reads them first.
    wsClose(closing?.code, closing?.reason)
    // Read again, or the peer's answering close frame would never be read and the handshake would
    // hang until the close timeout. Frames that still come are after our close: unanswered, never acked.
    if (paused) {
      paused = false
      ws.resume()
    }
  }

  /*
   * ws closes a connection by itself when a frame is over maxPayload (1009), on a protocol error, and
   * to answer the peer's close frame — at once, stranding the acks of frames still in flight. It does
   * so through this method, so the actor takes those closes over: stop reading, settle and answer
   * every frame already read, then close with the code ws chose (API.md §4: "first sends every ack").
   */
  const wsClose = ws.close.bind(ws)
  ws.close = function closeAfterAcks(code?: number, reason?: string | Buffer) {
    if (state === 'open') closeAfterReplies(code, reason)
    else if (state === 'closed' || closeSent) wsClose(code, reason)
    // draining: it closes by itself once drained
  }

  const onHeard = () => {
    lastHeardAt = host.now()
  }
  const onError = (error: Error & { code?: string }) => {
    // The close that follows is what matters; ws emits this after it has asked for the close.
    if (error.code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH') telemetry.frameTooLarge?.()
  }
  const onDrain = () => updateReading()
  const onClose = (code: number) => {
    if (state === 'closed') return
    state = 'closed'
    queue.close()
    mailbox.clear()
    ws.off('message', onMessage).off('ping', onHeard).off('pong', onHeard).off('error', onError).off('close', onClose)
    socket.off('drain', onDrain)
    host.closed(actor, code)
  }
  ws.on('message', onMessage).on('ping', onHeard).on('pong', onHeard).on('error', onError).on('close', onClose)
  socket.on('drain', onDrain)

  const actor: ConnectionActor = {
    id,
    get state() {
      return state
    },
    get lastHeardAt() {
      return pausedForIngest ? host.now() : lastHeardAt
    },
    get drainingSince() {
      return drainingSince
    },
    get inflightEvents() {
      return queue.inflightEvents
    },
    get heldFrames() {
      return queue.heldFrames
    },
    get readingPaused() {
      return paused
    },
    get bufferedAmount() {
      return ws.bufferedAmount
    },
    pump: () => queue.pump(),
    updateReading,
    sendUnsolicited(text) {
      if (ws.readyState !== WebSocket.OPEN) return
      ws.send(text)
      updateReading()
    },
    ping() {
      if (ws.readyState === WebSocket.OPEN) ws.ping()
    },
    terminate() {
      ws.terminate()
    },
    closeAfterReplies,
  }

  ws.send(welcome(id, options.maxFrameBytes, options.maxEventsPerFrame))
  updateReading()
  return actor
}

function asBuffer(data: RawData): Buffer {
  if (Buffer.isBuffer(data)) return data
  return Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data)
}
