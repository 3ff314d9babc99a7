import { randomUUID } from 'node:crypto'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import WebSocket from 'ws'
import { runToExit, startProcess, type RunningSluice } from '../support/process.js'
import { CLICKHOUSE_URL, dropDatabase, REDIS_URL, uniqueId } from '../support/services.js'
import { until } from '../support/wait.js'

/** A downstream service on a real socket: records what it received; `answer` decides its status. */
function downstream(answer: () => number | 'hang' = () => 200) {
  const received: Array<{
    ids: string[]
    headers: IncomingHttpHeaders
    events: Array<Record<string, unknown>>
  }> = []
  const hanging: Array<() => void> = []
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      const status = answer()
      const reply = () => {
        if (status !== 'hang' && status < 300) {
          const { events } = JSON.parse(Buffer.concat(chunks).toString()) as {
            events: Array<Record<string, unknown> & { id: string }>
          }
          received.push({ ids: events.map((e) => e.id), headers: req.headers, events })
        }
        res.writeHead(status === 'hang' ? 200 : status).end()
      }
      if (status === 'hang') hanging.push(reply)
      else reply()
    })
  })
  return {
    received,
    ids: () => new Set(received.flatMap((r) => r.ids)),
    release: () => hanging.splice(0).forEach((reply) => reply()),
    /** requests it holds without an answer */
    held: () => hanging.length,
    listen: () =>
      new Promise<string>((resolve) =>
        server.listen(0, '127.0.0.1', () =>
          resolve(`http://127.0.0.1:${(server.address() as { port: number }).port}/hook`),
        ),
      ),
    close: () =>
      new Promise<void>((resolve) => (server.closeAllConnections(), server.close(() => resolve()))),
  }
}

const post = (url: string, path: string, body: unknown) =>
  fetch(`${url}${path}`, {
    method: 'POST',
    body: JSON.stringify(body),
    headers: { 'content-type': 'application/json' },
  })

let dir: string
const running: RunningSluice[] = []
const databases: string[] = []
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sluice-routes-'))
})
afterAll(async () => {
  await Promise.all(running.map((p) => p.stop('SIGKILL')))
  await Promise.all(databases.map(dropDatabase))
  await rm(dir, { recursive: true, force: true })
})

async function sluiceWith(routes: unknown[], env: Record<string, string> = {}) {
  const file = join(dir, `${randomUUID()}.json`)
  await writeFile(file, JSON.stringify({ routes }))
  const database = `sluice_test_${randomUUID().replace(/-/g, '').slice(0, 12)}`
  databases.push(database)
  const environment = {
    REDIS_URL,
    CLICKHOUSE_URL,
    CLICKHOUSE_DATABASE: database,
    ROUTES_FILE: file,
    ROUTE_CONSUMER: `test-${database}`,
    ROUTE_POLL_MS: '100',
    ...env,
  }
  const start = (more: Record<string, string> = {}) => startProcess({ ...environment, ...more })
  const sluice = await start()
  running.push(sluice)
  return { sluice, start, environment, database }
}

describe('routing, end to end through the process', () => {
  it('delivers every accepted event to each route that matches, whatever transport it came by, with the documented headers', async () => {
    const everything = downstream()
    const checkout = downstream()
    const { sluice } = await sluiceWith([
      {
        name: 'everything',
        match: ['*'],
        url: await everything.listen(),
        batchMaxWaitMs: 50,
        headers: { authorization: 'Bearer hook-secret' },
      },
      { name: 'checkout', match: ['checkout.*'], url: await checkout.listen(), batchMaxWaitMs: 50 },
    ])
    try {
      const rest = [
        { id: uniqueId(), type: 'checkout.completed' },
        { id: uniqueId(), type: 'page_view' },
        { id: uniqueId(), type: 'bad type' },
      ]
      await post(sluice.url, '/v1/events/batch', { events: rest })
      const socket = new WebSocket(sluice.wsUrl)
      const acked = new Promise((resolve) =>
        socket.on(
          'message',
          (data) => JSON.parse(data.toString()).op === 'ack' && resolve(undefined),
        ),
      )
      await new Promise((resolve) => socket.once('open', resolve))
      const ws = [
        { id: uniqueId(), type: 'checkout.started' },
        { id: uniqueId(), type: 'signup' },
      ]
      socket.send(JSON.stringify(ws))
      await acked
      socket.close()

      await until(() => everything.ids().size === 4 && checkout.ids().size === 2)
      expect(everything.ids()).toEqual(new Set([rest[0]!.id, rest[1]!.id, ws[0]!.id, ws[1]!.id]))
      expect(checkout.ids()).toEqual(new Set([rest[0]!.id, ws[0]!.id]))
      const headers = everything.received[0]!.headers
      expect(headers['content-type']).toBe('application/json')
      expect(headers['x-sluice-route']).toBe('everything')
      expect(headers['idempotency-key']).toMatch(/^[0-9a-f-]{36}$/)
      expect(headers.authorization).toBe('Bearer hook-secret')
    } finally {
      await Promise.all([everything.close(), checkout.close()])
    }
  }, 60_000)

  it('writes what a dead downstream never took to dead letters, lists them, and replays them once it is back', async () => {
    let up = false
    const hook = downstream(() => (up ? 200 : 503))
    const { sluice } = await sluiceWith([
      {
        name: 'flaky',
        match: ['*'],
        url: await hook.listen(),
        batchMaxWaitMs: 20,
        maxAttempts: 2,
        backoffInitialMs: 10,
        backoffMaxMs: 20,
      },
    ])
    try {
      const events = Array.from({ length: 5 }, () => ({ id: uniqueId(), type: 'order.placed' }))
      expect(
        (
          (await (await post(sluice.url, '/v1/events/batch', { events })).json()) as {
            accepted: number
          }
        ).accepted,
      ).toBe(5)
      type Listed = {
        deadLetters: Array<{
          route: string
          event: { id: string }
          error: string
          attempts: number
          time: string
        }>
      }
      let listed: Listed = { deadLetters: [] }
      await until(
        async () => (
          (listed = (await (
            await fetch(`${sluice.url}/v1/dead-letters?route=flaky`)
          ).json()) as Listed),
          listed.deadLetters.length === 5
        ),
      )
      expect(listed.deadLetters[0]).toMatchObject({
        route: 'flaky',
        attempts: 2,
        error: expect.stringContaining('503'),
      })
      expect(new Set(listed.deadLetters.map((d) => d.event.id))).toEqual(
        new Set(events.map((e) => e.id)),
      )
      expect(hook.ids().size).toBe(0)

      up = true
      const replay = await post(sluice.url, '/v1/dead-letters/replay', { route: 'flaky' })
      expect(await replay.json()).toEqual({ replayed: 5 })
      await until(() => hook.ids().size === 5)
      expect((await post(sluice.url, '/v1/dead-letters/replay', { route: 'nope' })).status).toBe(
        404,
      )
      const malformed = await post(sluice.url, '/v1/dead-letters/replay', {
        route: 'flaky',
        extra: 1,
      })
      expect(malformed.status).toBe(400)
      expect(((await malformed.json()) as { error: { code: string } }).error.code).toBe(
        'invalid_request',
      )
    } finally {
      await hook.close()
    }
  }, 60_000)

  it('after kill -9 during delivery, the restarted process delivers every event a route matched', async () => {
    let hang = true
    const hook = downstream(() => (hang ? 'hang' : 200))
    const url = await hook.listen()
    const { sluice, start } = await sluiceWith([
      {
        name: 'slow',
        match: ['*'],
        url,
        batchMaxEvents: 50,
        batchMaxWaitMs: 20,
        timeoutMs: 60_000,
      },
    ])
    try {
      const events = Array.from({ length: 300 }, () => ({ id: uniqueId(), type: 'kill.me' }))
      expect(
        (
          (await (await post(sluice.url, '/v1/events/batch', { events })).json()) as {
            accepted: number
          }
        ).accepted,
      ).toBe(300)
      await until(() => hook.held() > 0) // deliveries are in flight, held unanswered by the hook
      expect(await sluice.stop('SIGKILL')).toBe(null)
      hook.release() // answers to a dead process: nobody acknowledges them
      hang = false
      const again = await start()
      running.push(again)
      await until(() => events.every((e) => hook.ids().has(e.id)), 40_000)
    } finally {
      await hook.close()
    }
  }, 90_000)

  it('refuses a second live instance with the same ROUTE_CONSUMER (exit 2, naming it), and starts that name again after a kill -9', async () => {
    const hook = downstream()
    const { sluice, start, environment } = await sluiceWith([
      { name: 'named', match: ['*'], url: await hook.listen(), batchMaxWaitMs: 20 },
    ])
    try {
      const started = Date.now()
      const { code, output } = await runToExit({ ...environment, PORT: '0', WS_PORT: '0' })
      expect(code).toBe(2)
      expect(output).toContain(
        `sluice: invalid configuration: ROUTE_CONSUMER: "${environment.ROUTE_CONSUMER}" is in use by another live instance`,
      )
      // It waited for the lease to lapse (as after a kill -9) before giving up: the holder is alive.
      expect(Date.now() - started).toBeGreaterThanOrEqual(5000)

      expect(await sluice.stop('SIGKILL')).toBe(null)
      const again = await start()
      running.push(again)
      const event = { id: uniqueId(), type: 'named.again' }
      expect((await post(again.url, '/v1/events', event)).status).toBe(202)
      await until(() => hook.ids().has(event.id), 20_000)
    } finally {
      await hook.close()
    }
  }, 90_000)

  it('replays a route on one instance at a time: the same replay asked of a second instance at once is answered 409 replay_in_progress', async () => {
    let up = false
    const hook = downstream(() => (up ? 200 : 400))
    const { sluice, start, environment, database } = await sluiceWith([
      { name: 'shared', match: ['*'], url: await hook.listen(), batchMaxEvents: 500 },
    ])
    const other = await start({ ROUTE_CONSUMER: `${environment.ROUTE_CONSUMER}-b` })
    running.push(other)
    try {
      const events = Array.from({ length: 2000 }, () => ({ id: uniqueId(), type: 'replay.me' }))
      for (let i = 0; i < events.length; i += 1000)
        expect(
          (await post(sluice.url, '/v1/events/batch', { events: events.slice(i, i + 1000) }))
            .status,
        ).toBe(200)
      // Refused with a 4xx: every event goes to dead letters at once.
      const deadLetters = async () =>
        Number(
          await (
            await fetch(
              `${CLICKHOUSE_URL}/?query=${encodeURIComponent(`SELECT count() FROM \`${database}\`.dead_letters`)}`,
            )
          ).text(),
        )
      await until(async () => (await deadLetters()) === events.length, 30_000)

      up = true
      const answers = await Promise.all(
        [sluice, other].map(async (instance) => {
          const response = await post(instance.url, '/v1/dead-letters/replay', { route: 'shared' })
          return { status: response.status, body: (await response.json()) as Record<string, any> }
        }),
      )
      answers.sort((a, b) => a.status - b.status)
      expect(answers.map((a) => a.status)).toEqual([200, 409])
      expect(answers[0]!.body).toEqual({ replayed: events.length })
      expect(answers[1]!.body.error).toMatchObject({
        code: 'replay_in_progress',
        message: expect.stringContaining('"shared"'),
      })
      await until(() => hook.ids().size === events.length, 30_000)
      // Replayed once: each dead letter was sent through the route once.
      expect(hook.received.flatMap((r) => r.ids)).toHaveLength(events.length)
      // Done: the lock is free again, on either instance. (What it replays depends on how far
      // ClickHouse has applied the first replay's deletes: a re-send, never a loss.)
      const after = await post(other.url, '/v1/dead-letters/replay', { route: 'shared' })
      expect(after.status).toBe(200)
    } finally {
      await hook.close()
    }
  }, 90_000)

  it("runs a route's own transforms on what it matched: the other route gets the events as accepted, a throwing transform dead-letters only for its route", async () => {
    const plain = downstream()
    const redacted = downstream()
    const { sluice } = await sluiceWith(
      [
        { name: 'plain', match: ['*'], url: await plain.listen(), batchMaxWaitMs: 20 },
        { name: 'redacted', match: ['*'], url: await redacted.listen(), batchMaxWaitMs: 20 },
      ],
      { TRANSFORMS_MODULE: 'test/fixtures/route-transforms.mjs' },
    )
    try {
      const events = [
        { id: uniqueId(), type: 'signup', userId: 'u-1' },
        { id: uniqueId(), type: 'internal.ping' },
        { id: uniqueId(), type: 'boom' },
      ]
      expect(
        (
          (await (await post(sluice.url, '/v1/events/batch', { events })).json()) as {
            accepted: number
          }
        ).accepted,
      ).toBe(3)
      await until(() => plain.ids().size === 3 && redacted.ids().size === 1)
      expect(redacted.ids()).toEqual(new Set([events[0]!.id]))
      expect(redacted.received.flatMap((r) => r.events)[0]).not.toHaveProperty('userId')
      expect(
        plain.received.flatMap((r) => r.events).find((e) => e.id === events[0]!.id),
      ).toMatchObject({ userId: 'u-1' })
      type Listed = { deadLetters: Array<{ event: { id: string }; error: string }> }
      let listed: Listed = { deadLetters: [] }
      await until(
        async () => (
          (listed = (await (
            await fetch(`${sluice.url}/v1/dead-letters?route=redacted`)
          ).json()) as Listed),
          listed.deadLetters.length === 1
        ),
      )
      expect(listed.deadLetters[0]).toMatchObject({
        event: { id: events[2]!.id },
        error: 'a transform of route redacted failed: boom is not for this route',
      })
    } finally {
      await Promise.all([plain.close(), redacted.close()])
    }
  }, 60_000)

  it('exits 2 naming the route and the field when ROUTES_FILE is wrong', async () => {
    const file = join(dir, 'bad.json')
    await writeFile(
      file,
      JSON.stringify({
        routes: [{ name: 'billing', match: ['*'], url: 'http://127.0.0.1:9/x', timeoutMs: -5 }],
      }),
    )
    const { code, output } = await runToExit({ ROUTES_FILE: file })
    expect(code).toBe(2)
    expect(output).toMatch(/ROUTES_FILE: .*route "billing" field timeoutMs/)
  }, 30_000)
})
