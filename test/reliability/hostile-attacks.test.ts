import { randomBytes, randomUUID } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { connect } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { gzipSync } from 'node:zlib'
import WebSocket from 'ws'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { CLICKHOUSE_URL, dropDatabase, REDIS_URL } from '../support/services.js'
import { launch, metric, type Instance } from './support/instance.js'
import { FrameClient } from './support/hostile.js'
import { privateDatabase } from './support/stored.js'

/*
 * Issue 12: each attack found against a running Sluice, run against a real process (server mode and
 * embedded), over real sockets. What must hold after each: the process alive and serving /health,
 * the event loop never blocked past 100 ms by one request or frame, answers bounded, nothing left
 * in flight, the documented status or close code.
 */

const MiB = 1024 * 1024
const LOOP_BOUND_MS = 100

const modes = [
  {
    mode: 'server',
    env: () => ({ REDIS_URL, CLICKHOUSE_URL, CLICKHOUSE_DATABASE: privateDatabase('attacks') }),
  },
  { mode: 'embedded', env: () => ({ DATA_DIR: mkdtempSync(join(tmpdir(), 'sluice-attacks-')) }) },
] as const

describe.each(modes)('attacks on a running Sluice ($mode)', ({ mode, env }) => {
  let sluice: Instance
  let settings: Record<string, string>

  beforeAll(async () => {
    settings = { ...env(), INSERT_BATCH_MAX_WAIT_MS: '5' }
    sluice = await launch(settings)
  }, 60_000)
  afterAll(async () => {
    await sluice?.stop('SIGKILL')
    if (settings?.DATA_DIR) rmSync(settings.DATA_DIR, { recursive: true, force: true })
    if (settings?.CLICKHOUSE_DATABASE) await dropDatabase(settings.CLICKHOUSE_DATABASE)
  })

  /** The longest the event loop was blocked while `attack` ran (prom-client's histogram, reset by every scrape). */
  async function loopDelayDuring<T>(
    attack: () => Promise<T>,
  ): Promise<{ result: T; maxDelayMs: number }> {
    await sluice.metrics()
    const result = await attack()
    const maxDelayMs = metric(await sluice.metrics(), 'nodejs_eventloop_lag_max_seconds') * 1000
    return { result, maxDelayMs }
  }

  async function healthy(): Promise<void> {
    expect(sluice.alive).toBe(true)
    const started = performance.now()
    expect((await fetch(`${sluice.url}/health`)).status).toBe(200)
    expect(performance.now() - started).toBeLessThan(1000)
  }

  const post = (path: string, body: string | Buffer, headers: Record<string, string> = {}) =>
    fetch(`${sluice.url}${path}`, {
      method: 'POST',
      body,
      headers: { 'content-type': 'application/json', ...headers },
    })

  it('answers a 12 KB frame whose unknown op is an array nested 6,000 deep with one error, and keeps every connection', async () => {
    const bystander = new FrameClient(sluice.wsUrl)
    const attacker = new FrameClient(sluice.wsUrl)
    try {
      const frame = `{"op":${'['.repeat(6000)}${']'.repeat(6000)}}`
      const { result } = await loopDelayDuring(() => attacker.send(frame))
      expect(result.reply).toMatchObject({ op: 'error', seq: 1, code: 'invalid_json' })
      // the same op within the nesting bound: an invalid_frame whose message quotes no more than a prefix
      const shallow = await attacker.send(
        `{"op":${'['.repeat(30)}"${'x'.repeat(500_000)}"${']'.repeat(30)}}`,
      )
      expect(shallow.reply).toMatchObject({ op: 'error', seq: 2, code: 'invalid_frame' })
      const longOp = await attacker.send(JSON.stringify({ op: 'y'.repeat(900_000) }))
      expect(longOp.reply).toMatchObject({ op: 'error', seq: 3, code: 'invalid_frame' })
      const manyKeys = await attacker.send(
        JSON.stringify({
          op: 'ping',
          ...Object.fromEntries(Array.from({ length: 50_000 }, (_, i) => [`key-${i}`, 1])),
        }),
      )
      expect(manyKeys.reply).toMatchObject({ op: 'error', seq: 4, code: 'invalid_frame' })
      for (const { reply } of [shallow, longOp, manyKeys])
        expect(JSON.stringify(reply).length).toBeLessThan(500)
      expect(
        (await bystander.send(JSON.stringify({ type: 'attack.bystander' }))).reply,
      ).toMatchObject({ op: 'ack', results: [{ status: 'accepted' }] })
      expect((await attacker.send(JSON.stringify({ op: 'ping' }))).reply).toMatchObject({
        op: 'pong',
        seq: 5,
      })
    } finally {
      await bystander.close()
      await attacker.close()
    }
    await healthy()
  })

  it('answers forbidden keys deep in properties with at most 20 issues of at most 256 characters, however many there are', async () => {
    // Old answer to this 63 KB body: an issue per forbidden key, each path repeating every ancestor key (~30 MB).
    let properties: unknown = Object.fromEntries(
      Array.from({ length: 900 }, (_, i) => [
        `p${i}`,
        JSON.parse('{"__proto__":1,"constructor":1,"prototype":1}'),
      ]),
    )
    for (let i = 0; i < 30; i++) properties = { ['k'.repeat(60) + i]: properties }
    const body = JSON.stringify({ events: [{ type: 'attack.keys', properties }] })
    const { result: response, maxDelayMs } = await loopDelayDuring(() =>
      post('/v1/events/batch', body),
    )
    const answer = await response.text()
    expect(response.status).toBe(200)
    const [result] = (
      JSON.parse(answer) as {
        results: Array<{ status: string; errors: Array<{ path: string; message: string }> }>
      }
    ).results
    expect(result!.status).toBe('rejected')
    expect(result!.errors).toHaveLength(20)
    expect(result!.errors[19]!.message).toBe(`and ${2700 - 19} more issues`)
    for (const issue of result!.errors) expect(issue.path.length).toBeLessThanOrEqual(256)
    expect(answer.length).toBeLessThan(body.length)
    expect(maxDelayMs).toBeLessThan(LOOP_BOUND_MS)

    // gzip makes such a body small (~4 KB an event, 1,000 events: 4 MB that gzip takes to a few dozen KB);
    // the old answer repeated a 1,900-character path for each of 120 issues of every event (~230 MB)
    let small: unknown = Object.fromEntries(
      Array.from({ length: 40 }, (_, i) => [
        `p${i}`,
        JSON.parse('{"__proto__":1,"constructor":1,"prototype":1}'),
      ]),
    )
    for (let i = 0; i < 30; i++) small = { ['k'.repeat(60) + i]: small }
    const inflated = JSON.stringify({
      events: Array.from({ length: 1000 }, () => ({ type: 'attack.gzip', properties: small })),
    })
    const zipped = gzipSync(inflated)
    expect(inflated.length).toBeLessThan(5 * MiB)
    expect(zipped.length).toBeLessThan(100 * 1024)
    const rssBefore = sluice.memory().rssKb
    const gz = await post('/v1/events/batch', zipped, { 'content-encoding': 'gzip' })
    const gzAnswer = await gz.text()
    expect(gz.status).toBe(200)
    // 20 issues of at most 256-character paths an event: the answer is bounded by what the body inflates to
    expect(gzAnswer.length).toBeLessThan(2 * inflated.length)
    console.info(
      `forbidden keys: ${body.length} B body → ${answer.length} B answer; ${zipped.length} B gzip (${inflated.length} B inflated) → ${gzAnswer.length} B answer`,
    )
    expect(sluice.memory().rssKb - rssBefore).toBeLessThan(256 * 1024)
    await healthy()
  })

  it('refuses nesting deeper than any valid request in linear time: a 4 MiB REST body and 1 MB frames block the loop for under 100 ms', async () => {
    const deepBody = '['.repeat(2 * MiB) + ']'.repeat(2 * MiB)
    const rest = await loopDelayDuring(async () => {
      const answers = []
      for (const path of ['/v1/events', '/v1/events/batch'])
        answers.push(await post(path, deepBody))
      answers.push(
        await post(
          '/v1/events/batch',
          `{"events":[{"type":"attack.deep","properties":${'{"d":'.repeat(400_000)}1${'}'.repeat(400_000)}}]}`,
        ),
      )
      return Promise.all(
        answers.map(async (response) => ({
          status: response.status,
          body: (await response.json()) as { error?: { code: string } },
        })),
      )
    })
    for (const answer of rest.result)
      expect(answer).toMatchObject({ status: 400, body: { error: { code: 'invalid_json' } } })
    expect(rest.maxDelayMs).toBeLessThan(LOOP_BOUND_MS)

    const client = new FrameClient(sluice.wsUrl)
    try {
      const frames = await loopDelayDuring(async () => {
        const replies = []
        for (let i = 0; i < 3; i++)
          replies.push((await client.send('['.repeat(500_000) + ']'.repeat(500_000))).reply)
        return replies
      })
      for (const reply of frames.result)
        expect(reply).toMatchObject({ op: 'error', code: 'invalid_json' })
      expect(frames.maxDelayMs).toBeLessThan(LOOP_BOUND_MS)
      console.info(
        `loop delay (${mode}): deep REST bodies ${rest.maxDelayMs.toFixed(1)} ms, deep 1 MB frames ${frames.maxDelayMs.toFixed(1)} ms`,
      )
      // the deepest valid event still goes through
      let deepest: unknown = 1
      for (let i = 0; i < 31; i++) deepest = { d: deepest }
      expect(
        (
          await client.send(
            JSON.stringify({
              op: 'publish',
              events: [{ type: 'attack.deepest', properties: deepest }],
            }),
          )
        ).reply,
      ).toMatchObject({ op: 'ack', results: [{ status: 'accepted' }] })
    } finally {
      await client.close()
    }
    await healthy()
  })

  it('closes a connection answered before its body was read, after reading at most a bounded lingering part of it', async () => {
    // A declared 200 MiB body over MAX_BODY_BYTES: 413 at once, then the connection ends (before: all 200 MiB were read).
    const outcome = await uploadAgainstEarlyAnswer(sluice.url, 200 * MiB)
    expect(outcome.status).toBe('HTTP/1.1 413 Payload Too Large')
    expect(outcome.headers).toMatch(/^connection: close$/im)
    expect(outcome.closedAfterMs).toBeLessThan(5000)
    // what the client got into the connection: the kernel's buffers and the lingering read, not the body
    expect(outcome.writtenBytes).toBeLessThan(48 * MiB)

    // gzip: compressed bytes over the limit are refused too, whatever they would inflate to (chunked: no declared length)
    const incompressible = gzipSync(randomBytes(6 * MiB))
    const stream = new ReadableStream<Uint8Array>({
      start(controller) {
        for (let at = 0; at < incompressible.length; at += 64 * 1024)
          controller.enqueue(incompressible.subarray(at, at + 64 * 1024))
        controller.close()
      },
    })
    const gz = await fetch(`${sluice.url}/v1/events/batch`, {
      method: 'POST',
      body: stream,
      headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' },
      duplex: 'half',
    })
    expect(gz.status).toBe(413)
    await healthy()
  })

  it("refuses WebSocket upgrades from other web origins (403), allows Sluice's own pages and clients without Origin", async () => {
    const httpPort = new URL(sluice.url).port
    const status = (origin?: string) =>
      new Promise<number>((resolve) => {
        const ws = new WebSocket(sluice.wsUrl, origin === undefined ? {} : { origin })
        ws.once('open', () => (resolve(101), ws.close()))
        ws.once(
          'unexpected-response',
          (_request, response) => (resolve(response.statusCode ?? 0), ws.terminate()),
        )
        ws.once('error', () => {})
      })
    expect(await status('https://evil.example')).toBe(403)
    expect(await status('null')).toBe(403)
    expect(await status(`http://127.0.0.1:${httpPort}`)).toBe(101)
    expect(await status()).toBe(101)
    expect(
      metric(
        await sluice.metrics(),
        'sluice_ws_upgrades_refused_total',
        'reason="origin_not_allowed"',
      ),
    ).toBe(2)
  })

  it('is strict about inputs: non-finite numbers, foreign charsets, invalid UTF-8, loose query integers, prototype names as assets', async () => {
    const infinite = await post(
      '/v1/events',
      '{"type":"attack.number","properties":{"big":1e400,"list":[-1e400]}}',
    )
    expect(infinite.status).toBe(400)
    expect(
      ((await infinite.json()) as { error: { issues: Array<{ path: string }> } }).error.issues.map(
        (issue) => issue.path,
      ),
    ).toEqual(['properties.big', 'properties.list.0'])

    expect(
      (
        await post('/v1/events', Buffer.from('{"type":"x"}', 'utf16le'), {
          'content-type': 'application/json; charset=UTF-16',
        })
      ).status,
    ).toBe(415)
    const invalidUtf8 = await post(
      '/v1/events',
      Buffer.concat([
        Buffer.from('{"type":"x","properties":{"s":"'),
        Buffer.from([0xc3, 0x28, 0xff]),
        Buffer.from('"}}'),
      ]),
    )
    expect(invalidUtf8.status).toBe(400)
    expect(((await invalidUtf8.json()) as { error: { code: string } }).error.code).toBe(
      'invalid_json',
    )

    for (const limit of ['1e2', '0x10', '5.0', ' 7', '-1']) {
      const response = await fetch(`${sluice.url}/v1/events?limit=${encodeURIComponent(limit)}`)
      expect(response.status, `limit=${limit}`).toBe(400)
    }
    for (const name of ['constructor', '__proto__', 'toString', 'hasOwnProperty']) {
      expect((await fetch(`${sluice.url}/docs/assets/swagger-ui-dist/${name}`)).status).toBe(404)
    }
    const docs = await fetch(`${sluice.url}/docs`)
    expect(docs.headers.get('content-security-policy')).toContain("frame-ancestors 'none'")
    expect(docs.headers.get('x-frame-options')).toBe('DENY')
    expect(await docs.text()).toContain('persistAuthorization: false')
    expect(sluice.logs()).not.toMatch(/\n\s+at /)
    await healthy()
  })

  it('afterwards: alive, nothing in flight, no escaped error, no failed answer', async () => {
    await healthy()
    const values = await sluice.metrics()
    expect(metric(values, 'sluice_events_in_flight')).toBe(0)
    expect(metric(values, 'sluice_answers_failed_total')).toBe(0)
    expect(metric(values, 'sluice_uncaught_errors_total')).toBe(0)
    expect(metric(values, 'sluice_pipeline_restarts_total')).toBe(0)
    console.info(
      `attacks (${mode}): RSS ${Math.round(sluice.memory().rssKb / 1024)} MiB, peak ${Math.round(sluice.memory().peakKb / 1024)} MiB`,
    )
  })
})

describe('attacks on a running Sluice with API_KEYS', () => {
  let sluice: Instance
  const database = privateDatabase('attacks_keys')
  beforeAll(async () => {
    sluice = await launch({
      REDIS_URL,
      CLICKHOUSE_URL,
      CLICKHOUSE_DATABASE: database,
      API_KEYS: `k-${randomUUID()}`,
    })
  }, 60_000)
  afterAll(async () => {
    await sluice?.stop('SIGKILL')
    await dropDatabase(database)
  })

  it('answers 401 to a 200 MiB upload without reading it, and closes the connection', async () => {
    const outcome = await uploadAgainstEarlyAnswer(sluice.url, 200 * MiB, {
      authorization: 'Bearer wrong',
    })
    expect(outcome.status).toBe('HTTP/1.1 401 Unauthorized')
    expect(outcome.headers).toMatch(/^connection: close$/im)
    expect(outcome.closedAfterMs).toBeLessThan(5000)
    expect(outcome.writtenBytes).toBeLessThan(48 * MiB)
    expect((await fetch(`${sluice.url}/health`)).status).toBe(200)
  })
})

/**
 * Declares a body of `declared` bytes and keeps sending it as fast as the connection takes it: how much
 * got in before the server closed, how long that took, and the status line and headers it answered.
 */
async function uploadAgainstEarlyAnswer(
  url: string,
  declared: number,
  headers: Record<string, string> = {},
) {
  const { hostname, port } = new URL(url)
  const socket = connect(Number(port), hostname)
  const chunk = Buffer.alloc(64 * 1024, 0x20)
  let writtenBytes = 0
  let answer = ''
  const started = performance.now()
  socket.on('data', (data) => (answer += data.toString('latin1')))
  socket.on('error', () => {})
  await new Promise((resolve) => socket.once('connect', resolve))
  const head = [
    `POST /v1/events/batch HTTP/1.1`,
    `Host: ${hostname}`,
    'Content-Type: application/json',
    `Content-Length: ${declared}`,
    ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`),
  ]
  socket.write(`${head.join('\r\n')}\r\n\r\n`)
  const closed = new Promise<number>((resolve) =>
    socket.once('close', () => resolve(performance.now() - started)),
  )
  const pump = () => {
    while (writtenBytes < declared && !socket.destroyed) {
      writtenBytes += chunk.length
      if (!socket.write(chunk)) return void socket.once('drain', pump)
    }
  }
  pump()
  const closedAfterMs = await Promise.race([
    closed,
    new Promise<number>((resolve) => setTimeout(() => resolve(Infinity), 15_000)),
  ])
  socket.destroy()
  const [statusAndHeaders = ''] = answer.split('\r\n\r\n')
  return {
    status: statusAndHeaders.split('\r\n')[0],
    headers: statusAndHeaders,
    closedAfterMs,
    writtenBytes,
  }
}
