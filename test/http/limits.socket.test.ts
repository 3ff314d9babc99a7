import { request } from 'node:http'
import { connect } from 'node:net'
import { gzipSync } from 'node:zlib'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { fakeSluice } from '../support/services.js'
import { until } from '../support/wait.js'

// Over a real socket: the limits are about what the server reads, which app.request cannot show.
let sluice: Awaited<ReturnType<typeof fakeSluice>>
let port: number
beforeAll(async () => {
  sluice = await fakeSluice({ PORT: '0', HOST: '127.0.0.1', MAX_BODY_BYTES: String(1024 * 1024) })
  ;({ port } = await sluice.listen())
})
afterAll(() => sluice.dispose())

const MiB = 1024 * 1024

/**
 * Streams `total` bytes of a JSON-ish body at the server, as fast as it reads them, and resolves
 * with the status it answers and how many bytes it took before answering.
 */
function flood(
  total: number,
  headers: Record<string, string>,
): Promise<{ status: number; sentBeforeAnswer: number; body: string }> {
  return new Promise((resolve, reject) => {
    const chunk = Buffer.alloc(64 * 1024, 0x20) // spaces: valid JSON whitespace, never a parse error
    let sent = 0
    let answered = false
    const req = request(
      {
        host: '127.0.0.1',
        port,
        method: 'POST',
        path: '/v1/events/batch',
        headers: { 'content-type': 'application/json', ...headers },
      },
      (res) => {
        answered = true
        let body = ''
        res.on('data', (d: Buffer) => (body += d.toString()))
        res.on('end', () => resolve({ status: res.statusCode!, sentBeforeAnswer: sent, body }))
      },
    )
    req.on('error', (error) => (answered ? undefined : reject(error)))
    const pump = () => {
      while (!answered && sent < total) {
        sent += chunk.length
        if (!req.write(chunk)) return void req.once('drain', pump)
      }
      if (!answered) req.end()
    }
    pump()
  })
}

/**
 * Sends a head with a 4 GB Content-Length, then body bytes as fast as the server takes them, for up
 * to `ms`: resolves with what the server answered and how many bytes it took before it cut the
 * connection (or `ms` ran out).
 */
function keepSending(ms: number): Promise<{ answer: string; sent: number; cut: boolean }> {
  return new Promise((resolve) => {
    // Half-open: it keeps sending after the server's FIN, as a client that does not read would.
    const socket = connect({ port, host: '127.0.0.1', allowHalfOpen: true })
    const chunk = Buffer.alloc(64 * 1024, 0x20)
    let sent = 0
    let answer = ''
    let done = false
    const finish = (cut: boolean) => {
      if (done) return
      done = true
      clearTimeout(timer)
      socket.destroy()
      resolve({ answer, sent, cut })
    }
    const timer = setTimeout(() => finish(false), ms)
    socket.on('data', (data: Buffer) => (answer += data.toString('latin1')))
    socket.on('error', () => finish(true))
    socket.on('close', () => finish(true))
    socket.write(
      'POST /v1/events/batch HTTP/1.1\r\nHost: x\r\ncontent-type: application/json\r\ncontent-length: 4000000000\r\n\r\n',
    )
    const pump = () => {
      while (!done) {
        sent += chunk.length
        if (!socket.write(chunk)) return void socket.once('drain', pump)
      }
    }
    pump()
  })
}

describe('body limits on a real socket', () => {
  it('after a 413 answered before the body, reads at most about LINGER_MAX_BYTES more before cutting the connection', async () => {
    const result = await keepSending(3000)
    expect(result.answer).toMatch(/^HTTP\/1\.1 413 /)
    expect(result.cut).toBe(true)
    // Past the socket buffers (a few MiB on loopback), only what one check interval lets through:
    // before, the server read for the whole second (596 MiB in this test, over a GB from another process).
    expect(result.sent).toBeLessThan(64 * MiB)
  })

  it('refuses a 100 MiB body with 413 from its Content-Length, before reading it', async () => {
    const before = process.memoryUsage().rss
    const result = await flood(100 * MiB, { 'content-length': String(100 * MiB) })
    expect(result.status).toBe(413)
    expect(JSON.parse(result.body).error.code).toBe('payload_too_large')
    // The answer came while the client had pushed little more than the limit and the socket buffers (~4 MiB here).
    expect(result.sentBeforeAnswer).toBeLessThan(16 * MiB)
    expect(process.memoryUsage().rss - before).toBeLessThan(64 * MiB)
  })

  it('refuses a chunked 100 MiB body with 413 once it passes the limit while streaming', async () => {
    const before = process.memoryUsage().rss
    const result = await flood(100 * MiB, {})
    expect(result.status).toBe(413)
    expect(result.sentBeforeAnswer).toBeLessThan(16 * MiB)
    expect(process.memoryUsage().rss - before).toBeLessThan(64 * MiB)
  })

  it('refuses a gzip bomb: a small compressed body whose inflated size passes the limit', async () => {
    const bomb = gzipSync(Buffer.alloc(200 * MiB, 0x20))
    expect(bomb.length).toBeLessThan(MiB)
    const before = process.memoryUsage().rss
    const response = await fetch(`http://127.0.0.1:${port}/v1/events/batch`, {
      method: 'POST',
      body: bomb,
      headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' },
    })
    expect(response.status).toBe(413)
    expect(process.memoryUsage().rss - before).toBeLessThan(64 * MiB)
  })

  it('answers a truncated gzip body with 400 invalid_json, not a crash', async () => {
    const whole = gzipSync(JSON.stringify({ events: [{ type: 'x' }] }))
    const response = await fetch(`http://127.0.0.1:${port}/v1/events/batch`, {
      method: 'POST',
      body: whole.subarray(0, whole.length - 8),
      headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' },
    })
    expect(response.status).toBe(400)
    expect(((await response.json()) as { error: { code: string } }).error.code).toBe('invalid_json')
  })

  it('reads a body of declared length that arrives in pieces, split inside a UTF-8 character', async () => {
    const id = `split-${Date.now()}-${Math.random().toString(36).slice(2)}`
    // Over 64 KiB in all, so that the server reads it in more than one piece whatever the client does.
    const filler = [1, 2, 3].map((i) => ({
      id: `${id}-${i}`,
      type: 'split.filler',
      properties: { pad: 'x'.repeat(25_000) },
    }))
    const body = Buffer.from(
      JSON.stringify({
        events: [{ id, type: 'split', properties: { city: 'Zürich' } }, ...filler],
      }),
    )
    const cut = body.indexOf(Buffer.from('ü')) + 1 // between the two bytes of ü
    const reply = await new Promise<string>((resolve, reject) => {
      const socket = connect(port, '127.0.0.1', () => {
        socket.write(
          `POST /v1/events/batch HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n`,
        )
        socket.write(body.subarray(0, cut))
        setTimeout(() => socket.write(body.subarray(cut)), 50)
      })
      let text = ''
      socket.on('data', (d) => (text += d.toString()))
      socket.on('end', () => resolve(text))
      socket.on('error', reject)
    })
    expect(reply).toMatch(/^HTTP\/1\.1 200 OK/)
    expect(reply.slice(reply.indexOf('\r\n\r\n')), reply.slice(0, 400)).toContain('"accepted":4,')
    const [stored] = await sluice.sink.recent({ type: 'split', limit: 1 })
    expect(stored?.properties?.city).toBe('Zürich')
  })

  it('keeps serving after all of that', async () => {
    const response = await fetch(`http://127.0.0.1:${port}/health`)
    expect(response.status).toBe(200)
    // And a raw socket still gets a well-formed answer to a well-formed request.
    const reply = await new Promise<string>((resolve) => {
      const socket = connect(port, '127.0.0.1', () =>
        socket.end('GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'),
      )
      let text = ''
      socket.on('data', (d) => (text += d.toString()))
      socket.on('end', () => resolve(text))
    })
    expect(reply).toMatch(/^HTTP\/1\.1 200 OK/)
  })

  it('answers 503 overloaded to a body that would take the bodies being read past MAX_INFLIGHT_BYTES, and reads again once they are gone', async () => {
    const small = await fakeSluice({
      PORT: '0',
      HOST: '127.0.0.1',
      MAX_BODY_BYTES: String(MiB),
      MAX_INFLIGHT_BYTES: String(3 * MiB),
    })
    const { port: smallPort } = await small.listen()
    const head = `POST /v1/events/batch HTTP/1.1\r\nHost: x\r\ncontent-type: application/json\r\ncontent-length: ${MiB}\r\n\r\n`
    // Four bodies of 1 MiB, each held one byte short of its end: only three fit, so at least one
    // is refused while it is read, whichever order the server reads them in.
    const held = Array.from({ length: 4 }, () => {
      let answer = ''
      const socket = connect(smallPort, '127.0.0.1', () => {
        socket.write(head)
        socket.write(Buffer.alloc(MiB - 1, 0x20))
      })
      socket.on('data', (data: Buffer) => (answer += data.toString()))
      socket.on('error', () => {})
      return { socket, answer: () => answer }
    })
    try {
      await until(() => held.some(({ answer }) => answer().includes('\r\n\r\n')))
      const refused = held.map(({ answer }) => answer()).filter((answer) => answer !== '')
      expect(refused.length).toBeGreaterThanOrEqual(1)
      for (const answer of refused) {
        expect(answer).toMatch(/^HTTP\/1\.1 503 Service Unavailable\r\n/)
        expect(answer).toMatch(/\r\nretry-after: 1\r\n/i)
        expect(JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4)).error.code).toBe(
          'overloaded',
        )
      }
    } finally {
      for (const { socket } of held) socket.destroy()
    }
    await until(async () => (await post(smallPort)).status === 200)
    await small.dispose()
  })
})

/** A small batch over a real socket, with 200 KiB of spaces before it. */
function post(to: number): Promise<{ status: number; body: string; retryAfter?: string }> {
  return new Promise((resolve, reject) => {
    const body = `${' '.repeat(200 * 1024)}{"events":[{"type":"budget.probe"}]}`
    const req = request(
      {
        host: '127.0.0.1',
        port: to,
        method: 'POST',
        path: '/v1/events/batch',
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
      },
      (res) => {
        let text = ''
        res.on('data', (d: Buffer) => (text += d.toString()))
        res.on('end', () =>
          resolve({
            status: res.statusCode!,
            body: text,
            retryAfter: res.headers['retry-after'],
          }),
        )
      },
    )
    req.on('error', reject)
    req.end(body)
  })
}
