import { randomUUID } from 'node:crypto'
import { type ObservableInput } from 'rxjs'
import { describe, expect, it } from 'vitest'
import type { Claim, ClaimReceipt, DedupeStore } from '../../src/streams/ports.js'
import { done, value } from '../support/observables.js'

export interface DedupeStoreHarness {
  /** the store of one instance (one Sluice process) */
  readonly store: DedupeStore
  /** makes `ms` pass for the store: moves its injected clock, or waits in real time */
  elapse(ms: number): Promise<void>
  /**
   * The store of another live instance sharing `store`'s ids. The in-process store is one
   * process's alone: there it is `store` itself.
   */
  readonly peer: DedupeStore
  /**
   * Ends the instance of `store` as kill -9 would (nothing confirmed, released or said goodbye),
   * and resolves, once the store can know it died, with the store of an instance started after it.
   * In-process: the store dies with its process, and the restarted process starts with a new one.
   */
  kill(): Promise<DedupeStore>
}

export interface DedupeStoreOptions {
  readonly ttlSeconds: number
  readonly reservationSeconds: number
  /** how long an instance's lease outlives its last refresh, where the store keeps leases */
  readonly leaseMs: number
}

export type DedupeStoreFactory = (
  options: DedupeStoreOptions,
) => DedupeStoreHarness | Promise<DedupeStoreHarness>

/** How long a test waits for a reservation to lapse: real Redis needs real seconds. */
const RESERVATION_SECONDS = 1
/** Far longer than any test here waits: what frees an id then is its owner's death, not expiry. */
const LONG_RESERVATION_SECONDS = 600
/** A lease a test can outlast in real time, with room for a late refresh on a busy machine. */
const LEASE_MS = 1000
const TIMEOUT_MS = 20_000

const statuses = async (input: ObservableInput<ClaimReceipt>) => (await value(input)).statuses

/** Ids unique to each test, so that one Redis serves many tests (and runs) without cross-talk. */
function claims(count: number, fingerprint = 'fp-a'): Claim[] {
  const run = randomUUID()
  return Array.from({ length: count }, (_, i) => ({ id: `${run}-${i}`, fingerprint }))
}

const withFingerprint = (list: readonly Claim[], fingerprint: string) =>
  list.map(({ id }) => ({ id, fingerprint }))

/**
 * The behaviour every DedupeStore must have (ports.ts, API.md §5): two-phase claims — a short
 * reservation that becomes a mark for the whole window only when the commit confirms it — and
 * reservations that stop blocking their ids soon after their instance dies, not only when they
 * expire. A shared store learns of a death from the dead instance's lapsed lease; the in-process
 * store needs nothing for it, since a restart starts it empty of reservations.
 */
export function dedupeStoreContract(name: string, factory: DedupeStoreFactory): void {
  describe(`${name} (DedupeStore contract)`, () => {
    const make = () =>
      factory({ ttlSeconds: 60, reservationSeconds: RESERVATION_SECONDS, leaseMs: LEASE_MS })

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
      const answer = await statuses(
        store.claim([fresh!, { ...other!, fingerprint: 'fp-b' }, reserved!, confirmed!]),
      )
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

    it(
      'frees a reservation that is never confirmed once it expires',
      { timeout: TIMEOUT_MS },
      async () => {
        const { store, elapse } = await make()
        const batch = claims(1)
        await value(store.claim(batch))
        await elapse(RESERVATION_SECONDS * 1000 + 200)
        expect(await statuses(store.claim(withFingerprint(batch, 'fp-b')))).toEqual(['new'])
      },
    )

    it(
      'takes over a reservation whose owner died once its lease lapsed, long before the reservation expires',
      { timeout: TIMEOUT_MS },
      async () => {
        const { store, kill } = await factory({
          ttlSeconds: 60,
          reservationSeconds: LONG_RESERVATION_SECONDS,
          leaseMs: LEASE_MS,
        })
        const batch = claims(3)
        await value(store.claim(batch))
        const next = await kill()
        expect(
          await statuses(next.claim([...withFingerprint(batch.slice(0, 2), 'fp-b'), batch[2]!])),
        ).toEqual(['new', 'new', 'new'])
        expect(await statuses(next.claim(batch))).toEqual(['pending', 'pending', 'pending'])
      },
    )

    it(
      'keeps a reservation pending while its owner lives, past its lease time',
      { timeout: TIMEOUT_MS },
      async () => {
        const { store, peer, elapse } = await factory({
          ttlSeconds: 60,
          reservationSeconds: LONG_RESERVATION_SECONDS,
          leaseMs: LEASE_MS,
        })
        const batch = claims(2)
        await value(store.claim(batch))
        await elapse(LEASE_MS * 2.5)
        expect(await statuses(peer.claim(batch))).toEqual(['pending', 'pending'])
      },
    )

    it('keeps a confirmed id past the reservation time', { timeout: TIMEOUT_MS }, async () => {
      const { store, elapse } = await make()
      const batch = claims(1)
      const receipt = await value(store.claim(batch))
      await done(store.confirm([receipt]))
      await elapse(RESERVATION_SECONDS * 1000 + 200)
      expect(await statuses(store.claim(batch))).toEqual(['duplicate'])
    })

    it(
      'forgets a confirmed id once the dedupe window has passed',
      { timeout: TIMEOUT_MS },
      async () => {
        const { store, elapse } = await factory({
          ttlSeconds: 1,
          reservationSeconds: 1,
          leaseMs: LEASE_MS,
        })
        const batch = claims(1)
        const receipt = await value(store.claim(batch))
        await done(store.confirm([receipt]))
        await elapse(1200)
        expect(await statuses(store.claim(batch))).toEqual(['new'])
      },
    )

    it('answers an empty batch with an empty list and takes empty confirms and releases', async () => {
      const { store } = await make()
      expect(await statuses(store.claim([]))).toEqual([])
      await expect(done(store.confirm([]))).resolves.toBeUndefined()
      await expect(done(store.release([]))).resolves.toBeUndefined()
    })

    it(
      'claims, confirms and re-claims 10,000 ids in one call each',
      { timeout: TIMEOUT_MS },
      async () => {
        const { store } = await make()
        const batch = claims(10_000)
        const receipt = await value(store.claim(batch))
        const first = receipt.statuses
        expect(first).toHaveLength(10_000)
        expect(first.every((status) => status === 'new')).toBe(true)
        await done(store.confirm([receipt]))
        const again = await statuses(store.claim(batch))
        expect(again.every((status) => status === 'duplicate')).toBe(true)
      },
    )
  })
}
