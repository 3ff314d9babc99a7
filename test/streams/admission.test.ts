import { describe, expect, it } from 'vitest'
import { createAdmission } from '../../src/streams/admission.js'

describe('admission', () => {
  it('pauses at the high-water mark and resumes only at the low-water mark', () => {
    const admission = createAdmission({ maxInflight: 10, highWater: 8, lowWater: 4 })
    const states: boolean[] = []
    admission.paused$.subscribe((paused) => states.push(paused))
    expect(admission.tryAcquire(7)).toBe(true)
    expect(admission.paused).toBe(false)
    expect(admission.tryAcquire(1)).toBe(true)
    expect(admission.paused).toBe(true)
    admission.release(3) // 5: still above the low-water mark
    expect(admission.paused).toBe(true)
    admission.release(1) // 4
    expect(admission.paused).toBe(false)
    expect(states).toEqual([false, true, false])
  })

  it('refuses what would pass the bound and takes nothing of it', () => {
    const admission = createAdmission({ maxInflight: 10 })
    expect(admission.tryAcquire(9)).toBe(true)
    expect(admission.tryAcquire(2)).toBe(false)
    expect(admission.inflight).toBe(9)
    expect(admission.tryAcquire(1)).toBe(true)
  })

  it('refuses water marks that cannot work', () => {
    expect(() => createAdmission({ maxInflight: 10, highWater: 4, lowWater: 4 })).toThrow(RangeError)
    expect(() => createAdmission({ maxInflight: 10, highWater: 11 })).toThrow(RangeError)
  })
})
