import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { serverSluice } from '../support/services.js'

// What GET /ready asks of the real backends; its answers when they fail are in test/http/operations.test.ts, on fakes.
let sluice: Awaited<ReturnType<typeof serverSluice>>
beforeAll(async () => {
  sluice = await serverSluice()
})
afterAll(() => sluice.dispose())

describe('GET /ready on Redis and a ClickHouse server', () => {
  it('answers 200 when Redis answers PING and ClickHouse its ping, naming both backends', async () => {
    const response = await sluice.app.request('/ready')
    expect(response.status).toBe(200)
    expect(await response.json()).toMatchObject({
      status: 'ready',
      checks: {
        redis: { status: 'ok', backend: 'redis', latencyMs: expect.any(Number) },
        clickhouse: { status: 'ok', backend: 'clickhouse server', latencyMs: expect.any(Number) },
      },
    })
  })
})
