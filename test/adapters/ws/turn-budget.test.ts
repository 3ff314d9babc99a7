import { describe, expect, it } from 'vitest'
import { createTurnBudget, type BudgetedConnection } from '../../../src/adapters/ws/turn-budget.js'

/** A connection holding `frames` frames, each taking `ms` to handle; it logs its name for each. */
function holding(name: string, frames: number, ms: number, log: string[]) {
  const connection: BudgetedConnection & { left: number } = {
    budgetTurn: -1,
    framesThisTurn: 0,
    left: frames,
    handleHeld() {
      log.push(name)
      budget.spent(connection, ms)
      return --connection.left > 0
    },
  }
  return connection
}

const turn = () => new Promise((resolve) => setImmediate(resolve))
let budget: ReturnType<typeof createTurnBudget>

describe('turn budget', () => {
  it('lets a connection handle its frames now until its share of the turn is spent', () => {
    budget = createTurnBudget({ turnMs: 100, framesPerConnection: 3 })
    const a = holding('a', 0, 1, [])
    const b = holding('b', 0, 1, [])
    for (let i = 0; i < 3; i++) {
      expect(budget.mayHandle(a)).toBe(true)
      budget.spent(a, 1)
    }
    expect(budget.mayHandle(a)).toBe(false)
    expect(budget.mayHandle(b)).toBe(true)
  })

  it('stops every connection once the turn has spent its milliseconds, and starts again next turn', async () => {
    budget = createTurnBudget({ turnMs: 10, framesPerConnection: 100 })
    const a = holding('a', 0, 1, [])
    const b = holding('b', 0, 1, [])
    budget.spent(a, 12)
    expect(budget.mayHandle(a)).toBe(false)
    expect(budget.mayHandle(b)).toBe(false)
    await turn()
    expect(budget.mayHandle(a)).toBe(true)
    expect(budget.mayHandle(b)).toBe(true)
  })

  it('hands held frames out one connection at a time, over as many turns as the budget needs', async () => {
    const log: string[] = []
    budget = createTurnBudget({ turnMs: 4, framesPerConnection: 100 })
    const a = holding('a', 5, 1, log)
    const b = holding('b', 2, 1, log)
    budget.later(a)
    budget.later(b)
    await turn()
    expect(log).toEqual(['a', 'b', 'a', 'b'])
    await turn()
    expect(log).toEqual(['a', 'b', 'a', 'b', 'a', 'a', 'a'])
    await turn()
    expect(log).toHaveLength(7)
  })

  it('hands nothing to a connection it forgot', async () => {
    const log: string[] = []
    budget = createTurnBudget({ turnMs: 4, framesPerConnection: 100 })
    const a = holding('a', 5, 1, log)
    budget.later(a)
    budget.forget(a)
    await turn()
    expect(log).toEqual([])
  })
})
