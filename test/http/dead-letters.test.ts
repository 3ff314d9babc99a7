import { delay, lastValueFrom, type Observable } from 'rxjs'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { route } from '../../src/streams/routing/route.js'
import { createMemoryDeadLetters } from '../../src/testing/memory-dead-letters.js'
import { fakeSluice } from '../support/services.js'
import { event, memoryOutbox } from '../streams/routing/fakes.js'

let sluice: Awaited<ReturnType<typeof fakeSluice>>
beforeAll(async () => {
  sluice = await fakeSluice()
})
afterAll(() => sluice.dispose())

type ErrorBody = {
  error: { code: string; requestId: string; issues?: Array<{ path: string; message: string }> }
}
const replay = async (body: string) => {
  const response = await sluice.app.request('/v1/dead-letters/replay', {
    method: 'POST',
    body,
    headers: { 'content-type': 'application/json' },
  })
  return { status: response.status, body: (await response.json()) as ErrorBody }
}

describe('POST /v1/dead-letters/replay', () => {
  it.each([
    ['no route', '{}', 'route'],
    ['a route that is not a name', '{"route":"no spaces allowed"}', 'route'],
    ['an unknown key', '{"route":"analytics","force":true}', ''],
    ['a since that is not a date', '{"route":"analytics","since":"yesterday"}', 'since'],
    ['an array for a body', '[]', ''],
  ])(
    'answers a malformed body (%s) with 400 invalid_request naming the path',
    async (_name, body, path) => {
      const answer = await replay(body)
      expect(answer.status).toBe(400)
      expect(answer.body.error.code).toBe('invalid_request')
      expect(answer.body.error.issues?.map((issue) => issue.path)).toContain(path)
    },
  )

  it('answers a body that is not JSON with 400 invalid_json, and an unknown route with 404 not_found', async () => {
    expect((await replay('{"route":')).body.error.code).toBe('invalid_json')
    const unknown = await replay('{"route":"analytics"}')
    expect(unknown.status).toBe(404)
    expect(unknown.body.error.code).toBe('not_found')
  })
})

describe('POST /v1/dead-letters/replay while a replay of the route runs', () => {
  it('answers 409 replay_in_progress, and takes a replay again once it is done', async () => {
    // The outbox takes each page 100 ms late: the first replay is still running when the second comes.
    const outbox = memoryOutbox()
    const append = outbox.append.bind(outbox)
    outbox.append = (entries) => (append(entries) as Observable<unknown>).pipe(delay(100))
    const deadLetters = createMemoryDeadLetters()
    await lastValueFrom(
      deadLetters.write([
        {
          route: 'slow',
          event: event('a'),
          error: 'HTTP 500',
          attempts: 8,
          time: Date.now() - 1000,
        },
      ]) as Observable<unknown>,
    )
    const routed = await fakeSluice({}, undefined, {
      routes: [route({ name: 'slow', match: ['*'], url: 'http://127.0.0.1:9/hook' })],
      delivery: { send: () => Promise.resolve() },
      outbox,
      deadLetters,
    })
    try {
      const ask = async () => {
        const response = await routed.app.request('/v1/dead-letters/replay', {
          method: 'POST',
          body: '{"route":"slow"}',
          headers: { 'content-type': 'application/json' },
        })
        return { status: response.status, body: (await response.json()) as Record<string, any> }
      }
      const [first, second] = await Promise.all([ask(), ask()])
      expect(first).toEqual({ status: 200, body: { replayed: 1 } })
      expect(second.status).toBe(409)
      expect(second.body.error).toMatchObject({
        code: 'replay_in_progress',
        message: 'a replay of route "slow" is in progress; try again when it has finished',
        requestId: expect.any(String),
      })
      expect((await ask()).status).toBe(200)
    } finally {
      await routed.dispose()
    }
  })
})
