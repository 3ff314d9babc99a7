import { from, lastValueFrom, type ObservableInput } from 'rxjs'
import { describe, expect, it } from 'vitest'
import type { OutboxEntry, RouteOutbox } from '../../src/streams/routing/ports.js'
import { event } from '../streams/routing/fakes.js'
import { value } from '../support/observables.js'

export interface RouteOutboxHarness {
  readonly outbox: RouteOutbox
  /** Another instance on the same storage, as a restart after a kill -9 of this one: nothing acked, nothing released. */
  restart(): Promise<RouteOutbox>
  /** makes `ms` pass for the outbox: moves its injected clock, or waits in real time */
  elapse(ms: number): Promise<void>
}

export interface RouteOutboxOptions {
  /** how long a released entry stays out of reads (the Redis outbox's claimIdleMs) */
  readonly releaseDelayMs: number
}

export type RouteOutboxFactory = (options: RouteOutboxOptions) => Promise<RouteOutboxHarness>

const TIMEOUT_MS = 20_000
/** Long enough that no test machine stalls through it between a release and the next read. */
const RELEASE_DELAY_MS = 2000

const done = (input: ObservableInput<unknown>) =>
  lastValueFrom(from(input), { defaultValue: undefined })
const ids = (entries: readonly OutboxEntry[]) => entries.map((entry) => entry.event.id)
const receipts = (entries: readonly OutboxEntry[], ...only: string[]) =>
  entries.filter((entry) => only.includes(entry.event.id)).map((entry) => entry.receipt)
const events = (...names: string[]) => names.map((name) => event(name))

/** Reads in pages of `page` until a read comes back empty. */
async function readAll(outbox: RouteOutbox, route: string, page = 1000): Promise<OutboxEntry[]> {
  const out: OutboxEntry[] = []
  for (
    let got = await value(outbox.read(route, page));
    got.length > 0;
    got = await value(outbox.read(route, page))
  )
    out.push(...got)
  return out
}

/**
 * The behaviour every RouteOutbox must have for the one process that owns it (ports.ts): appended
 * events are handed out once while held, acknowledged ones never again, and whatever was not
 * acknowledged comes back after a restart — so that a kill -9 loses no route delivery.
 */
export function routeOutboxContract(name: string, factory: RouteOutboxFactory): void {
  describe(`${name} (RouteOutbox contract)`, () => {
    const make = () => factory({ releaseDelayMs: RELEASE_DELAY_MS })

    it(
      'hands each appended event out once, in the order appended, to its own route only',
      async () => {
        const { outbox } = await make()
        await done(outbox.open(['one', 'two']))
        await done(
          outbox.append([
            { route: 'one', events: events('1', '2') },
            { route: 'two', events: events('3') },
          ]),
        )
        const first = await value(outbox.read('one', 1))
        const rest = await value(outbox.read('one', 10))
        expect([...ids(first), ...ids(rest)]).toEqual(['1', '2'])
        expect(first[0]!.event).toEqual(event('1'))
        expect(await value(outbox.read('one', 10))).toEqual([])
        expect(ids(await value(outbox.read('two', 10)))).toEqual(['3'])
      },
      TIMEOUT_MS,
    )

    it(
      'reads nothing from a route nothing was appended to',
      async () => {
        const { outbox } = await make()
        await done(outbox.open(['empty']))
        expect(await value(outbox.read('empty', 10))).toEqual([])
      },
      TIMEOUT_MS,
    )

    it(
      'hands out a backlog larger than one read page by page, each entry once and in order',
      async () => {
        const { outbox } = await make()
        await done(outbox.open(['backlog']))
        const names = Array.from({ length: 250 }, (_, i) => `b-${i}`)
        for (let i = 0; i < names.length; i += 100)
          await done(
            outbox.append([{ route: 'backlog', events: events(...names.slice(i, i + 100)) }]),
          )
        expect(ids(await readAll(outbox, 'backlog', 40))).toEqual(names)
      },
      TIMEOUT_MS,
    )

    it(
      'takes appends made at the same time without losing or mixing any',
      async () => {
        const { outbox } = await make()
        await done(outbox.open(['left', 'right']))
        const appends = Array.from({ length: 10 }, (_, i) =>
          done(
            outbox.append([
              { route: 'left', events: events(`l-${i}-a`, `l-${i}-b`) },
              { route: 'right', events: events(`r-${i}`) },
            ]),
          ),
        )
        await Promise.all(appends)
        expect(ids(await readAll(outbox, 'left')).sort()).toEqual(
          Array.from({ length: 10 }, (_, i) => [`l-${i}-a`, `l-${i}-b`])
            .flat()
            .sort(),
        )
        expect(ids(await readAll(outbox, 'right')).sort()).toEqual(
          Array.from({ length: 10 }, (_, i) => `r-${i}`).sort(),
        )
      },
      TIMEOUT_MS,
    )

    it(
      'gives a restarted instance at once everything that was not acknowledged: held or never read',
      async () => {
        const harness = await make()
        await done(harness.outbox.open(['crash']))
        await done(harness.outbox.append([{ route: 'crash', events: events('held', 'acked') }]))
        const read = await value(harness.outbox.read('crash', 10))
        await done(harness.outbox.ack('crash', receipts(read, 'acked')))
        await done(harness.outbox.append([{ route: 'crash', events: events('unread') }]))
        const after = await harness.restart()
        await done(after.open(['crash']))
        expect(ids(await readAll(after, 'crash'))).toEqual(['held', 'unread'])
      },
      TIMEOUT_MS,
    )

    it(
      'never hands out an acknowledged entry again, not even after a restart, whatever order the acks came in',
      async () => {
        const harness = await make()
        await done(harness.outbox.open(['acks']))
        await done(
          harness.outbox.append([{ route: 'acks', events: events('1', '2', '3', '4', '5', '6') }]),
        )
        const read = await readAll(harness.outbox, 'acks')
        await done(harness.outbox.ack('acks', receipts(read, '6', '2')))
        await done(harness.outbox.ack('acks', receipts(read, '4')))
        const after = await harness.restart()
        await done(after.open(['acks']))
        const again = await readAll(after, 'acks')
        expect(ids(again)).toEqual(['1', '3', '5'])
        await done(
          after.ack(
            'acks',
            again.map((entry) => entry.receipt),
          ),
        )
        const last = await harness.restart()
        await done(last.open(['acks']))
        expect(await value(last.read('acks', 10))).toEqual([])
      },
      TIMEOUT_MS,
    )

    it(
      'keeps a released entry out of reads until the release delay has passed, then hands it out again',
      async () => {
        const { outbox, elapse } = await make()
        await done(outbox.open(['release']))
        await done(outbox.append([{ route: 'release', events: events('r', 'kept') }]))
        const read = await value(outbox.read('release', 10))
        outbox.release('release', receipts(read, 'r'))
        expect(await value(outbox.read('release', 10))).toEqual([])
        await elapse(RELEASE_DELAY_MS * 1.5)
        expect(ids(await value(outbox.read('release', 10)))).toEqual(['r'])
        expect(await value(outbox.read('release', 10))).toEqual([])
      },
      TIMEOUT_MS,
    )
  })
}
