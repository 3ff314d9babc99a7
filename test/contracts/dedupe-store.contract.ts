import { randomUUID } from 'node:crypto'
import { firstValueFrom, from, lastValueFrom, type ObservableInput } from 'rxjs'
import { describe, expect, it } from 'vitest'
import type { Claim, ClaimReceipt, DedupeStore } from '../../src/streams/ports.js'

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
const statuses = async (input: ObservableInput<ClaimReceipt>) => (await value(input)).statuses

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
      expect(await statuses(store.claim(batch))).toEqual(['new', 'new', 'new'])
    })

    it('answers duplicate for a confirmed id claimed again with the same fingerprint', async () => {
      const { store } = await make()
      const batch = claims(2)
      const receipt = await value(store.claim(batch))
      await done(store.confirm([receipt]))
      expect(await statuses(store.claim(batch))).toEqual(['duplicate', 'duplicate'])
    })

    it('answers conflict for a confirmed id claimed again with other content', async () => {
      const { store } = await make()
      const batch = claims(1)
      const receipt = await value(store.claim(batch))
      await done(store.confirm([receipt]))
      expect(await statuses(store.claim(withFingerprint(batch, 'fp-b')))).toEqual(['conflict'])
    })

    it('answers pending while another claim holds the reservation, whatever the fingerprint', async () => {
      const { store } = await make()
      const batch = claims(1)
      await value(store.claim(batch))
      expect(await statuses(store.claim(batch))).toEqual(['pending'])
      expect(await statuses(store.claim(withFingerprint(batch, 'fp-b')))).toEqual(['pending'])
    })

    it('answers pending for a second copy of an id in the same batch', async () => {
      const { store } = await make()
      const [one] = claims(1)
      expect(await statuses(store.claim([one!, one!]))).toEqual(['new', 'pending'])
    })

    it('answers a mixed batch per id', async () => {
      const { store } = await make()
      const [confirmed, other, reserved, fresh] = claims(4)
      const receipt = await value(store.claim([confirmed!, other!]))
      await value(store.claim([reserved!]))
      await done(store.confirm([receipt]))
      const answer = await statuses(store.claim([fresh!, { ...other!, fingerprint: 'fp-b' }, reserved!, confirmed!]))
      expect(answer).toEqual(['new', 'conflict', 'pending', 'duplicate'])
    })

    it('lets a released id be claimed again', async () => {
      const { store } = await make()
      const batch = claims(2)
      const receipt = await value(store.claim(batch))
      await done(store.release([receipt]))
      expect(await statuses(store.claim(batch))).toEqual(['new', 'new'])
    })

    it('releases only the reservations its receipt took, not those a claim answered pending', async () => {
      const { store } = await make()
      const batch = claims(1)
      await value(store.claim(batch))
      const second = await value(store.claim(withFingerprint(batch, 'fp-b')))
      expect(second.statuses).toEqual(['pending'])
      await done(store.release([second]))
      expect(await statuses(store.claim(batch))).toEqual(['pending'])
    })

    it('confirms several receipts in one call', async () => {
      const { store } = await make()
      const [a, b] = claims(2)
      const receipts = [await value(store.claim([a!])), await value(store.claim([b!]))]
      await done(store.confirm(receipts))
      expect(await statuses(store.claim([a!, b!]))).toEqual(['duplicate', 'duplicate'])
    })

    it('ignores a receipt it did not issue', async () => {
      const { store } = await make()
      const batch = claims(1)
      await value(store.claim(batch))
      await done(store.release([{ statuses: ['new'] }]))
      await done(store.confirm([{ statuses: ['new'] }]))
      expect(await statuses(store.claim(batch))).toEqual(['pending'])
    })

    it('does not release an id that is already confirmed', async () => {
      const { store } = await make()
      const batch = claims(1)
      const receipt = await value(store.claim(batch))
      await done(store.confirm([receipt]))
      await done(store.release([receipt]))
      expect(await statuses(store.claim(batch))).toEqual(['duplicate'])
    })

    it('frees a reservation that is never confirmed once it expires', { timeout: TIMEOUT_MS }, async () => {
      const { store, elapse } = await make()
      const batch = claims(1)
      await value(store.claim(batch))
      await elapse(RESERVATION_SECONDS * 1000 + 200)
      expect(await statuses(store.claim(withFingerprint(batch, 'fp-b')))).toEqual(['new'])
    })

    it('keeps a confirmed id past the reservation time', { timeout: TIMEOUT_MS }, async () => {
      const { store, elapse } = await make()
      const batch = claims(1)
      const receipt = await value(store.claim(batch))
      await done(store.confirm([receipt]))
      await elapse(RESERVATION_SECONDS * 1000 + 200)
      expect(await statuses(store.claim(batch))).toEqual(['duplicate'])
    })

    it('forgets a confirmed id once the dedupe window has passed', { timeout: TIMEOUT_MS }, async () => {
      const { store, elapse } = await factory({ ttlSeconds: 1, reservationSeconds: 1 })
      const batch = claims(1)
      const receipt = await value(store.claim(batch))
      await done(store.confirm([receipt]))
      await elapse(1200)
      expect(await statuses(store.claim(batch))).toEqual(['new'])
    })

    it('answers an empty batch with an empty list and takes empty confirms and releases', async () => {
      const { store } = await make()
      expect(await statuses(store.claim([]))).toEqual([])
      await expect(done(store.confirm([]))).resolves.toBeUndefined()
      await expect(done(store.release([]))).resolves.toBeUndefined()
    })

    it('claims, confirms and re-claims 10,000 ids in one call each', { timeout: TIMEOUT_MS }, async () => {
      const { store } = await make()
      const batch = claims(10_000)
      const receipt = await value(store.claim(batch))
      const first = receipt.statuses
      expect(first).toHaveLength(10_000)
      expect(first.every((status) => status === 'new')).toBe(true)
      await done(store.confirm([receipt]))
      const again = await statuses(store.claim(batch))
      expect(again.every((status) => status === 'duplicate')).toBe(true)
    })
  })
}
