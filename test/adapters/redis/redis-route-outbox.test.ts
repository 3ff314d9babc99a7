import { randomUUID } from 'node:crypto'
import { Redis } from 'ioredis'
import { firstValueFrom, from, lastValueFrom, type ObservableInput } from 'rxjs'
import { afterAll, describe, expect, it } from 'vitest'
import { createRedisRouteOutbox, type RedisRouteOutboxOptions } from '../../../src/adapters/redis/redis-route-outbox.js'
import type { OutboxEntry } from '../../../src/streams/routing/ports.js'
import { REDIS_URL } from '../../support/services.js'
import { event } from '../../streams/routing/fakes.js'
import { sleep } from '../../support/wait.js'

// A real Redis (scripts/services.sh); every stream of this run lives under its own prefix.
const keyPrefix = `sluice:test:${randomUUID()}:route:`
const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 })
const outboxes: Array<{ close(): void }> = []
afterAll(async () => {
  for (const outbox of outboxes) outbox.close()
  const keys = await redis.keys(`${keyPrefix}*`)
  if (keys.length > 0) await redis.del(...keys)
  await redis.quit()
})

const value = <T>(input: ObservableInput<T>) => firstValueFrom(from(input))
const done = (input: ObservableInput<unknown>) => lastValueFrom(from(input), { defaultValue: undefined })
const ids = (entries: OutboxEntry[]) => entries.map((entry) => entry.event.id).sort()

async function outbox(consumer: string, options: Partial<RedisRouteOutboxOptions> = {}) {
  const created = createRedisRouteOutbox({ redis, consumer, keyPrefix, ...options })
  outboxes.push(created)
  return created
}

describe('redis route outbox', () => {
  it('appends events per route, hands each out once, and forgets them once acked', async () => {
    const box = await outbox('a')
    await done(box.open(['one', 'two']))
    await done(box.append([{ route: 'one', events: [event('1'), event('2')] }, { route: 'two', events: [event('3')] }]))
    const first = await value(box.read('one', 1))
    const rest = await value(box.read('one', 10))
    expect([...ids(first), ...ids(rest)]).toEqual(['1', '2'])
    expect(first[0]!.event).toEqual(event(first[0]!.event.id))
    expect(await value(box.read('one', 10))).toEqual([])
    expect(ids(await value(box.read('two', 10)))).toEqual(['3'])
    await done(box.ack('one', [...first, ...rest].map((entry) => entry.receipt)))
    expect(await redis.xlen(`${keyPrefix}one`)).toBe(0)
    expect(await redis.xpending(`${keyPrefix}one`, 'sluice')).toEqual([0, null, null, null])
  })

  it('shares a route between instances: each entry goes to one of them', async () => {
    const [a, b] = [await outbox('share-a'), await outbox('share-b')]
    await done(a.open(['shared']))
    await done(a.append([{ route: 'shared', events: ['1', '2', '3', '4'].map((id) => event(id)) }]))
    const fromA = await value(a.read('shared', 2))
    const fromB = await value(b.read('shared', 10))
    expect(fromA).toHaveLength(2)
    expect([...ids(fromA), ...ids(fromB)].sort()).toEqual(['1', '2', '3', '4'])
  })

  it('gives a restarted instance what it held before, at once', async () => {
    const before = await outbox('restarts')
    await done(before.open(['crash']))
    await done(before.append([{ route: 'crash', events: [event('held'), event('acked')] }]))
    const held = await value(before.read('crash', 10))
    await done(before.ack('crash', held.filter((entry) => entry.event.id === 'acked').map((entry) => entry.receipt)))
    before.close() // kill -9: nothing acked, nothing released
    const after = await outbox('restarts')
    expect(ids(await value(after.read('crash', 10)))).toEqual(['held'])
  })

  it('lets another instance take over what a dead one held, once idle, but not what a live one holds', async () => {
    const claimIdleMs = 300
    const [dead, live, other] = [await outbox('dead', { claimIdleMs }), await outbox('live', { claimIdleMs }), await outbox('other', { claimIdleMs })]
    await done(dead.open(['idle']))
    await done(dead.append([{ route: 'idle', events: [event('d')] }]))
    expect(ids(await value(dead.read('idle', 10)))).toEqual(['d'])
    await done(live.append([{ route: 'idle', events: [event('l')] }]))
    expect(ids(await value(live.read('idle', 10)))).toEqual(['l'])
    dead.close()
    expect(await value(other.read('idle', 10))).toEqual([])
    await sleep(claimIdleMs * 2.5)
    // `live` touched its entry meanwhile; `dead` did not.
    expect(ids(await value(other.read('idle', 10)))).toEqual(['d'])
  })

  it('lets entries a live instance releases be taken again once idle', async () => {
    const claimIdleMs = 200
    const box = await outbox('releases', { claimIdleMs })
    await done(box.open(['release']))
    await done(box.append([{ route: 'release', events: [event('r')] }]))
    const [entry] = await value(box.read('release', 10))
    box.release('release', [entry!.receipt])
    await sleep(claimIdleMs * 1.5)
    expect(ids(await value(box.read('release', 10)))).toEqual(['r'])
  })

  it('makes the group again when the stream is gone, and loses nothing appended after', async () => {
    const box = await outbox('flushed')
    await done(box.open(['gone']))
    await redis.del(`${keyPrefix}gone`)
    await done(box.append([{ route: 'gone', events: [event('x')] }]))
    await value(box.read('gone', 10)).catch(() => [])
    const read = await value(box.read('gone', 10))
    expect(ids(read)).toEqual(['x'])
  })

  it('reads the same over a RESP2 connection', async () => {
    const resp2 = new Redis(REDIS_URL, { maxRetriesPerRequest: 1, protocol: 2 })
    try {
      const box = createRedisRouteOutbox({ redis: resp2, consumer: 'resp2', keyPrefix })
      outboxes.push(box)
      await done(box.open(['resp2']))
      await done(box.append([{ route: 'resp2', events: [event('a')] }]))
      expect(ids(await value(box.read('resp2', 10)))).toEqual(['a'])
    } finally {
      await resp2.quit()
    }
  })
})
