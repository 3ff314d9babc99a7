import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { map } from 'rxjs'
import { afterAll, describe, expect, it } from 'vitest'
import { runToExit, startProcess, type RunningSluice } from '../support/process.js'
import { serverSluice, uniqueId } from '../support/services.js'

const running: RunningSluice[] = []
afterAll(() => Promise.all(running.map((p) => p.stop('SIGKILL'))))

describe('user transforms', () => {
  it('run from TRANSFORMS_MODULE before storage: redact, drop and enrich; a throwing one rejects only its event', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'sluice-transforms-'))
    try {
      const sluice = await startProcess({
        DATA_DIR: dataDir,
        TRANSFORMS_MODULE: 'test/fixtures/transforms.mjs',
      })
      running.push(sluice)
      const type = `tx.${uniqueId().slice(2, 10)}`
      const events = [
        { id: uniqueId(), type, properties: { email: 'a@example.com', plan: 'pro' } },
        { id: uniqueId(), type: 'internal.heartbeat' },
        { id: uniqueId(), type: 'boom' },
        { id: uniqueId(), type },
      ]
      const response = await fetch(`${sluice.url}/v1/events/batch`, {
        method: 'POST',
        body: JSON.stringify({ events }),
        headers: { 'content-type': 'application/json' },
      })
      const body = (await response.json()) as {
        results: Array<{ status: string; errors?: Array<{ message: string }> }>
      }
      expect(body.results.map((r) => r.status)).toEqual([
        'accepted',
        'rejected',
        'rejected',
        'accepted',
      ])
      expect(body.results[1]!.errors![0]!.message).toBe('dropped by a transform')
      expect(body.results[2]!.errors![0]!.message).toBe('a transform failed: cannot enrich boom')
      const stored = (await (await fetch(`${sluice.url}/v1/events?type=${type}`)).json()) as {
        events: Array<{ id: string; properties: unknown }>
      }
      expect(stored.events.find((e) => e.id === events[0]!.id)!.properties).toEqual({
        email: '[redacted]',
        plan: 'pro',
        enriched: true,
      })
      expect(stored.events).toHaveLength(2)
    } finally {
      await rm(dataDir, { recursive: true, force: true })
    }
  }, 60_000)

  it('exits 2 naming TRANSFORMS_MODULE when the module does not export operators', async () => {
    const { code, output } = await runToExit({
      TRANSFORMS_MODULE: 'test/fixtures/not-transforms.mjs',
    })
    expect(code).toBe(2)
    expect(output).toContain('invalid configuration: TRANSFORMS_MODULE')
  }, 30_000)

  it('come through createSluice({ transforms }) in the programmatic API', async () => {
    const sluice = await serverSluice({}, undefined, {
      transforms: [map((e) => ({ ...e, source: 'programmatic' }))],
    })
    try {
      const id = uniqueId()
      await sluice.app.request('/v1/events', {
        method: 'POST',
        body: JSON.stringify({ id, type: 'prog' }),
        headers: { 'content-type': 'application/json' },
      })
      const [event] = await sluice.sink.recent({ type: 'prog', limit: 1 })
      expect(event).toMatchObject({ id, source: 'programmatic' })
    } finally {
      await sluice.dispose()
    }
  })
})
