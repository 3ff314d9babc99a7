import { randomUUID } from 'node:crypto'
import type { Cluster } from 'ioredis'
import { from, lastValueFrom, type ObservableInput } from 'rxjs'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { slotOf } from '../../src/adapters/redis/cluster-slots.js'
import { createRedisRouteOutbox } from '../../src/adapters/redis/redis-route-outbox.js'
import { routeOutboxContract } from '../contracts/route-outbox.contract.js'
import { event } from '../streams/routing/fakes.js'
import { sleep } from '../support/wait.js'
import { connectCluster, startRedisCluster } from './support/redis-cluster.js'
import { value } from '../support/observables.js'

// Every stream of this run under its own prefix; the routes' streams land on the slots their names give.
const keyPrefix = `sluice:test:${randomUUID()}:route:`
const outboxes: Array<{ close(): void }> = []
let cluster: Cluster

beforeAll(async () => {
  startRedisCluster()
  cluster = connectCluster()
  await cluster.ping()
})

afterAll(async () => {
  for (const outbox of outboxes) outbox.close()
  for (const node of cluster.nodes('master')) {
    const keys = await node.keys(`${keyPrefix}*`)
    await Promise.all(keys.map((key) => node.del(key)))
  }
  await cluster.quit()
})

const done = (input: ObservableInput<unknown>) =>
  lastValueFrom(from(input), { defaultValue: undefined })

routeOutboxContract('redis route outbox on a cluster', async ({ releaseDelayMs }) => {
  const consumer = `contract-${randomUUID()}`
  const options = { keyPrefix: `${keyPrefix}${randomUUID()}:`, claimIdleMs: releaseDelayMs }
  const open = () => {
    const created = createRedisRouteOutbox({ redis: cluster, consumer, ...options })
    outboxes.push(created)
    return created
  }
  let current = open()
  return {
    outbox: current,
    async restart() {
      current.close() // kill -9: nothing acked, nothing released
      current = open()
      return current
    },
    elapse: sleep,
  }
})

describe('redis route outbox on a cluster', () => {
  it('appends to routes whose streams live on different primaries in one call', async () => {
    // Route names whose streams are on at least two primaries.
    const prefix = `${keyPrefix}spread:`
    const names = Array.from({ length: 12 }, (_, i) => `r${i}`)
    const primaries = new Set(names.map((name) => cluster.slots[slotOf(prefix + name)]?.[0]))
    expect(primaries.size).toBeGreaterThan(1)
    const box = createRedisRouteOutbox({ redis: cluster, consumer: 'a', keyPrefix: prefix })
    outboxes.push(box)
    await done(box.open(names))
    await done(box.append(names.map((route, i) => ({ route, events: [event(`${route}-${i}`)] }))))
    for (const [i, route] of names.entries())
      expect((await value(box.read(route, 10))).map((entry) => entry.event.id)).toEqual([
        `${route}-${i}`,
      ])
  })
})
