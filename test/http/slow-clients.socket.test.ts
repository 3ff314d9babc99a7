import { connect } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { REQUEST_TIMEOUT_MESSAGE } from '../../src/wire/slow-client-timeouts.js'
import { fakeSluice } from '../support/services.js'

// Over a real socket: Node's HTTP server, not the app, decides when a request took too long.
let sluice: Awaited<ReturnType<typeof fakeSluice>>
let port: number
let wsPort: number
beforeAll(async () => {
  sluice = await fakeSluice({
    PORT: '0',
    HOST: '127.0.0.1',
    HTTP_HEADERS_TIMEOUT_MS: '1000',
    HTTP_REQUEST_TIMEOUT_MS: '2000',
  })
  ;({ port, wsPort } = await sluice.listen())
})
afterAll(() => sluice.dispose())

/** Writes `sent` on a raw connection and never finishes it; resolves with all the server answers before it closes. */
function stall(to: number, sent: string): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect(to, '127.0.0.1')
    let answer = ''
    socket.on('data', (chunk: Buffer) => (answer += chunk.toString('latin1')))
    socket.on('error', () => {})
    socket.on('close', () => resolve(answer))
    socket.once('connect', () => socket.write(sent))
  })
}

function parse(answer: string): { status: string; headers: Record<string, string>; body: unknown } {
  const [head = '', body = ''] = answer.split('\r\n\r\n', 2)
  const [status = '', ...lines] = head.split('\r\n')
  const headers = Object.fromEntries(
    lines.map((line) => [
      line.slice(0, line.indexOf(':')).toLowerCase(),
      line.slice(line.indexOf(':') + 1).trim(),
    ]),
  )
  return { status, headers, body: JSON.parse(body) }
}

describe('slow clients', () => {
  it('answers a request whose head does not arrive in HTTP_HEADERS_TIMEOUT_MS with 408 request_timeout in the error shape', async () => {
    const answer = parse(
      await stall(
        port,
        'POST /v1/events HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Request-Id: slow-head-1\r\n',
      ),
    )
    expect(answer.status).toBe('HTTP/1.1 408 Request Timeout')
    expect(answer.headers['content-type']).toBe('application/json')
    expect(answer.body).toEqual({
      error: {
        code: 'request_timeout',
        message: REQUEST_TIMEOUT_MESSAGE,
        requestId: expect.stringMatching(/^[0-9a-f-]{36}$/),
      },
    })
    expect(answer.headers['x-request-id']).toBe(
      (answer.body as { error: { requestId: string } }).error.requestId,
    )
  })

  it('answers a request whose body does not arrive in HTTP_REQUEST_TIMEOUT_MS with 408 request_timeout, echoing its request id', async () => {
    const head =
      'POST /v1/events HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 1000\r\nX-Request-Id: slow-body-1\r\n\r\n'
    const answer = parse(await stall(port, `${head}{"type":"slow.body","properties":{"pad":"`))
    expect(answer.status).toBe('HTTP/1.1 408 Request Timeout')
    expect(answer.headers['x-request-id']).toBe('slow-body-1')
    expect(answer.body).toEqual({
      error: { code: 'request_timeout', message: expect.any(String), requestId: 'slow-body-1' },
    })
  })

  it('answers a WebSocket upgrade whose head does not arrive in time with 408 request_timeout too', async () => {
    const answer = parse(
      await stall(wsPort, 'GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n'),
    )
    expect(answer.status).toBe('HTTP/1.1 408 Request Timeout')
    expect((answer.body as { error: { code: string } }).error.code).toBe('request_timeout')
  })

  it('answers a malformed request head 400 invalid_request in the error shape, and closes', async () => {
    const answer = parse(await stall(port, 'NOT HTTP AT ALL\r\n\r\n'))
    expect(answer.status).toBe('HTTP/1.1 400 Bad Request')
    expect(answer.headers.connection).toBe('close')
    expect(answer.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/)
    expect(answer.body).toEqual({
      error: {
        code: 'invalid_request',
        message: 'the request is not well-formed HTTP/1.1',
        requestId: answer.headers['x-request-id'],
      },
    })
  })

  it('answers a request head over 16 KiB 400 invalid_request, echoing its request id', async () => {
    const answer = parse(
      await stall(
        port,
        `GET /health HTTP/1.1\r\nHost: x\r\nX-Request-Id: big-head\r\nX-Pad: ${'p'.repeat(20_000)}\r\n\r\n`,
      ),
    )
    expect(answer.status).toBe('HTTP/1.1 400 Bad Request')
    expect((answer.body as { error: { code: string } }).error.code).toBe('invalid_request')
  })
})
