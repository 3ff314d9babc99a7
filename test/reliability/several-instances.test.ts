import { randomUUID } from 'node:crypto'
import { afterAll, describe, expect, it } from 'vitest'
import WebSocket from 'ws'
import { CLICKHOUSE_URL, dropDatabase, REDIS_URL } from '../support/services.js'
import { launch, type Instance } from './support/instance.js'
import { Ledger, post, resendUntilSettled, type Result, type TestEvent } from './support/load.js'
import { privateDatabase, readStored } from './support/stored.js'

// Issue 7.5: two Sluice processes on one Redis and one ClickHouse; the same events sent to both at
// once, over REST to one and WebSocket to the other and the other way round. The shared Redis
// claims decide: each id is stored once and acked accepted by exactly one of them.

const database = privateDatabase('instances')
const instances: Instance[] = []
afterAll(async () => {
  await Promise.all(instances.map((instance) => instance.stop('SIGKILL')))
  await dropDatabase(database)
})

/** One WebSocket publish, answered by its ack. */
function publisher(url: string) {
  const ws = new WebSocket(url)
  const waiting = new Map<number, (results: Result[]) => void>()
  let seq = 0
  ws.on('message', (data) => {
    const message = JSON.parse(data.toString()) as { op: string; seq: number; results: Result[] }
    if (message.op === 'ack') waiting.get(message.seq)?.(message.results)
  })
  const opened = new Promise(
    (resolve, reject) => (ws.once('open', resolve), ws.once('error', reject)),
  )
  return {
    async publish(events: readonly TestEvent[]): Promise<Result[]> {
      await opened
      const frame = ++seq
      return new Promise((resolve) => {
        waiting.set(frame, resolve)
        ws.send(JSON.stringify({ op: 'publish', events }))
      })
    },
    close: () => ws.close(),
  }
}

describe('several instances on one Redis and one ClickHouse', () => {
  it('stores each id once, and each id is acked accepted by exactly one instance, when the same events reach both at once', async () => {
    const env = {
      REDIS_URL,
      CLICKHOUSE_URL,
      CLICKHOUSE_DATABASE: database,
      INSERT_BATCH_MAX_WAIT_MS: '5',
      DEDUPE_TTL_SECONDS: '600',
    }
    const [a, b] = await Promise.all([launch(env), launch(env)])
    instances.push(a, b)
    const sockets = { a: publisher(a.wsUrl), b: publisher(b.wsUrl) }
    const ledger = new Ledger()
    const prefix = `instances-${randomUUID()}`

    // 40 rounds of 100 events; each round goes to both instances at the same moment, by different transports.
    for (let round = 0; round < 40; round++) {
      const events = Array.from({ length: 100 }, (_, i) => ({
        id: `${prefix}-${round}-${i}`,
        type: 'instances.same',
        properties: { round, i },
      }))
      ledger.sent(events)
      const [toA, toB] =
        round % 2 === 0
          ? [post(a.url, '/v1/events/batch', { events }), sockets.b.publish(events)]
          : [sockets.a.publish(events), post(b.url, '/v1/events/batch', { events })]
      const answers = await Promise.all([toA, toB])
      const [resultsA, resultsB] = answers.map((answer) =>
        'status' in answer ? (answer.body as { results: Result[] }).results : answer,
      )
      ledger.record(resultsA!, 'a', events)
      ledger.record(resultsB!, 'b', events)
    }
    sockets.a.close()
    sockets.b.close()
    expect(ledger.unexpected).toEqual([])

    // An id whose claim the other instance held while committing was answered failed (send it
    // again, API.md §2); sent again it is a duplicate — never a second accepted.
    const retry = [...ledger.events.keys()].filter((id) => ledger.acceptedBy(id).length === 0)
    expect(await resendUntilSettled(a.url, ledger, retry, 'a-again')).toEqual([])

    const statuses = new Map<string, number>()
    for (const list of ledger.answers.values())
      for (const { status } of list) statuses.set(status, (statuses.get(status) ?? 0) + 1)
    console.info(
      `several instances: ${ledger.events.size} ids sent to both, answers ${JSON.stringify(Object.fromEntries(statuses))}, accepted by a: ${[...ledger.events.keys()].filter((id) => ledger.acceptedBy(id)[0] === 'a').length}`,
    )
    for (const id of ledger.events.keys()) expect(ledger.acceptedBy(id), id).toHaveLength(1)
    expect(statuses.get('rejected')).toBeUndefined()

    // Stored once: one row per id even before any merge, since only the instance that won the claim inserts.
    const stored = await readStored(CLICKHOUSE_URL, database)
    expect(stored.finalRows).toBe(ledger.events.size)
    expect(stored.rawRows).toBe(ledger.events.size)
    for (const id of ledger.events.keys()) expect(stored.final.get(id), id).toBe(1)
    expect(await Promise.all([a.stop('SIGTERM'), b.stop('SIGTERM')])).toEqual([0, 0])
  }, 60_000)
})
