import { beforeEach, describe, expect, it, vi } from 'vitest'

const setFlagsFromString = vi.fn()
vi.mock('node:v8', async (original) => ({
  ...(await original<typeof import('node:v8')>()),
  setFlagsFromString,
}))
const { applyHeapPolicy, HEAP_GROWING_PERCENT } = await import('../../src/app/heap-policy.js')

describe('heap policy', () => {
  beforeEach(() => setFlagsFromString.mockClear())

  it('lets the old generation grow to twice the live set before a full collection', () => {
    applyHeapPolicy(['--import', 'tsx'])
    expect(HEAP_GROWING_PERCENT).toBe(100)
    expect(setFlagsFromString).toHaveBeenCalledWith('--heap-growing-percent=100')
  })

  it('leaves the factor alone when node was started with its own', () => {
    applyHeapPolicy(['--heap-growing-percent=50'])
    applyHeapPolicy(['--heap_growing_percent', '300'])
    expect(setFlagsFromString).not.toHaveBeenCalled()
  })
})
