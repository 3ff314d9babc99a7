/**
 * A connection's replies, sent strictly in frame order (API.md §4: "acks come in frame order").
 *
 * Every client frame takes one slot, in the order the frames arrive, and gets exactly one reply
 * (ack, error, pong, subscribed or unsubscribed). A reply that is ready at once (an error, a pong)
 * still waits behind the slots before it: a pong for frame 5 never overtakes the ack of frame 4.
 * Whenever the slot at the head is filled, it and every filled slot after it are sent.
 *
 * ```
 * slots:  1 2 3 4          fill(3) fill(4) → nothing sent (1 is not ready)
 *                          fill(1)         → 1 sent (2 is not ready)
 *                          fill(2)         → 2, 3, 4 sent
 * ```
 *
 * A reply may carry an effect that runs when it is sent: a subscription starts when `subscribed`
 * goes out, so that its first event never comes before the reply that announces it.
 */
export interface OutboundMailbox {
  /** Takes the next slot; the returned function fills it (once). */
  reserve(): (text: string, onSent?: () => void) => void
  /** Slots not yet sent. */
  readonly pending: number
  /** Forgets every unsent reply (the connection is gone); a later fill is ignored. */
  clear(): void
}

interface Slot {
  text?: string
  onSent?: () => void
}

/**
 * `send` writes one message; `sendMany` wraps a run of sends (the connection corks its socket around it).
 * A class, not a closure-built object: one mailbox per connection, and methods on the prototype cost
 * a connection nothing, where an object literal with a getter is a dictionary plus a closure per method.
 */
export function createOutboundMailbox(
  send: (text: string) => void,
  sendMany: (run: () => void) => void = runNow,
): OutboundMailbox {
  return new SlotMailbox(send, sendMany)
}

class SlotMailbox implements OutboundMailbox {
  private slots: Slot[] = []
  private head = 0
  private flushing = false
  // clear() starts a new generation: a slot of an older one is never sent.
  private generation = 0

  constructor(
    private readonly send: (text: string) => void,
    private readonly sendMany: (run: () => void) => void,
  ) {}

  reserve(): (text: string, onSent?: () => void) => void {
    const slot: Slot = {}
    this.slots.push(slot)
    const born = this.generation
    return (text, onSent) => {
      if (slot.text !== undefined) throw new Error('a reply slot was filled twice')
      slot.text = text
      slot.onSent = onSent
      if (born === this.generation) this.flush()
    }
  }

  get pending(): number {
    return this.slots.length - this.head
  }

  clear(): void {
    this.slots = []
    this.head = 0
    this.generation++
  }

  private flush(): void {
    // A reply's effect can lead to another fill (never in practice, but cheap to guard): one loop sends all.
    if (this.flushing) return
    this.flushing = true
    try {
      this.sendMany(() => this.sendReady())
      // Compact now and then so the array does not grow with the connection's lifetime.
      if (this.head === this.slots.length) {
        this.slots = []
        this.head = 0
      } else if (this.head > 1024 && this.head * 2 > this.slots.length) {
        this.slots = this.slots.slice(this.head)
        this.head = 0
      }
    } finally {
      this.flushing = false
    }
  }

  private sendReady(): void {
    // this.slots is read on every turn: a send that closes the connection clears the mailbox mid-loop.
    while (this.head < this.slots.length && this.slots[this.head]!.text !== undefined) {
      const slot = this.slots[this.head]!
      this.slots[this.head++] = EMPTY_SLOT
      this.send(slot.text!)
      slot.onSent?.()
    }
  }
}

const runNow = (run: () => void): void => run()
const EMPTY_SLOT: Slot = Object.freeze({ text: '' })
