import { spawn, type ChildProcess } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import { once } from 'node:events'
import { fileURLToPath } from 'node:url'
import { Redis } from 'ioredis'
import { afterAll, describe, expect, it } from 'vitest'
import { CLICKHOUSE_URL, dropDatabase, REDIS_URL } from '../support/services.js'
import { startDownstream, until } from '../support/downstream.js'

// kill -9 in the middle of delivery, then a restart (or another instance): every event acked
// `accepted` (committed to ClickHouse, appended to the outbox before the ack) reaches the destination.
const root = fileURLToPath(new URL('../..', import.meta.url))
const keyPrefix = `sluice:test:${randomUUID()}:route:`
const database = `sluice_crash_${randomUUID().replace(/-/g, '').slice(0, 12)}`
const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 })
const children: ChildProcess[] = []
const closers: Array<() => Promise<void>> = []

afterAll(async () => {
  for (const child of children) if (child.exitCode === null) child.kill('SIGKILL')
  for (const close of closers) await close()
  const keys = await redis.keys(`${keyPrefix}*`)
  if (keys.length > 0) await redis.del(...keys)
  await redis.quit()
  await dropDatabase(database)
})

function startRouter(env: Record<string, string>) {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', 'test/integration/fixtures/outbox-router.ts'],
    {
      cwd: root,
      env: {
        ...process.env,
        REDIS_URL,
        CLICKHOUSE_URL,
        KEY_PREFIX: keyPrefix,
        DATABASE: database,
        ...env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  )
  children.push(child)
  let output = ''
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()))
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()))
  return { child, output: () => output }
}

/** The last `acked <n>` the child printed: ids e-0 … e-(n-1) were acked `accepted`. */
const lastAcked = (output: string) =>
  Math.max(0, ...[...output.matchAll(/acked (\d+)/g)].map((m) => Number(m[1])))

async function downstream() {
  // 50 ms an answer, two batches of 10 at a time: 1000 events take about 2.5 s.
  const started = await startDownstream(() => ({ status: 200, delayMs: 50 }))
  closers.push(started.close)
  return started
}

describe('routing across a crash (kill -9)', () => {
  it('delivers every accepted event after a restart of the same instance, killed while still ingesting', async () => {
    const destination = await downstream()
    const first = startRouter({ DOWNSTREAM: destination.url, CONSUMER: 'node-1', SUBMIT: '3000' })
    await until(() => lastAcked(first.output()) >= 500, 20_000)
    first.child.kill('SIGKILL')
    await once(first.child, 'exit')
    const acked = lastAcked(first.output())
    expect(destination.delivered.size).toBeLessThan(acked)

    const second = startRouter({ DOWNSTREAM: destination.url, CONSUMER: 'node-1' })
    const expected = Array.from({ length: acked }, (_, i) => `e-${i}`)
    await until(() => expected.every((id) => destination.delivered.has(id)), 20_000)
    second.child.kill('SIGTERM')
    const [code] = (await once(second.child, 'exit')) as [number | null]
    expect(code).toBe(0)
    expect(await redis.xlen(`${keyPrefix}crash`)).toBe(0)
  }, 60_000)

  it('lets another instance take over what a killed one held', async () => {
    const destination = await downstream()
    const claim = { CLAIM_IDLE_MS: '500' }
    const first = startRouter({
      DOWNSTREAM: destination.url,
      CONSUMER: 'node-a',
      SUBMIT: '300',
      ...claim,
    })
    await until(
      () => first.output().includes('acked 300') && destination.delivered.size >= 50,
      20_000,
    )
    first.child.kill('SIGKILL')
    await once(first.child, 'exit')
    expect(destination.delivered.size).toBeLessThan(300)

    const other = startRouter({ DOWNSTREAM: destination.url, CONSUMER: 'node-b', ...claim })
    await until(() => destination.delivered.size === 300, 20_000)
    other.child.kill('SIGTERM')
    expect(((await once(other.child, 'exit')) as [number | null])[0]).toBe(0)
    expect(await redis.xlen(`${keyPrefix}crash`)).toBe(0)
  }, 60_000)
})
