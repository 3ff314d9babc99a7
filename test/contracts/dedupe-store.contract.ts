import { randomUUID } from 'node:crypto'
import { firstValueFrom, from, lastValueFrom, type ObservableInput } from 'rxjs'
import { describe, expect, it } from 'vitest'
import type { Claim, DedupeStore } from '../../src/streams/ports.js'

export interface DedupeStoreHarness {
  readonly store: DedupeStore
  /** makes `ms` pass for the store: moves its injected clock, or waits in real time */
  elapse(ms: number): Promise<void>
}

export interface DedupeStoreOptions {
  readonly ttlSeconds: number
  readonly reservationSeconds: number
}

export type DedupeStoreFactory = (options: DedupeStoreOptions) => DedupeStoreHarness | Promise<DedupeStoreHarness>

/** How long a test waits for a reservation to lapse: real Redis needs real seconds. */
const RESERVATION_SECONDS = 1
const TIMEOUT_MS = 20_000

const value = <T>(input: ObservableInput<T>) => firstValueFrom(from(input))
const done = (input: ObservableInput<void>) => lastValueFrom(from(input), { defaultValue: undefined })

/** Ids unique to each test, so that one Redis serves many tests (and runs) without cross-talk. */
function claims(count: number, fingerprint = 'fp-a'): Claim[] {
  const run = randomUUID()
  return Array.from({ length: count }, (_, i) => ({ id: `${run}-${i}`, fingerprint }))
}

const withFingerprint = (list: readonly Claim[], fingerprint: string) => list.map(({ id }) => ({ id, fingerprint }))

/**
 * The behaviour every DedupeStore must have (ports.ts, API.md §5): two-phase claims — a short
 * reservation that becomes a mark for the whole window only when the commit confirms it.
 */
export function dedupeStoreContract(name: string, factory: DedupeStoreFactory): void {
  describe(`${name} (DedupeStore contract)`, () => {
    const make = () => factory({ ttlSeconds: 60, reservationSeconds: RESERVATION_SECONDS })

    it('answers new for ids it has never seen, in the order asked', async () => {
      const { store } = await make()
      const batch = claims(3)
      expect(await value(store.claim(batch))).toEqual(['new', 'new', 'new'])
    })

    it('answers duplicate for a confirmed id claimed again with the same fingerprint', async () => {
      const { store } = await make()
      const batch = claims(2)
      await value(store.claim(batch))
      await done(store.confirm(batch))
      expect(await value(store.claim(batch))).toEqual(['duplicate', 'duplicate'])
    })

    it('answers conflict for a confirmed id claimed again with other content', async () => {
      const { store } = await make()
      const batch = claims(1)
      await value(store.claim(batch))
      await done(store.confirm(batch))
      expect(await value(store.claim(withFingerprint(batch, 'fp-b')))).toEqual(['conflict'])
    })

    it('answers pending while another claim holds the reservation, whatever the fingerprint', async () => {
      const { store } = await make()
      const batch = claims(1)
      await value(store.claim(batch))
      expect(await value(store.claim(batch))).toEqual(['pending'])
      expect(await value(store.claim(withFingerprint(batch, 'fp-b')))).toEqual(['pending'])
    })

    it('answers pending for a second copy of an id in the same batch', async () => {
      const { store } = await make()
      const [one] = claims(1)
      expect(await value(store.claim([one!, one!]))).toEqual(['new', 'pending'])
    })

    it('answers a mixed batch per id', async () => {
      const { store } = await make()
      const [confirmed, other, reserved, fresh] = claims(4)
      await value(store.claim([confirmed!, other!, reserved!]))
      await done(store.confirm([confirmed!, other!]))
      const statuses = await value(store.claim([fresh!, { ...other!, fingerprint: 'fp-b' }, reserved!, confirmed!]))
      expect(statuses).toEqual(['new', 'conflict', 'pending', 'duplicate'])
    })

    it('lets a released id be claimed again', async () => {
      const { store } = await make()
      const batch = claims(2)
      await value(store.claim(batch))
      await done(store.release(batch))
      expect(await value(store.claim(batch))).toEqual(['new', 'new'])
    })

    it('does not release a reservation held with another fingerprint', async () => {
      const { store } = await make()
      const batch = claims(1)
      await value(store.claim(batch))
      await done(store.release(withFingerprint(batch, 'fp-b')))
      expect(await value(store.claim(batch))).toEqual(['pending'])
    })

    it('confirms equal claims that are other objects than the ones claimed', async () => {
      const { store } = await make()
      const batch = claims(2)
      await value(store.claim(batch))
      await done(store.confirm(batch.map(({ id, fingerprint }) => ({ id, fingerprint }))))
      expect(await value(store.claim(batch))).toEqual(['duplicate', 'duplicate'])
    })

    it('does not release an id that is already confirmed', async () => {
      const { store } = await make()
      const batch = claims(1)
      await value(store.claim(batch))
      await done(store.confirm(batch))
      await done(store.release(batch))
      expect(await value(store.claim(batch))).toEqual(['duplicate'])
    })

    it('frees a reservation that is never confirmed once it expires', { timeout: TIMEOUT_MS }, async () => {
      const { store, elapse } = await make()
      const batch = claims(1)
      await value(store.claim(batch))
      await elapse(RESERVATION_SECONDS * 1000 + 200)
      expect(await value(store.claim(withFingerprint(batch, 'fp-b')))).toEqual(['new'])
    })

    it('keeps a confirmed id past the reservation time', { timeout: TIMEOUT_MS }, async () => {
      const { store, elapse } = await make()
      const batch = claims(1)
      await value(store.claim(batch))
      await done(store.confirm(batch))
      await elapse(RESERVATION_SECONDS * 1000 + 200)
      expect(await value(store.claim(batch))).toEqual(['duplicate'])
    })

    it('forgets a confirmed id once the dedupe window has passed', { timeout: TIMEOUT_MS }, async () => {
      const { store, elapse } = await factory({ ttlSeconds: 1, reservationSeconds: 1 })
      const batch = claims(1)
      await value(store.claim(batch))
      await done(store.confirm(batch))
      await elapse(1200)
      expect(await value(store.claim(batch))).toEqual(['new'])
    })

    it('answers an empty batch with an empty list and takes empty confirms and releases', async () => {
      const { store } = await make()
      expect(await value(store.claim([]))).toEqual([])
      await expect(done(store.confirm([]))).resolves.toBeUndefined()
      await expect(done(store.release([]))).resolves.toBeUndefined()
    })

    it('claims, confirms and re-claims 10,000 ids in one call each', { timeout: TIMEOUT_MS }, async () => {
      const { store } = await make()
      const batch = claims(10_000)
      const first = await value(store.claim(batch))
      expect(first).toHaveLength(10_000)
      expect(first.every((status) => status === 'new')).toBe(true)
      await done(store.confirm(batch))
      const again = await value(store.claim(batch))
      expect(again.every((status) => status === 'duplicate')).toBe(true)
    })
  })
}
