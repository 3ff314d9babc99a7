import { from, Observable } from 'rxjs'
import { TestScheduler } from 'rxjs/testing'
import { expect } from 'vitest'
import type { Envelope, SettleWatcher } from '../../src/streams/envelope.js'
import type { AcceptedEvent, Transport } from '../../src/streams/event.js'
import type { Pipeline } from '../../src/streams/pipeline.js'
import type { Claim, ClaimStatus, DedupeStore } from '../../src/streams/ports.js'
import type { Outcome } from '../../src/streams/outcome.js'
import { acceptedEvent } from '../../src/testing/builders.js'

export function testScheduler(): TestScheduler {
  return new TestScheduler((actual, expected) => expect(actual).toEqual(expected))
}

/** An accepted event with fixed times (sluice/testing's builder). */
export const event = acceptedEvent

/** Envelopes that record how and when they settle. */
export function envelopes(now: () => number) {
  const settled: Array<{ id: string; status: string; conflict?: boolean; at: number }> = []
  const make = (id: string, fingerprint = `fp-${id}`): Envelope => ({
    event: event(id),
    fingerprint,
    settle(outcome: Outcome) {
      settled.push({
        id,
        status: outcome.status,
        ...(outcome.status === 'duplicate' && outcome.conflict && { conflict: true }),
        at: now(),
      })
    },
  })
  return { make, settled }
}

/**
 * The same, as envelopes that can be watched (`Envelope.watch`), as the pipeline's own are: each
 * has its id, and tells its watcher once it has recorded how it settled.
 */
export function watchableEnvelopes(now: () => number) {
  const { make: plain, settled } = envelopes(now)
  const make = (id: string, fingerprint = `fp-${id}`): Envelope => {
    const envelope = plain(id, fingerprint)
    let watcher: SettleWatcher | undefined
    const watchable: Envelope = {
      id,
      event: envelope.event,
      fingerprint,
      settle(outcome: Outcome) {
        envelope.settle(outcome)
        const told = watcher
        watcher = undefined
        told?.settled(watchable, outcome)
      },
      watch: (w) => void (watcher = w),
    }
    return watchable
  }
  return { make, settled }
}

export const ids = (
  batch:
    | { readonly envelopes: readonly Envelope[] }
    | readonly { event: { id: string } }[]
    | readonly AcceptedEvent[],
) =>
  ('envelopes' in batch ? batch.envelopes : batch)
    .map((item) => ('event' in item ? item.event.id : item.id))
    .join(',')

/** Confirms ids as if an earlier batch had claimed and committed them. */
export function confirmNow(store: DedupeStore, claims: Claim[]): void {
  from(store.claim(claims)).subscribe((receipt) => from(store.confirm([receipt])).subscribe())
}

/** The statuses a store answers for a claim, read synchronously (the memory store answers at once). */
export function claimNow(store: DedupeStore, claims: Claim[]): readonly ClaimStatus[] | undefined {
  let statuses: readonly ClaimStatus[] | undefined
  from(store.claim(claims)).subscribe((receipt) => (statuses = receipt.statuses))
  return statuses
}

/** Results of one submission as an observable: emits a summary once the submission settles. */
export function submitted(
  pipeline: Pipeline,
  events: unknown[],
  transport: Transport = 'ws',
): Observable<string> {
  return new Observable<string>((subscriber) => {
    const taken = pipeline.offer(events, transport, (results) => {
      subscriber.next(
        results.map((r) => `${r.id ?? '?'}:${r.status}${r.conflict ? '!' : ''}`).join(','),
      )
      subscriber.complete()
    })
    if (!taken) {
      subscriber.next('overloaded')
      subscriber.complete()
    }
  })
}
