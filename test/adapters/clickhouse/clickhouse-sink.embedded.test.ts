import { execFile } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { afterAll, describe, expect, it } from 'vitest'
import {
  createClickHouseClient,
  createClickHouseSink,
} from '../../../src/adapters/clickhouse/clickhouse-sink.js'
import type { AcceptedEvent } from '../../../src/streams/event.js'
import { eventSinkContract } from '../../contracts/event-sink.contract.js'

// chDB binds ONE data directory per process: this file keeps to one (vitest runs each test file
// in its own worker), and the restart test runs its two lifetimes in child processes.
const directories: string[] = []
async function temporaryDirectory(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'sluice-chdb-'))
  directories.push(dir)
  return dir
}
afterAll(async () => {
  await Promise.all(directories.map((dir) => rm(dir, { recursive: true, force: true })))
})

eventSinkContract('embedded ClickHouse (chDB) sink', async () => {
  const dataDir = await temporaryDirectory()
  const client = await createClickHouseClient({ dataDir })
  const sink = createClickHouseSink({ client, database: 'sluice' })
  const started = await sink.start()
  expect(started.dialect).toBe('datetime64')
  // A second connection on the same path is allowed: chDB shares the engine between them.
  const missingTable = createClickHouseSink({
    client: await createClickHouseClient({ dataDir }),
    database: 'sluice',
    table: 'no_such_table',
  })
  const unreachable = createClickHouseSink({
    client: await createClickHouseClient({ url: 'http://127.0.0.1:1' }),
  })
  return {
    sink,
    missingTable,
    unreachable,
    async mergeAll() {
      await client.command({ query: 'OPTIMIZE TABLE sluice.raw_events FINAL' })
    },
    async close() {
      await Promise.all([missingTable.close(), unreachable.close()])
      await sink.close()
    },
  }
})

describe('embedded ClickHouse (chDB) sink', () => {
  const child = fileURLToPath(new URL('./fixtures/chdb-restart.ts', import.meta.url))
  const run = promisify(execFile)
  const lifetime = (...args: string[]) =>
    run(process.execPath, ['--import', 'tsx', child, ...args], { timeout: 60_000 })

  it('runs the engine with its caches and its memory capped for a process it shares', async () => {
    const client = await createClickHouseClient({ dataDir: await temporaryDirectory() })
    try {
      const [settings] = await (
        await client.query({
          query: `SELECT getServerSetting('max_server_memory_usage') AS memory,
            getServerSetting('mark_cache_size') AS marks,
            getServerSetting('primary_index_cache_size') AS primaryIndex`,
          format: 'JSONEachRow',
        })
      ).json<{ memory: number | string; marks: number | string; primaryIndex: number | string }>()
      expect(Number(settings!.memory)).toBe(1024 * 2 ** 20)
      expect(Number(settings!.marks)).toBe(64 * 2 ** 20)
      expect(Number(settings!.primaryIndex)).toBe(64 * 2 ** 20)
    } finally {
      await client.close()
    }
  })

  it('keeps its data across a process restart', { timeout: 120_000 }, async () => {
    const dataDir = await temporaryDirectory()
    const type = `restart.${randomUUID().slice(0, 8)}`
    const events: AcceptedEvent[] = [0, 1, 2].map((i) => ({
      id: randomUUID(),
      type,
      timestamp: Date.parse('2026-11-26T10:00:00.123Z') + i,
      receivedAt: Date.parse('2026-11-26T10:00:01.456Z') + i,
      userId: `u-${i}`,
      properties: { i },
      transport: 'ws',
    }))
    await lifetime('write', dataDir, JSON.stringify(events))
    const { stdout } = await lifetime('read', dataDir, type)
    expect(JSON.parse(stdout)).toEqual([...events].reverse())
  })
})
