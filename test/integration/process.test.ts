import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import WebSocket from 'ws'
import {
  createClickHouseClient,
  createClickHouseSink,
} from '../../src/adapters/clickhouse/clickhouse-sink.js'
import { runToExit, startProcess, type RunningSluice } from '../support/process.js'
import { uniqueId } from '../support/services.js'

const running: RunningSluice[] = []
afterAll(async () => {
  await Promise.all(running.map((p) => p.stop('SIGKILL')))
})

const postBatch = async (url: string, events: unknown[]) => {
  const response = await fetch(`${url}/v1/events/batch`, {
    method: 'POST',
    body: JSON.stringify({ events }),
    headers: { 'content-type': 'application/json' },
  })
  return (await response.json()) as {
    accepted: number
    duplicates: number
    results: Array<{ index: number; id: string; status: string; conflict?: boolean }>
  }
}

describe('the sluice process', () => {
  it('on SIGTERM acks the WebSocket frames in flight, closes with 1001, answers the REST request in flight, and exits 0', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'sluice-sigterm-'))
    try {
      const sluice = await startProcess({ DATA_DIR: dataDir, INSERT_BATCH_MAX_WAIT_MS: '200' })
      running.push(sluice)
      const type = `sigterm.${uniqueId().slice(2, 10)}`
      const socket = new WebSocket(sluice.wsUrl)
      const messages: Array<{ op: string; seq?: number; results?: Array<{ status: string }> }> = []
      socket.on('message', (data) => messages.push(JSON.parse(data.toString())))
      const closed = new Promise<number>((resolve) => socket.once('close', (code) => resolve(code)))
      await new Promise((resolve) => socket.once('open', resolve))
      // Two frames and one REST batch, all waiting in a 200 ms insert batch when SIGTERM comes.
      socket.send(JSON.stringify([{ id: uniqueId(), type }]))
      socket.send(
        JSON.stringify({
          op: 'publish',
          ref: 'second',
          events: [
            { id: uniqueId(), type },
            { id: uniqueId(), type },
          ],
        }),
      )
      const rest = postBatch(sluice.url, [{ id: uniqueId(), type }])
      await new Promise((resolve) => setTimeout(resolve, 50))
      const exited = sluice.stop('SIGTERM')
      expect(await closed).toBe(1001)
      expect(
        messages.filter((m) => m.op === 'ack').map((m) => [m.seq, m.results!.map((r) => r.status)]),
      ).toEqual([
        [1, ['accepted']],
        [2, ['accepted', 'accepted']],
      ])
      expect((await rest).accepted).toBe(1)
      expect(await exited).toBe(0)
    } finally {
      await rm(dataDir, { recursive: true, force: true })
    }
  }, 60_000)

  it.each([
    ['INSERT_CONCURRENCY', 'many'],
    ['PORT', '70000'],
    ['REDIS_URL', 'http://not-redis'],
    ['DEDUPE_ON_ERROR', 'maybe'],
  ])(
    'exits 2 naming %s when it is %s',
    async (variable, value) => {
      const { code, output } = await runToExit({ [variable]: value })
      expect(code).toBe(2)
      expect(output).toContain(`invalid configuration: ${variable}`)
    },
    30_000,
  )

  it('runs on the embedded defaults, says so at start, settles in flight work on SIGTERM and exits 0, and keeps its data and dedupe window (conflicts too) across a restart', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'sluice-restart-'))
    try {
      const type = `restart.${uniqueId().slice(2, 10)}`
      const events = Array.from({ length: 500 }, (_, i) => ({ id: `${type}-${i}`, type }))

      const first = await startProcess({ DATA_DIR: dataDir })
      running.push(first)
      expect(first.logs()).toMatch(/dedupe: in-process.*storage: embedded chDB/)
      // SIGTERM right after sending: the answer still comes, and only then does the process exit.
      const answered = postBatch(first.url, events)
      await new Promise((resolve) => setTimeout(resolve, 25))
      const exited = first.stop('SIGTERM')
      expect((await answered).accepted).toBe(500)
      expect(await exited).toBe(0)

      const second = await startProcess({ DATA_DIR: dataDir })
      running.push(second)
      expect(second.logs()).toContain('500 re-learned from storage')
      // The in-process store re-learned the dedupe window from storage: a re-send is a duplicate,
      // and one with other content is told apart by reading the stored event back.
      const resent = await postBatch(second.url, events)
      expect(resent.duplicates).toBe(500)
      expect(resent.results.every((result) => !('conflict' in result))).toBe(true)
      const collision = await postBatch(second.url, [
        { ...events[7], properties: { other: 'content' } },
        { ...events[8], source: 'another-app' },
      ])
      expect(collision.results).toEqual([
        { index: 0, id: events[7]!.id, status: 'duplicate', conflict: true },
        { index: 1, id: events[8]!.id, status: 'duplicate', conflict: true },
      ])
      const more = await postBatch(second.url, [{ id: `${type}-new`, type }])
      expect(more.accepted).toBe(1)
      expect(await second.stop('SIGINT')).toBe(0)

      // Read the directory the way a third run would: every event of both runs is there.
      const sink = createClickHouseSink({ client: await createClickHouseClient({ dataDir }) })
      await sink.start()
      expect(await sink.count({ type })).toBe(501)
      await sink.close()
    } finally {
      await rm(dataDir, { recursive: true, force: true })
    }
  }, 90_000)
})
