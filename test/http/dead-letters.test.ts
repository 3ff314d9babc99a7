import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { fakeSluice } from '../support/services.js'

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
