import { describe, expect, it } from 'vitest'
import { uuidv7 } from '../../src/client.js'

describe('uuidv7', () => {
  it('writes the milliseconds in its first 48 bits, version 7 and variant 10, random bits after', () => {
    const at = Date.UTC(2026, 10, 26, 10, 0, 0, 123)
    const id = uuidv7(at)
    expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/)
    expect(parseInt(id.replace(/-/g, '').slice(0, 12), 16)).toBe(at)
    expect(uuidv7(at)).not.toBe(id)
  })

  it('sorts by time', () => {
    const ids = [1, 2, 3].map((ms) => uuidv7(Date.UTC(2026, 0, 1) + ms))
    expect([...ids].sort()).toEqual(ids)
  })
})
