import type { Duplex } from 'node:stream'
import { WebSocket, type RawData } from 'ws'
import { applyKeySource, type KeyHolder } from '../../wire/api-keys.js'
import { parseClientFrame } from './client-frame.js'
import { createOutboundMailbox, type OutboundMailbox } from './outbound-mailbox.js'
import { createPublishQueue, type PublishQueue } from './publish-queue.js'
import { ack, errorReply, pong, subscribed, unsubscribed, welcome } from './server-messages.js'
import type { ConnectionActor, ConnectionHost, ConnectionState } from './connection.js'
import type { BudgetedConnection } from './turn-budget.js'

export type { ConnectionActor, ConnectionHost, ConnectionState } from './connection.js'

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
/** `keyHolder`: who presented the upgrade's API key; a named key gives the connection's events their `source`. */
export function createConnectionActor(
  id: string,
  ws: WebSocket,
  socket: Duplex,
  host: ConnectionHost,
  keyHolder?: KeyHolder,
): ConnectionActor {
  return new SocketActor(id, ws, socket, host, keyHolder)
}

/*
 * Memory: a server holds up to MAX_WS_CONNECTIONS of these, mostly idle, so an idle one holds only
 * its fields. Methods live on the prototype; the mailbox and the publish queue come with the first
 * frame. The listeners on the WebSocket are functions of this module, shared by every connection,
 * that find their actor on the WebSocket (ACTOR): a closure per listener was six closures and
 * their context per connection, ~430 bytes. The socket's 'drain' listener comes only once output
 * backs up (listenForDrain).
 */
const ACTOR = Symbol('sluice.wsActor')

/** The WebSocket of an actor: ws calls its listeners with the WebSocket as `this`. */
interface ActorSocket extends WebSocket {
  [ACTOR]: SocketActor
}

const actorOf = (ws: WebSocket) => (ws as ActorSocket)[ACTOR]

interface WithReceiver {
  _receiver?: { _totalPayloadLength?: number }
}

function onMessage(this: WebSocket, data: RawData, isBinary: boolean): void {
  actorOf(this).receive(data, isBinary)
}

function onHeard(this: WebSocket): void {
  actorOf(this).heard()
}

// The close that follows is what matters; ws emits this after it has asked for the close.
function onError(this: WebSocket, error: Error & { code?: string }): void {
  if (error.code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH') actorOf(this).frameTooLarge()
}

function onClose(this: WebSocket, code: number): void {
  actorOf(this).closed(code)
}

/*
 * ws closes a connection by itself when a frame is over maxPayload (1009), on a protocol error, and
 * to answer the peer's close frame — at once, stranding the acks of frames still in flight. It does
 * so through this method, so the actor takes those closes over: stop reading, settle and answer
 * every frame already read, then close with the code ws chose (API.md §4: "first sends every ack").
 */
function closeThroughActor(this: WebSocket, code?: number, reason?: string | Buffer): void {
  actorOf(this).closeRequested(code, reason)
}

/**
 * What one reply costs while it waits to be written, beyond its bytes: the socket's queue entry and
 * the buffers of the frame. A peer that sends pings and reads nothing had 17 MB of 24-byte pongs
 * waiting before their bytes reached sendHighWaterBytes (1 MiB): counted this way, ~1 MB.
 */
const REPLY_OVERHEAD_BYTES = 512

class SocketActor implements ConnectionActor, BudgetedConnection {
  // Read-only to the gateway, which sees the ConnectionActor interface.
  state: ConnectionState = 'open'
  readingPaused = false
  drainingSince: number | undefined = undefined
  budgetTurn = -1
  framesThisTurn = 0
  messagesReceived = 0
  /** frames read past the turn's budget, as data, isBinary, data, isBinary…: handled in later turns */
  private held: Array<RawData | boolean> | undefined = undefined
  private heldHead = 0
  /** replies given to the socket since its queue was last seen empty */
  private unflushedReplies = 0
  private frames = 0
  private pausedForIngest = false
  private heardAt: number
  private closing: { code?: number; reason?: string | Buffer } | undefined = undefined
  private closeSent = false
  private mailbox: OutboundMailbox | undefined = undefined
  private queue: PublishQueue | undefined = undefined
  private corked = false
  /** set once output first backs up past sendHighWaterBytes: resumes reading when it drains */
  private onDrain: (() => void) | undefined = undefined

  constructor(
    readonly id: string,
    private readonly ws: WebSocket,
    private readonly socket: Duplex,
    private readonly host: ConnectionHost,
    private readonly keyHolder: KeyHolder | undefined,
  ) {
    this.heardAt = host.now()
    ;(ws as ActorSocket)[ACTOR] = this
    ws.close = closeThroughActor
    ws.on('message', onMessage)
      .on('ping', onHeard)
      .on('pong', onHeard)
      .on('error', onError)
      .on('close', onClose)
    ws.send(welcome(id, host.options.maxFrameBytes, host.options.maxEventsPerFrame))
    this.updateReading()
  }

  get lastHeardAt(): number {
    return this.pausedForIngest ? this.host.now() : this.heardAt
  }

  /**
   * ws keeps the declared length of the data message it is assembling in its receiver, and no
   * public way to read it; ws is pinned to 8.x, and test/adapters/ws/limits.test.ts fails if this
   * reads 0 while a message is on its way.
   */
  get incompleteMessageBytes(): number {
    return (this.ws as unknown as WithReceiver)._receiver?._totalPayloadLength ?? 0
  }

  get inflightEvents(): number {
    return this.queue?.inflightEvents ?? 0
  }

  get heldFrames(): number {
    return this.queue?.heldFrames ?? 0
  }

  get bufferedAmount(): number {
    return this.ws.bufferedAmount
  }

  pump(): void {
    this.queue?.pump()
  }

  heard(): void {
    this.heardAt = this.host.now()
  }

  frameTooLarge(): void {
    this.host.telemetry.frameTooLarge?.()
  }

  /** ws's close, as ws itself or a caller asks for it (closeThroughActor). */
  closeRequested(code?: number, reason?: string | Buffer): void {
    if (this.state === 'open') this.closeAfterReplies(code, reason)
    else if (this.state === 'closed' || this.closeSent) this.wsClose(code, reason)
    // draining: it closes by itself once drained
  }

  updateReading(): void {
    if (this.state === 'closed' || this.closeSent) return
    const { host, ws } = this
    const cap = host.options.maxInflightPerConnection
    // Replies wait in frame order behind the oldest unsettled frame; a peer that keeps sending pings
    // behind a slow commit is not read past `cap` waiting replies, so the mailbox stays bounded too.
    const forIngest =
      this.state === 'draining' ||
      this.held !== undefined ||
      this.heldFrames > 0 ||
      this.inflightEvents >= cap ||
      this.pendingReplies >= cap ||
      host.pipeline.admission.paused
    const buffered = ws.bufferedAmount
    if (buffered === 0) this.unflushedReplies = 0
    const backedUp =
      buffered + this.unflushedReplies * REPLY_OVERHEAD_BYTES > host.options.sendHighWaterBytes
    // Only output that backs up needs the socket's 'drain' to resume reading at once; other pauses
    // are lifted by the calls that end them (a settled frame, the pipeline's water marks), and the
    // gateway's sweep checks every connection again each tick.
    if (backedUp) this.listenForDrain()
    const stop = forIngest || backedUp
    // A peer we do not read cannot be heard, so a pause of our own making does not count as its
    // silence. A peer that does not read what we send does not get that excuse: a dead host stops
    // taking bytes, so its output backs up, and it must still time out.
    if (this.pausedForIngest && !forIngest) this.heardAt = host.now()
    this.pausedForIngest = forIngest
    if (stop === this.readingPaused) return
    this.readingPaused = stop
    if (stop) {
      // ws.pause() pauses the net.Socket and, unlike socket.pause(), is not undone by ws's own
      // receiver when it drains. Frames already parsed from the last chunk may still arrive: they are held.
      ws.pause()
      host.telemetry.readingPaused?.()
    } else {
      ws.resume()
      host.telemetry.readingResumed?.()
    }
  }

  sendUnsolicited(text: string): void {
    if (this.ws.readyState !== WebSocket.OPEN) return
    this.ws.send(text)
    this.unflushedReplies++
    this.updateReading()
  }

  ping(): void {
    if (this.ws.readyState === WebSocket.OPEN) this.ws.ping()
  }

  terminate(): void {
    this.ws.terminate()
  }

  closeAfterReplies(code?: number, reason?: string | Buffer): void {
    if (this.state !== 'open') return
    this.state = 'draining'
    this.drainingSince = this.host.now()
    this.closing = { code, reason }
    this.updateReading()
    this.closeIfDrained()
  }

  private listenForDrain(): void {
    if (this.onDrain) return
    this.onDrain = () => this.updateReading()
    this.socket.on('drain', this.onDrain)
  }

  private get pendingReplies(): number {
    return this.mailbox?.pending ?? 0
  }

  receive(data: RawData, isBinary: boolean): void {
    this.heardAt = this.host.now()
    this.messagesReceived++
    if (this.state === 'closed' || this.closeSent) return
    const budget = this.host.turnBudget
    if (this.held === undefined && budget.mayHandle(this)) return this.handleNow(data, isBinary)
    // Past this turn's budget, and behind every frame held before it.
    ;(this.held ??= []).push(data, isBinary)
    budget.later(this)
    this.updateReading()
  }

  handleHeld(): boolean {
    const { held } = this
    if (held === undefined) return false
    const data = held[this.heldHead] as RawData
    const isBinary = held[this.heldHead + 1] as boolean
    this.heldHead += 2
    if (this.heldHead === held.length) {
      this.held = undefined
      this.heldHead = 0
    }
    if (this.state !== 'closed' && !this.closeSent) this.handleNow(data, isBinary)
    return this.held !== undefined
  }

  private handleNow(data: RawData, isBinary: boolean): void {
    const started = performance.now()
    // Every frame counts, whatever it is and however wrong (API.md §4).
    const seq = ++this.frames
    const reply = (this.mailbox ??= this.openMailbox()).reserve()
    try {
      this.handle(seq, reply, data, isBinary)
    } catch (error) {
      // A fault reached by one client's frame is that connection's alone: the frame gets its one
      // reply if it has none yet, and the connection closes (1011) after its other replies.
      this.host.faulted(this, error)
      try {
        reply(
          errorReply(seq, 'internal', 'this frame could not be handled; the connection will close'),
        )
      } catch {
        // it had its reply already
      }
      this.closeAfterReplies(1011, 'internal error')
    }
    this.updateReading()
    this.closeIfDrained()
    this.host.turnBudget.spent(this, performance.now() - started)
  }

  private handle(
    seq: number,
    reply: (text: string, onSent?: () => void) => void,
    data: RawData,
    isBinary: boolean,
  ): void {
    const { host } = this
    const frame = parseClientFrame(asBuffer(data), isBinary, host.options)
    switch (frame.kind) {
      case 'publish':
        ;(this.queue ??= this.openQueue()).push({
          seq,
          ref: frame.ref,
          events: applyKeySource(frame.events, this.keyHolder),
          bytes: asBuffer(data).byteLength,
          reply,
        })
        break
      case 'ping':
        reply(pong(seq))
        break
      case 'subscribe':
        reply(subscribed(seq, frame.types), () => host.subscribe(this, frame.matches))
        break
      case 'unsubscribe':
        reply(unsubscribed(seq), () => host.unsubscribe(this))
        break
      case 'unusable':
        host.telemetry.frameRefused?.(frame.code)
        reply(errorReply(seq, frame.code, frame.message))
        break
    }
  }

  private openMailbox(): OutboundMailbox {
    const { ws, socket } = this
    return createOutboundMailbox(
      (text) => {
        if (ws.readyState !== WebSocket.OPEN) return
        ws.send(text)
        this.unflushedReplies++
      },
      // One write for every reply that is ready in this turn of the event loop, not one per reply:
      // a committed batch settles the frames of many connections at once, and with one event per
      // frame that is a write (a system call) per event otherwise.
      (run) => {
        if (!this.corked) {
          this.corked = true
          socket.cork()
          process.nextTick(uncorkAtEndOfTurn, this)
        }
        run()
      },
    )
  }

  uncork(): void {
    this.corked = false
    this.socket.uncork()
  }

  private openQueue(): PublishQueue {
    const { host } = this
    return createPublishQueue({
      pipeline: host.pipeline,
      cap: host.options.maxInflightPerConnection,
      onSettled(frame, results) {
        // After close the mailbox is cleared and this fill is ignored: the peer is gone.
        frame.reply(ackOrError(frame.seq, frame.ref, results))
        host.eventsSettled()
      },
      onRefused: () => {
        // Over the pipeline's hard bound: the frame waits (never dropped, never failed) and reading stops.
        host.telemetry.admissionWaited?.()
        host.waitForAdmission(this)
      },
      afterPump: () => {
        this.updateReading()
        this.closeIfDrained()
      },
    })
  }

  private closeIfDrained(): void {
    if (
      this.state !== 'draining' ||
      this.closeSent ||
      this.held !== undefined ||
      this.heldFrames > 0 ||
      this.inflightEvents > 0 ||
      this.pendingReplies > 0
    )
      return
    this.closeSent = true
    // The close frame is queued behind every reply already written, so the peer reads them first.
    this.wsClose(this.closing?.code, this.closing?.reason)
    // Read again, or the peer's answering close frame would never be read and the handshake would
    // hang until the close timeout. Frames that still come are after our close: unanswered, never acked.
    if (this.readingPaused) {
      this.readingPaused = false
      this.ws.resume()
    }
  }

  /** ws's own close, under the override above. */
  private wsClose(code?: number, reason?: string | Buffer): void {
    WebSocket.prototype.close.call(this.ws, code, reason)
  }

  closed(code: number): void {
    if (this.state === 'closed') return
    this.state = 'closed'
    this.held = undefined
    this.host.turnBudget.forget(this)
    this.queue?.close()
    this.mailbox?.clear()
    this.ws
      .off('message', onMessage)
      .off('ping', onHeard)
      .off('pong', onHeard)
      .off('error', onError)
      .off('close', onClose)
    if (this.onDrain) this.socket.off('drain', this.onDrain)
    this.host.closed(this, code)
  }
}

/**
 * The frame's ack; if it cannot be serialized, an `internal` error in its place, so that the frame
 * still gets its one reply and the replies behind it are not held forever.
 */
function ackOrError(
  seq: number,
  ref: string | undefined,
  results: Parameters<typeof ack>[2],
): string {
  try {
    return ack(seq, ref, results)
  } catch {
    return errorReply(
      seq,
      'internal',
      'the results of this frame could not be sent; send it again (a re-send is de-duplicated)',
    )
  }
}

function asBuffer(data: RawData): Buffer {
  if (Buffer.isBuffer(data)) return data
  return Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data)
}

function uncorkAtEndOfTurn(actor: SocketActor): void {
  actor.uncork()
}
