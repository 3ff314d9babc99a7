/**
 * Events answered `failed`, each group waiting out its backoff before it is sent again. One timer
 * for all of them, due at the earliest; when it fires, every group that is due goes to `onDue`.
 *
 * ```
 * add(A, due 300)  add(B, due 100)  → timer re-armed for 100
 * t=100 → onDue(B), timer for 300   t=300 → onDue(A), no timer
 * ```
 */
export interface RetryQueue<T> {
  add(items: T[], dueAt: number): void
  /** 1 while a group waits, else 0 */
  readonly timers: number
  clear(): void
}

export function createRetryQueue<T>(onDue: (items: T[]) => void): RetryQueue<T> {
  const waiting: Array<{ at: number; items: T[] }> = []
  let timer: ReturnType<typeof setTimeout> | undefined
  let timerAt = 0

  function arm(): void {
    if (waiting.length === 0) return
    let next = Infinity
    for (const group of waiting) next = Math.min(next, group.at)
    // A group due before the one the timer waits for would otherwise wait behind a longer draw.
    if (timer !== undefined && timerAt <= next) return
    clearTimeout(timer)
    timerAt = next
    timer = setTimeout(fire, Math.max(0, next - Date.now()))
  }

  function fire(): void {
    timer = undefined
    const now = Date.now()
    const due: T[][] = []
    for (let i = 0; i < waiting.length;)
      if (waiting[i]!.at <= now) due.push(waiting.splice(i, 1)[0]!.items)
      else i++
    arm()
    for (const items of due) onDue(items)
  }

  return {
    add(items, dueAt) {
      waiting.push({ at: dueAt, items })
      arm()
    },
    get timers() {
      return timer === undefined ? 0 : 1
    },
    clear() {
      clearTimeout(timer)
      timer = undefined
      waiting.length = 0
    },
  }
}
