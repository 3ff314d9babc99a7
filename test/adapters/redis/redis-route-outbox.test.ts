import { randomUUID } from 'node:crypto'
import { Redis } from 'ioredis'
import { from, lastValueFrom, type ObservableInput } from 'rxjs'
import { afterAll, describe, expect, it } from 'vitest'
import {
  createRedisRouteOutbox,
  type RedisRouteOutboxOptions,
} from '../../../src/adapters/redis/redis-route-outbox.js'
import type { OutboxEntry } from '../../../src/streams/routing/ports.js'
import { routeOutboxContract } from '../../contracts/route-outbox.contract.js'
import { REDIS_URL } from '../../support/services.js'
import { event } from '../../streams/routing/fakes.js'
import { sleep } from '../../support/wait.js'
import { value } from '../../support/observables.js'

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

const done = (input: ObservableInput<unknown>) =>
  lastValueFrom(from(input), { defaultValue: undefined })
const ids = (entries: OutboxEntry[]) => entries.map((entry) => entry.event.id).sort()

async function outbox(consumer: string, options: Partial<RedisRouteOutboxOptions> = {}) {
  const created = createRedisRouteOutbox({ redis, consumer, keyPrefix, ...options })
  outboxes.push(created)
  return created
}

// The same consumer name across a restart: a restarted instance re-reads its pending entries.
routeOutboxContract('redis route outbox', async ({ releaseDelayMs }) => {
  const consumer = `contract-${randomUUID()}`
  const options = { keyPrefix: `${keyPrefix}${randomUUID()}:`, claimIdleMs: releaseDelayMs }
  let current = await outbox(consumer, options)
  return {
    outbox: current,
    async restart() {
      current.close() // kill -9: nothing acked, nothing released
      current = await outbox(consumer, options)
      return current
    },
    elapse: sleep,
  }
})

describe('redis route outbox, beyond the contract', () => {
  it('deletes acknowledged entries from the stream and the group', async () => {
    const box = await outbox('a')
    await done(box.open(['one']))
    await done(box.append([{ route: 'one', events: [event('1'), event('2')] }]))
    const read = await value(box.read('one', 10))
    await done(
      box.ack(
        'one',
        read.map((entry) => entry.receipt),
      ),
    )
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

  it('lets another instance take over what a dead one held, once idle, but not what a live one holds', async () => {
    const claimIdleMs = 300
    const [dead, live, other] = [
      await outbox('dead', { claimIdleMs }),
      await outbox('live', { claimIdleMs }),
      await outbox('other', { claimIdleMs }),
    ]
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
