/** What the wait list needs of a connection: try its held frames again. */
export interface Waiter {
  pump(): void
}

export interface AdmissionWaitList {
  /** The waiter's next frame was refused by admission; it is asked again, in arrival order, when room may have come. */
  add(waiter: Waiter): void
  remove(waiter: Waiter): void
  /** Events settled, or the pipeline fell to its low-water mark: ask the waiters again (once per tick, however many settle). */
  roomMayHaveCome(): void
  readonly size: number
  /** 1 while the fallback timer is armed */
  readonly timers: number
  clear(): void
}

/** How often waiters are asked again when nothing else wakes them. */
const RETRY_MS = 20

/**
 * Connections whose next frame admission refused (the pipeline is at MAX_INFLIGHT_EVENTS). A frame
 * is never dropped or failed for overload: it waits, its socket unread, until there is room.
 *
 * Room comes when events settle. WebSocket frames that settle say so (`roomMayHaveCome`), and so
 * does the fall to the low-water mark; events of other transports settle silently, so one fallback
 * timer for the whole gateway asks again every 20 ms while anybody waits. Waiters are asked in the
 * order they came, and one still refused goes to the back: no connection starves the others.
 */
export function createAdmissionWaitList(): AdmissionWaitList {
  const waiters = new Set<Waiter>()
  let queued = false
  let timer: NodeJS.Timeout | undefined

  function askAgain(): void {
    queued = false
    if (timer !== undefined) clearTimeout(timer)
    timer = undefined
    const turn = [...waiters]
    waiters.clear()
    // A waiter still refused adds itself again (at the back) from inside pump().
    for (const waiter of turn) waiter.pump()
    arm()
  }

  function arm(): void {
    if (waiters.size === 0 || timer !== undefined) return
    timer = setTimeout(askAgain, RETRY_MS)
    timer.unref()
  }

  return {
    add(waiter) {
      waiters.add(waiter)
      arm()
    },
    remove(waiter) {
      waiters.delete(waiter)
      if (waiters.size === 0 && timer !== undefined) {
        clearTimeout(timer)
        timer = undefined
      }
    },
    roomMayHaveCome() {
      // Settles arrive a batch at a time, synchronously: one microtask answers them all, and no
      // connection is pumped from inside another's settle callback.
      if (waiters.size === 0 || queued) return
      queued = true
      queueMicrotask(askAgain)
    },
    get size() {
      return waiters.size
    },
    get timers() {
      return timer === undefined ? 0 : 1
    },
    clear() {
      waiters.clear()
      if (timer !== undefined) clearTimeout(timer)
      timer = undefined
    },
  }
}
