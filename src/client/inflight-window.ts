/**
 * The bound on unanswered events (`maxInflightEvents`): a publish takes room for its events before
 * they are sent and gives it back as each gets its final result. Waiters are served strictly in
 * arrival order, so a large publish is not overtaken for ever by small ones behind it.
 *
 * ```
 * size 10:  take 6 → at once (6)    take 6 → waits    give 3 → still waits (3 free)
 *           give 3 → the waiter takes 6 (6 in use)
 * ```
 */
export interface InflightWindow {
  /** Resolves once `count` (≤ size) events fit; in order of calls. */
  take(count: number): Promise<void>
  give(count: number): void
  /** events holding room now */
  readonly used: number
  /** takes waiting for room */
  readonly waiting: number
}

export function createInflightWindow(size: number): InflightWindow {
  let used = 0
  const waiters: Array<{ count: number; admit: () => void }> = []

  function admitWaiters(): void {
    while (waiters.length > 0 && used + waiters[0]!.count <= size) {
      const waiter = waiters.shift()!
      used += waiter.count
      waiter.admit()
    }
  }

  return {
    take(count) {
      if (count > size) throw new RangeError(`cannot take ${count} of a window of ${size}`)
      if (waiters.length === 0 && used + count <= size) {
        used += count
        return Promise.resolve()
      }
      return new Promise((admit) => waiters.push({ count, admit }))
    },
    give(count) {
      used -= count
      admitWaiters()
    },
    get used() {
      return used
    },
    get waiting() {
      return waiters.length
    },
  }
}
