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

/** `send` writes one message; `sendMany` wraps a run of sends (the connection corks its socket around it). */
export function createOutboundMailbox(send: (text: string) => void, sendMany: (run: () => void) => void = (run) => run()): OutboundMailbox {
  let slots: Slot[] = []
  let head = 0
  let flushing = false
  // clear() starts a new generation: a slot of an older one is never sent.
  let generation = 0

  function flush(): void {
    // A reply's effect can lead to another fill (never in practice, but cheap to guard): one loop sends all.
    if (flushing) return
    flushing = true
    try {
      sendMany(() => {
        while (head < slots.length && slots[head]!.text !== undefined) {
          const slot = slots[head]!
          slots[head++] = EMPTY_SLOT
          send(slot.text!)
          slot.onSent?.()
        }
      })
      // Compact now and then so the array does not grow with the connection's lifetime.
      if (head === slots.length) {
        slots = []
        head = 0
      } else if (head > 1024 && head * 2 > slots.length) {
        slots = slots.slice(head)
        head = 0
      }
    } finally {
      flushing = false
    }
  }

  return {
    reserve() {
      const slot: Slot = {}
      slots.push(slot)
      const born = generation
      return function fillSlot(text, onSent) {
        if (slot.text !== undefined) throw new Error('a reply slot was filled twice')
        slot.text = text
        slot.onSent = onSent
        if (born === generation) flush()
      }
    },
    get pending() {
      return slots.length - head
    },
    clear() {
      slots = []
      head = 0
      generation++
    },
  }
}

const EMPTY_SLOT: Slot = Object.freeze({ text: '' }) as Slot
