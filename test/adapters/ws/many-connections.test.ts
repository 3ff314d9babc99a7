import { Observable } from 'rxjs'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { AcceptedEvent } from '../../../src/streams/event.js'
import type { Pipeline } from '../../../src/streams/pipeline.js'
import { uniqueId } from '../../support/services.js'
import {
  connect,
  pipelineOver,
  fakeStorage,
  startGateway,
  statuses,
  until,
  type Client,
  type Storage,
} from './support.js'

let storage: Storage
let pipeline: Pipeline

beforeAll(async () => {
  storage = await fakeStorage()
  pipeline = pipelineOver(storage)
})
afterAll(async () => {
  await pipeline.drain()
  await storage.dispose()
})

/** The pipeline, with its accepted-events stream counting who is subscribed to it. */
function countingSubscriptions(inner: Pipeline): { pipeline: Pipeline; active: () => number } {
  let active = 0
  const accepted$ = new Observable<AcceptedEvent>((subscriber) => {
    active++
    const subscription = inner.accepted$.subscribe(subscriber)
    return () => {
      active--
      subscription.unsubscribe()
    }
  })
  return { pipeline: { ...inner, accepted$ }, active: () => active }
}

describe('1,000 concurrent connections', () => {
  it('each sends and gets its ack; once all have closed, the registry, timers and subscriptions are empty', async () => {
    const counted = countingSubscriptions(pipeline)
    const { url, gateway } = await startGateway(counted.pipeline, { pingIntervalMs: 1000 })
    const type = `many.${uniqueId().slice(2, 10)}`
    const watched = `${type}.watched`
    const started = Date.now()

    const clients: Client[] = []
    // In waves, so that the listen backlog never overflows into SYN retries.
    for (let wave = 0; wave < 4; wave++)
      clients.push(...(await Promise.all(Array.from({ length: 250 }, () => connect(url)))))
    await Promise.all(clients.map((client) => client.next()))
    expect(gateway.stats()).toMatchObject({ connections: 1000, timers: 1 })

    const watchers = clients.slice(0, 50)
    await Promise.all(
      watchers.map(async (client) => {
        client.send({ op: 'subscribe', types: [watched] })
        expect(await client.next()).toMatchObject({ op: 'subscribed' })
      }),
    )
    expect(gateway.stats().subscribers).toBe(50)

    await Promise.all(
      clients.map(async (client, n) => {
        const events = Array.from({ length: 3 }, (_, i) => ({ id: `${type}-${n}-${i}`, type }))
        if (n % 100 === 0) events.push({ id: `${type}-${n}-w`, type: watched })
        client.send(events)
        // (a watcher may get another client's event before its own ack)
        const ackMessage = await client.firstOf('ack')
        expect(ackMessage).toMatchObject({ op: 'ack', seq: watchers.includes(client) ? 2 : 1 })
        expect(statuses(ackMessage).every((s) => s === 'accepted')).toBe(true)
      }),
    )
    expect(await storage.sink.count({ type })).toBe(3000)
    await until(() =>
      watchers.every((client) => client.received.filter((m) => m.op === 'event').length === 10),
    )
    expect(counted.active()).toBe(1)

    await Promise.all(clients.map((client) => client.close()))
    await until(() => gateway.stats().connections === 0)
    expect(gateway.stats()).toEqual({
      connections: 0,
      upgrading: 0,
      timers: 0,
      subscribers: 0,
      inflightEvents: 0,
      largestConnectionInflight: 0,
      heldFrames: 0,
      pausedConnections: 0,
      waitingForAdmission: 0,
    })
    // Nobody subscribed any more: the one subscription to the accepted events is let go (the
    // pipeline then builds no event objects for it), and taken again by the next subscriber.
    expect(counted.active()).toBe(0)
    await gateway.close()
    expect(counted.active()).toBe(0)
    console.info(`1,000 connections: opened, acked and closed in ${Date.now() - started} ms`)
  }, 60_000)
})
