import { lastValueFrom, map, Subject, tap, type Observable } from 'rxjs'
import { describe, expect, it } from 'vitest'
import type { OutboxEntry } from '../../../src/streams/routing/ports.js'
import { pumpOutbox } from '../../../src/streams/routing/outbox-pump.js'
import { testScheduler } from '../helpers.js'
import { event, memoryOutbox } from './fakes.js'

const ids = (entries: OutboxEntry[]) => entries.map((e) => e.event.id).join('')

async function filled(...names: string[]) {
  const outbox = memoryOutbox()
  await lastValueFrom(
    outbox.append([{ route: 'r', events: names.map((id) => event(id)) }]) as Observable<unknown>,
    { defaultValue: undefined },
  )
  return outbox
}

describe('pumpOutbox', () => {
  it('reads at once, page by page while pages come back full, and never past the room it has', async () => {
    const outbox = await filled('a', 'b', 'c', 'd')
    const scheduler = testScheduler()
    scheduler.run(({ hot, expectObservable }) => {
      let held = 0
      const wake = new Subject<void>()
      // A settle at 5 ms frees room for one more.
      hot('-----s').subscribe(() => (held--, wake.next()))
      const pumped = pumpOutbox({
        outbox,
        route: 'r',
        room: () => 3 - held,
        pageSize: 2,
        wake$: wake,
        pollMs: 1000,
        scheduler,
      })
      // The route takes what is pumped at once: held grows before the pump decides whether to read again.
      const taken = pumped.pipe(
        tap((entries) => (held += entries.length)),
        map(ids),
      )
      expectObservable(taken, '^ 20ms !').toBe('(xy)-z', { x: 'ab', y: 'c', z: 'd' })
    })
  })

  it('reads again on every poll tick, for what other instances append', async () => {
    const outbox = await filled()
    const scheduler = testScheduler()
    scheduler.run(({ hot, expectObservable }) => {
      hot('---x').subscribe(() => void outbox.append([{ route: 'r', events: [event('late')] }]))
      const pumped = pumpOutbox({
        outbox,
        route: 'r',
        room: () => 10,
        pageSize: 10,
        wake$: new Subject(),
        pollMs: 10,
        scheduler,
      })
      expectObservable(pumped, '^ 30ms !').toBe('10ms x', {
        x: [{ receipt: '1', event: event('late') }],
      })
    })
  })

  it('reports a failed read and tries again at the next nudge', async () => {
    const outbox = await filled('a')
    const scheduler = testScheduler()
    scheduler.run(({ hot, expectObservable, flush }) => {
      const errors: string[] = []
      const read = outbox.read
      let fail = true
      outbox.read = (route, max) => {
        if (fail) {
          fail = false
          throw new Error('LOADING Redis is loading the dataset in memory')
        }
        return read(route, max)
      }
      const wake = hot<void>('--w')
      const pumped = pumpOutbox({
        outbox,
        route: 'r',
        room: () => 10,
        pageSize: 10,
        wake$: wake,
        pollMs: 1000,
        scheduler,
        onError: (e) => errors.push((e as Error).message),
      })
      expectObservable(pumped, '^ 5ms !').toBe('--x', { x: [{ receipt: '1', event: event('a') }] })
      flush()
      expect(errors).toEqual(['LOADING Redis is loading the dataset in memory'])
    })
  })
})
