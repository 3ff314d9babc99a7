/**
 * The bytes of request bodies being read, across every request of one server. A body is read whole
 * before it is parsed, and until it is parsed it counts nowhere else: 300 uploads of 5 MiB held
 * open one byte short of their end took RSS from 330 MB to 1.9 GB, 800 of them to 3.6 GB. A body
 * that would take the total past the budget is answered `503 overloaded` instead.
 */
export interface BodyBudget {
  /** Takes `bytes` of the budget; false, taking nothing, when they do not fit. */
  take(bytes: number): boolean
  give(bytes: number): void
}

export function createBodyBudget(maxBytes: number): BodyBudget {
  let used = 0
  return {
    take(bytes) {
      if (used + bytes > maxBytes) return false
      used += bytes
      return true
    },
    give(bytes) {
      used -= bytes
    },
  }
}
