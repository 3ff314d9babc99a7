import { from, map, throwError, type Observable } from 'rxjs'
import { describe, expect, it } from 'vitest'
import { createMemoryDedupeStore } from '../../src/adapters/memory/memory-dedupe-store.js'
import { acknowledge } from '../../src/streams/operators/acknowledge.js'
import { commit, type CommitOptions } from '../../src/streams/operators/commit.js'
import { createFakeSink } from '../../src/testing/fake-sink.js'
import type { ClaimedBatch } from '../../src/streams/envelope.js'
import type { ClaimReceipt } from '../../src/streams/ports.js'
import { claimNow, envelopes, ids, testScheduler } from './helpers.js'

const retry = { initialMs: 10, maxMs: 1000, budgetMs: 100, random: () => 1 }

function setup(
  scheduler: ReturnType<typeof testScheduler>,
  sinkOptions: Parameters<typeof createFakeSink>[0] = {},
  options: Partial<CommitOptions> = {},
) {
  const store = createMemoryDedupeStore({
    ttlSeconds: 3600,
    reservationSeconds: 60,
    maxEntries: 100,
    now: () => scheduler.now(),
  })
  const sink = createFakeSink({ scheduler, ...sinkOptions })
  const commitOnly = commit({ sink, store, concurrency: 2, retry, scheduler, ...options })
  // What the pipeline does after a commit (without routes): the ack.
  const operator = (source: Observable<ClaimedBatch>) => source.pipe(commitOnly, acknowledge())
  const { make, settled } = envelopes(() => scheduler.now())
  /** The envelopes of these ids as dedupe hands them on: claimed, with the store's receipt. */
  const claimed = (...ids: string[]): ClaimedBatch => {
    const batch = ids.map((id) => make(id))
    let receipt!: ClaimReceipt
    from(
      store.claim(
        batch.map((envelope) => ({ id: envelope.event.id, fingerprint: envelope.fingerprint })),
      ),
    ).subscribe((r) => (receipt = r))
    return { envelopes: batch, receipts: [receipt] }
  }
  return { store, sink, operator, commitOnly, claimed, settled }
}

describe('commit', () => {
  it('writes a batch in one insert, confirms its claims and emits it unsettled: the ack comes later', () => {
    const scheduler = testScheduler()
    scheduler.run(({ hot, expectObservable, flush }) => {
      const { store, sink, commitOnly, claimed, settled } = setup(scheduler, { latencyMs: 3 })
      expectObservable(hot('-x-|', { x: claimed('a', 'b') }).pipe(commitOnly, map(ids))).toBe(
        '----(x|)',
        { x: 'a,b' },
      )
      flush()
      expect(sink.batches.map((b) => [b.at, ids(b.events)])).toEqual([[4, 'a,b']])
      expect(settled).toEqual([])
      expect(claimNow(store, [{ id: 'a', fingerprint: 'fp-a' }])).toEqual(['duplicate'])
    })
  })

  it('settles a committed batch accepted once acknowledge takes it', () => {
    const scheduler = testScheduler()
    scheduler.run(({ hot, expectObservable, flush }) => {
      const { operator, claimed, settled } = setup(scheduler, { latencyMs: 3 })
      expectObservable(hot('-x-|', { x: claimed('a', 'b') }).pipe(operator, map(ids))).toBe(
        '----(x|)',
        { x: 'a,b' },
      )
      flush()
      expect(settled.map((s) => `${s.id}:${s.status}@${s.at}`)).toEqual([
        'a:accepted@4',
        'b:accepted@4',
      ])
    })
  })

  it('releases the claims of the batches it holds when it is unsubscribed: waiting, or being written', () => {
    const scheduler = testScheduler()
    scheduler.run(({ hot, expectObservable, flush }) => {
      const { store, sink, commitOnly, claimed, settled } = setup(
        scheduler,
        { latencyMs: 10 },
        { concurrency: 1 },
      )
      const source = hot('-x-y-', { x: claimed('a'), y: claimed('b') })
      // a is being written (1–11) and b waits when the chain is torn down at 5
      expectObservable(source.pipe(commitOnly, map(ids)), '^----!').toBe('-----')
      flush()
      expect(sink.batches).toEqual([])
      expect(settled).toEqual([])
      expect(
        claimNow(store, [
          { id: 'a', fingerprint: 'fp-a' },
          { id: 'b', fingerprint: 'fp-b' },
        ]),
      ).toEqual(['new', 'new'])
    })
  })

  it('hands a written batch to the routes before it confirms its claims: until then a re-send finds the id reserved, not seen', () => {
    const scheduler = testScheduler()
    scheduler.run(({ hot, cold, expectObservable, expectSubscriptions, flush }) => {
      const append = cold<void>('---|')
      const handed: string[] = []
      const during: Array<readonly string[] | undefined> = []
      const { store, commitOnly, claimed, settled } = setup(
        scheduler,
        { latencyMs: 2 },
        { handOff: (events) => (handed.push(`${scheduler.now()}:${ids(events)}`), append) },
      )
      scheduler.schedule(
        () => void during.push(claimNow(store, [{ id: 'a', fingerprint: 'fp-a' }])),
        4,
      )
      // written 1–3, handed off 3–6, confirmed and emitted at 6
      expectObservable(hot('-x-|', { x: claimed('a', 'b') }).pipe(commitOnly, map(ids))).toBe(
        '------(x|)',
        { x: 'a,b' },
      )
      expectSubscriptions(append.subscriptions).toBe('---^--!')
      flush()
      expect(handed).toEqual(['3:a,b'])
      expect(during).toEqual([['pending']])
      expect(settled).toEqual([])
      expect(claimNow(store, [{ id: 'a', fingerprint: 'fp-a' }])).toEqual(['duplicate'])
    })
  })

  it('settles a batch failed and releases its claims when its hand-off fails: the re-send is accepted and handed off again', () => {
    const scheduler = testScheduler()
    scheduler.run(({ hot, expectObservable, flush }) => {
      const failures: Array<[number, string]> = []
      const { store, commitOnly, claimed, settled } = setup(
        scheduler,
        { latencyMs: 2 },
        {
          handOff: () => throwError(() => new Error('outbox down')),
          telemetry: {
            handOffFailed: (events, error) => failures.push([events, (error as Error).message]),
          },
        },
      )
      expectObservable(hot('-x-|', { x: claimed('a') }).pipe(commitOnly, map(ids))).toBe('---|')
      flush()
      expect(failures).toEqual([[1, 'outbox down']])
      expect(settled.map((s) => `${s.id}:${s.status}@${s.at}`)).toEqual(['a:failed@3'])
      expect(claimNow(store, [{ id: 'a', fingerprint: 'fp-a' }])).toEqual(['new'])
    })
  })

  it('releases the claims of a batch whose hand-off is cut short (the chain torn down): nothing marks its ids seen', () => {
    const scheduler = testScheduler()
    scheduler.run(({ hot, cold, expectObservable, flush }) => {
      const append = cold<void>('-----|')
      const { store, commitOnly, claimed, settled } = setup(
        scheduler,
        { latencyMs: 2 },
        { handOff: () => append },
      )
      expectObservable(hot('-x-', { x: claimed('a') }).pipe(commitOnly, map(ids)), '^---!').toBe(
        '----',
      )
      flush()
      expect(settled).toEqual([])
      expect(claimNow(store, [{ id: 'a', fingerprint: 'fp-a' }])).toEqual(['new'])
    })
  })

  it('merges the batches that waited for a free insert into one, up to maxRows', () => {
    const scheduler = testScheduler()
    scheduler.run(({ hot, expectObservable, flush }) => {
      const { sink, operator, claimed, settled } = setup(
        scheduler,
        { latencyMs: 5 },
        { concurrency: 1, maxRows: 3 },
      )
      // a is being written (1–6) while b, c and d come; b and c fit in one insert of 3 rows, d does not.
      const source = hot('-a-b-c-d-|', {
        a: claimed('a'),
        b: claimed('b1', 'b2'),
        c: claimed('c'),
        d: claimed('d'),
      })
      expectObservable(source.pipe(operator, map(ids))).toBe('------a----x----(d|)', {
        a: 'a',
        x: 'b1,b2,c',
        d: 'd',
      })
      flush()
      expect(sink.batches.map((b) => [b.at, ids(b.events)])).toEqual([
        [6, 'a'],
        [11, 'b1,b2,c'],
        [16, 'd'],
      ])
      expect(settled.map((s) => `${s.id}@${s.at}`)).toEqual([
        'a@6',
        'b1@11',
        'b2@11',
        'c@11',
        'd@16',
      ])
    })
  })

  it('retries a failing insert with backoff and settles only after the commit', () => {
    const scheduler = testScheduler()
    scheduler.run(({ hot, expectObservable, flush }) => {
      // The first two writes fail after 1 ms; waits are 10 then 20 ms.
      const { operator, claimed, settled } = setup(scheduler, {
        latencyMs: 1,
        fail: (_e, attempt) => (attempt <= 2 ? new Error('ECONNRESET') : undefined),
      })
      expectObservable(hot('-x', { x: claimed('a') }).pipe(operator, map(ids))).toBe(
        '- 1ms 10ms 1ms 20ms 1ms x',
        { x: 'a' },
      )
      flush()
      expect(settled).toEqual([{ id: 'a', status: 'accepted', at: 34 }])
    })
  })

  it('releases the claims and settles failed when the budget runs out, and goes on with the next batch', () => {
    const scheduler = testScheduler()
    scheduler.run(({ hot, expectObservable, flush }) => {
      const down = (events: readonly { id: string }[]) =>
        events[0]!.id === 'a' ? new Error('ECONNREFUSED') : undefined
      const { store, operator, claimed, settled } = setup(scheduler, { latencyMs: 1, fail: down })
      expectObservable(
        hot('-x----y', { x: claimed('a'), y: claimed('b') }).pipe(operator, map(ids)),
      ).toBe('-------y', { y: 'b' })
      flush()
      // attempts end at 2, 13, 34, 75; the next wait (80 ms) would pass the 100 ms budget.
      expect(settled).toEqual([
        { id: 'b', status: 'accepted', at: 7 },
        { id: 'a', status: 'failed', at: 75 },
      ])
      expect(claimNow(store, [{ id: 'a', fingerprint: 'fp-a' }])).toEqual(['new'])
    })
  })

  it('fails a batch at once when the sink calls the error final', () => {
    const scheduler = testScheduler()
    scheduler.run(({ hot, flush }) => {
      const { operator, claimed, settled, sink } = setup(scheduler, {
        latencyMs: 1,
        fail: () => new Error('Code: 60'),
        isRetriable: () => false,
      })
      hot('-x', { x: claimed('a') })
        .pipe(operator)
        .subscribe()
      flush()
      expect(sink.attempts).toBe(1)
      expect(settled).toEqual([{ id: 'a', status: 'failed', at: 2 }])
    })
  })

  it('keeps at most `concurrency` inserts in flight', () => {
    const scheduler = testScheduler()
    scheduler.run(({ hot, expectObservable }) => {
      const { operator, claimed } = setup(scheduler, { latencyMs: 5 }, {})
      const source = hot('-xyz', { x: claimed('a'), y: claimed('b'), z: claimed('c') })
      // concurrency 2: a and b together, c once a is done
      expectObservable(source.pipe(operator, map(ids))).toBe('------ab---c', {
        a: 'a',
        b: 'b',
        c: 'c',
      })
    })
  })
})
