import { describe, expect, it } from 'vitest'
import {
  createAdmission,
  retainedBytes,
  RETAINED_PER_EVENT,
  RETAINED_PER_JSON_BYTE,
  RETAINED_PER_SUBMISSION,
} from '../../src/streams/admission.js'

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

  it('refuses what would pass the byte bound, whatever the count, and takes nothing of it', () => {
    const admission = createAdmission({ maxInflight: 1000, maxInflightBytes: 1000 })
    expect(admission.tryAcquire(1, 600)).toBe(true)
    expect(admission.tryAcquire(1, 500)).toBe(false)
    expect(admission).toMatchObject({ inflight: 1, inflightBytes: 600 })
    expect(admission.tryAcquire(1, 400)).toBe(true)
    admission.release(1, 600)
    expect(admission).toMatchObject({ inflight: 1, inflightBytes: 400 })
  })

  it('takes one submission larger than the byte bound when nothing else is in flight, and nothing beside it', () => {
    const admission = createAdmission({ maxInflight: 1000, maxInflightBytes: 1000 })
    expect(admission.tryAcquire(2, 5000)).toBe(true)
    expect(admission.tryAcquire(1, 1)).toBe(false)
    admission.release(2, 5000)
    expect(admission.tryAcquire(1, 1)).toBe(true)
  })

  it('pauses when either count reaches its high-water mark and resumes only when both are at their low-water marks', () => {
    const admission = createAdmission({
      maxInflight: 10,
      highWater: 8,
      lowWater: 4,
      maxInflightBytes: 1000,
    })
    const states: boolean[] = []
    admission.paused$.subscribe((paused) => states.push(paused))
    expect(admission.tryAcquire(1, 800)).toBe(true) // bytes at 80%
    expect(admission.paused).toBe(true)
    expect(admission.tryAcquire(7, 0)).toBe(true) // 8 events
    admission.release(1, 800) // bytes 0, events 7: still over the events' low-water mark
    expect(admission.paused).toBe(true)
    admission.release(3) // 4 events
    expect(admission.paused).toBe(false)
    expect(admission.tryAcquire(1, 700)).toBe(true) // 5 events, 700 bytes: under both high-water marks
    expect(admission.paused).toBe(false)
    expect(states).toEqual([false, true, false])
  })

  it('charges each event of a body an equal share of its retained size, rounded up, plus a per-event part', () => {
    expect(retainedBytes(0, 0)).toBe(0)
    expect(retainedBytes(0, 1)).toBe(RETAINED_PER_SUBMISSION + RETAINED_PER_EVENT)
    expect(retainedBytes(100, 3)).toBe(
      RETAINED_PER_EVENT + Math.ceil((RETAINED_PER_SUBMISSION + 100 * RETAINED_PER_JSON_BYTE) / 3),
    )
    expect(3 * retainedBytes(100, 3)).toBeGreaterThanOrEqual(
      RETAINED_PER_SUBMISSION + 3 * RETAINED_PER_EVENT + 100 * RETAINED_PER_JSON_BYTE,
    )
  })

  it('refuses water marks that cannot work', () => {
    expect(() => createAdmission({ maxInflight: 10, highWater: 4, lowWater: 4 })).toThrow(
      RangeError,
    )
    expect(() => createAdmission({ maxInflight: 10, highWater: 11 })).toThrow(RangeError)
    expect(() => createAdmission({ maxInflight: 10, maxInflightBytes: 0 })).toThrow(RangeError)
  })
})
