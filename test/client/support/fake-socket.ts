import type { WebSocketConstructor, WebSocketLike } from '../../../src/client.js'

/**
 * A WebSocket for the client's unit tests, driven by the test as the server would: open it, send
 * it messages, close it. Each frame the client sends is kept, numbered from 1 per connection as the
 * server numbers them (API.md §4).
 */
export class FakeSocket implements WebSocketLike {
  readyState = 0
  readonly sent: string[] = []
  terminated = false
  /** false: a server that never answers the client's close frame */
  answersClose = true
  closedWith: { code?: number; reason?: string } | undefined
  onopen: WebSocketLike['onopen'] = null
  onmessage: WebSocketLike['onmessage'] = null
  onclose: WebSocketLike['onclose'] = null
  onerror: WebSocketLike['onerror'] = null

  constructor(readonly url: string) {}

  send(text: string): void {
    if (this.readyState !== 1) throw new Error('InvalidStateError: not open')
    this.sent.push(text)
  }

  close(code?: number, reason?: string): void {
    this.closedWith = { code, reason }
    this.readyState = 2
    if (this.answersClose)
      queueMicrotask(() => {
        this.readyState = 3
        this.onclose?.({ code: code ?? 1005, reason: reason ?? '' })
      })
  }

  terminate(): void {
    this.terminated = true
    this.readyState = 3
  }

  // the server's side

  /** opens and sends the welcome */
  accept(maxEventsPerFrame = 1000, maxFrameBytes = 1024 * 1024): this {
    this.readyState = 1
    this.onopen?.({})
    return this.message({ op: 'welcome', connectionId: 'c', maxFrameBytes, maxEventsPerFrame })
  }

  message(message: unknown): this {
    this.onmessage?.({ data: typeof message === 'string' ? message : JSON.stringify(message) })
    return this
  }

  /** the connection ends (1006: no close frame) */
  drop(code = 1006, reason = ''): void {
    this.readyState = 3
    if (code === 1006) this.onerror?.({ message: 'connection reset' })
    this.onclose?.({ code, reason })
  }

  /** what the client sent, parsed, with the seq the server gives each */
  frames(): Array<{ seq: number; frame: any }> {
    return this.sent.map((text, i) => ({ seq: i + 1, frame: JSON.parse(text) }))
  }

  /** the publish frames: their seq and the ids of their events */
  publishes(): Array<{ seq: number; ids: string[]; events: any[] }> {
    return this.frames()
      .filter(({ frame }) => Array.isArray(frame))
      .map(({ seq, frame }) => ({ seq, ids: frame.map((e: any) => e.id), events: frame }))
  }

  /** answers frame `seq` with one result per event, of these statuses (default all accepted) */
  ack(seq: number, statuses?: readonly string[]): this {
    const { frame } = this.frames()[seq - 1]!
    const results = (frame as any[]).map((event, index) => {
      const status = statuses?.[index] ?? 'accepted'
      return {
        index,
        id: event.id,
        status: status === 'conflict' ? 'duplicate' : status,
        ...(status === 'conflict' && { conflict: true }),
        ...(status === 'rejected' && { errors: [{ path: 'type', message: 'bad' }] }),
      }
    })
    return this.message({ op: 'ack', seq, results })
  }

  /** answers every frame sent so far that has no answer yet, from `from` on, as the server would */
  answerFrom(from: number): this {
    for (const { seq, frame } of this.frames().slice(from - 1)) {
      if (Array.isArray(frame)) this.ack(seq)
      else if (frame.op === 'ping') this.message({ op: 'pong', seq })
      else if (frame.op === 'subscribe') this.message({ op: 'subscribed', seq, types: frame.types })
      else if (frame.op === 'unsubscribe') this.message({ op: 'unsubscribed', seq })
    }
    return this
  }
}

/** A WebSocket constructor whose sockets the test can reach, in the order the client made them. */
export function fakeWebSocket(): { WebSocket: WebSocketConstructor; sockets: FakeSocket[] } {
  const sockets: FakeSocket[] = []
  class Recorded extends FakeSocket {
    constructor(url: string) {
      super(url)
      sockets.push(this)
    }
  }
  return { WebSocket: Recorded, sockets }
}
