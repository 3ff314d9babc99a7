/**
 * How much frame handling one turn of the event loop may hold, shared by every connection.
 *
 * ws hands over every frame of a chunk it reads at once, and a loop turn reads a chunk from every
 * socket that has one: 64 KiB of 13-byte pings is some 5,000 frames per connection per turn. A
 * hundred such connections kept the loop in one turn for seconds — health checks, timers, acks and
 * every other client waited, and the watchdog killed the process. So a turn handles frames for
 * at most TURN_BUDGET_MS in all, and at most FRAMES_PER_CONNECTION of one connection; a frame past
 * either is held by its connection, which stops reading, and handled in a later turn, one frame per
 * connection in turn so that no connection waits behind another's backlog.
 *
 * Why 50 ms: at 20 ms the bench's WS 1/frame × 16 connections met the bound, its turns came shorter
 * and its inserts smaller, and ClickHouse spent 24–26 µs an event against 11–14 (3 runs each).
 * At 50 ms the bench reads as without a budget: Sluice 36–39 µs an event against 33–48, ClickHouse
 * 13–18 against 11–15, within this machine's noise.
 */
export interface TurnBudget {
  /** Whether a frame of `connection` may be handled now, in this turn. */
  mayHandle(connection: BudgetedConnection): boolean
  /** Counts a frame handled now, and the milliseconds it took. */
  spent(connection: BudgetedConnection, ms: number): void
  /** `connection` holds frames: it gets `handleHeld()` calls in the turns to come until it holds none. */
  later(connection: BudgetedConnection): void
  /** `connection` is gone: no more calls. */
  forget(connection: BudgetedConnection): void
}

export interface BudgetedConnection {
  /** the turn its `framesThisTurn` counts, and the count */
  budgetTurn: number
  framesThisTurn: number
  /** Handles its oldest held frame; false when it holds none after it. */
  handleHeld(): boolean
}

export const TURN_BUDGET_MS = 50
export const FRAMES_PER_CONNECTION = 256

export function createTurnBudget(
  limits: { turnMs: number; framesPerConnection: number } = {
    turnMs: TURN_BUDGET_MS,
    framesPerConnection: FRAMES_PER_CONNECTION,
  },
): TurnBudget {
  let turn = 0
  let spentMs = 0
  let turnEnds = false
  const waiting = new Set<BudgetedConnection>()

  function endTurnSoon(): void {
    if (turnEnds) return
    turnEnds = true
    setImmediate(endTurn)
  }

  // A new turn: the budget is whole again; the connections holding frames take turns in it.
  function endTurn(): void {
    turnEnds = false
    turn++
    spentMs = 0
    while (waiting.size > 0 && spentMs < limits.turnMs) {
      let handled = false
      for (const connection of waiting) {
        if (!budget.mayHandle(connection)) continue
        if (!connection.handleHeld()) waiting.delete(connection)
        handled = true
        if (spentMs >= limits.turnMs) break
      }
      if (!handled) break
    }
    if (waiting.size > 0) endTurnSoon()
  }

  const budget: TurnBudget = {
    mayHandle(connection) {
      if (connection.budgetTurn !== turn) {
        connection.budgetTurn = turn
        connection.framesThisTurn = 0
      }
      return spentMs < limits.turnMs && connection.framesThisTurn < limits.framesPerConnection
    },
    spent(connection, ms) {
      connection.framesThisTurn++
      spentMs += ms
      endTurnSoon()
    },
    later(connection) {
      waiting.add(connection)
      endTurnSoon()
    },
    forget(connection) {
      waiting.delete(connection)
    },
  }
  return budget
}
