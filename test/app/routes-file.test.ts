import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { loadRoutesFile, parseRoutes, RoutesFileError } from '../../src/app/routes-file.js'
import { typeMatcher } from '../../src/streams/routing/route.js'

let dir: string
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sluice-routes-'))
})
afterAll(() => rm(dir, { recursive: true, force: true }))

const problems = (json: unknown) => {
  try {
    parseRoutes(json)
  } catch (error) {
    if (error instanceof RoutesFileError)
      return error.problems.map((p) => `${p.route ?? '-'} ${p.field}: ${p.message}`)
    throw error
  }
  throw new Error('parsed')
}

describe('routes file', () => {
  it('reads the example of API.md §8 and fills in the defaults of what is left out', async () => {
    const path = join(dir, 'routes.json')
    await writeFile(
      path,
      JSON.stringify({
        routes: [
          {
            name: 'analytics',
            match: ['page_view', 'checkout.*'],
            url: 'http://127.0.0.1:9000/hook',
            headers: { authorization: 'Bearer x' },
          },
        ],
      }),
    )
    expect(loadRoutesFile(path)).toEqual([
      {
        name: 'analytics',
        match: ['page_view', 'checkout.*'],
        url: 'http://127.0.0.1:9000/hook',
        headers: { authorization: 'Bearer x' },
        batchMaxEvents: 100,
        batchMaxWaitMs: 1000,
        concurrency: 4,
        timeoutMs: 5000,
        maxAttempts: 8,
        backoffInitialMs: 200,
        backoffMaxMs: 30000,
      },
    ])
  })

  it('reads the example file (the one README shows)', () => {
    const routes = loadRoutesFile(
      fileURLToPath(new URL('./fixtures/routes.example.json', import.meta.url)),
    )
    expect(routes.map((r) => [r.name, r.concurrency, r.maxAttempts])).toEqual([
      ['analytics', 4, 8],
      ['warehouse', 4, 8],
    ])
  })

  it('names the route and the field of every problem', () => {
    expect(
      problems({
        routes: [
          { name: 'a', match: ['checkout*'], url: 'ftp://x/', concurency: 2, batchMaxEvents: 0 },
          {
            name: 'b',
            match: [],
            url: 'http://x/',
            headers: { 'Idempotency-Key': 'k' },
            backoffInitialMs: 500,
            backoffMaxMs: 100,
          },
          { match: ['*'] },
        ],
      }),
    ).toEqual([
      'a match.0: must be an event type, a prefix ending in ".*", or "*"',
      'a url: must be an http or https URL',
      'a batchMaxEvents: Too small: expected number to be >=1',
      'a concurency: is not a known field',
      'b match: must name at least one pattern',
      'b headers.Idempotency-Key: is set by Sluice and cannot be overridden',
      '#2 name: is required',
      '#2 url: is required',
    ])
  })

  it('refuses two routes of one name, and says which', () => {
    expect(
      problems({
        routes: [
          { name: 'a', match: ['*'], url: 'http://x/' },
          { name: 'a', match: ['*'], url: 'http://y/' },
        ],
      }),
    ).toEqual(['a name: is used by another route: names must be unique'])
  })

  it('puts the route and field in the message main prints', () => {
    expect(() =>
      parseRoutes(
        { routes: [{ name: 'billing', match: ['*'], url: 'http://x/', timeoutMs: 'soon' }] },
        'routes.json',
      ),
    ).toThrow(
      'invalid routes file routes.json: route "billing" field timeoutMs: Invalid input: expected number, received string',
    )
  })

  it('says so when the file is missing or not JSON', async () => {
    expect(() => loadRoutesFile(join(dir, 'missing.json'))).toThrow(
      /missing\.json: file: cannot be read \(ENOENT\)/,
    )
    const bad = join(dir, 'bad.json')
    await writeFile(bad, '{"routes": [')
    expect(() => loadRoutesFile(bad)).toThrow(/bad\.json: file: is not valid JSON/)
    expect(problems({ routes: [], extra: 1 })).toEqual(['- extra: is not a known field'])
  })

  it('matches exact types, prefixes ending in .* and *', () => {
    const matches = typeMatcher(['page_view', 'checkout.*'])
    expect(
      [
        'page_view',
        'checkout.completed',
        'checkout.step.2',
        'checkout',
        'page_views',
        'signup',
      ].filter(matches),
    ).toEqual(['page_view', 'checkout.completed', 'checkout.step.2'])
    expect(typeMatcher(['*'])('anything')).toBe(true)
  })
})
