import { afterEach, describe, expect, it } from 'vitest'
import { metric } from './support/instance.js'
import { failed, launchEmbedded, type EmbeddedInstance } from './support/embedded.js'
import { post, sleep } from './support/load.js'

// Issue 12.9: embedded chDB installs ClickHouse's fatal-signal handler, which sleeps ~303 s before it
// lets the process die (src/process/abort-signal.ts). A supervisor must see the process end within
// a few seconds of an abort or a fatal signal, and SIGTERM must still settle and exit 0.

const FEW_SECONDS = 5000
/** the watchdog's default stall bound (src/process/watchdog.ts) */
const STALL_MS = 10_000
const TRANSFORMS = 'test/reliability/support/misbehaving-transforms.mjs'
const instances: EmbeddedInstance[] = []
afterEach(async () => {
  await Promise.all(instances.splice(0).map((instance) => instance.dispose()))
})

async function start(env: Record<string, string> = {}): Promise<EmbeddedInstance> {
  const instance = await launchEmbedded(env)
  instances.push(instance)
  return instance
}

describe('embedded mode: a fatal error ends the process within a few seconds', () => {
  it('exits non-zero within a few seconds of SIGABRT', async () => {
    const sluice = await start()
    const since = Date.now()
    sluice.child.kill('SIGABRT')
    const exit = await sluice.exited(FEW_SECONDS, since)
    console.info(`SIGABRT: ${JSON.stringify(exit ?? 'still running')}`)
    expect(exit, 'still running').toBeDefined()
    expect(failed(exit)).toBe(true)
  }, 60_000)

  it("exits non-zero within a few seconds when a fatal signal leaves the main thread in the engine's handler (SIGSEGV)", async () => {
    const sluice = await start()
    const since = Date.now()
    // Sent to the process, the kernel delivers it to the main thread; a handler that returns cannot
    // be installed for it (a real fault would re-run), so only the watchdog can end this one.
    sluice.child.kill('SIGSEGV')
    const exit = await sluice.exited(FEW_SECONDS, since)
    console.info(`SIGSEGV: ${JSON.stringify(exit ?? 'still running')}`)
    expect(exit, 'still running').toBeDefined()
    expect(failed(exit)).toBe(true)
    expect(sluice.logs()).toContain('inside a fatal-signal handler')
  }, 60_000)

  it('exits non-zero within a few seconds of V8 running out of heap under a real load', async () => {
    // A user transform that retains 1 MiB per event; 64 MB of old space runs out after a few batches.
    const sluice = await start({
      TRANSFORMS_MODULE: TRANSFORMS,
      NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --max-old-space-size=64`,
    })
    let outOfMemoryAt: number | undefined
    sluice.child.stdout!.on(
      'data',
      () => (outOfMemoryAt ??= /heap out of memory/.test(sluice.logs()) ? Date.now() : undefined),
    )
    sluice.child.stderr!.on(
      'data',
      () => (outOfMemoryAt ??= /heap out of memory/.test(sluice.logs()) ? Date.now() : undefined),
    )
    for (let batch = 0; batch < 50 && sluice.alive && outOfMemoryAt === undefined; batch++) {
      const events = Array.from({ length: 20 }, (_, i) => ({
        id: `leak-${batch}-${i}`,
        type: 'leak.load',
      }))
      // bounded: a process stuck after the report never answers
      await Promise.race([
        post(sluice.url, '/v1/events/batch', { events }).catch(() => undefined),
        sleep(3000),
      ])
    }
    // timed from the report when it was seen (the process may be gone before the loop notices)
    const exit = await sluice.exited(FEW_SECONDS, outOfMemoryAt ?? Date.now())
    console.info(
      `V8 out of memory: ${JSON.stringify(exit ?? 'still running')}, ${outOfMemoryAt === undefined ? 'no' : 'an'} out-of-memory report`,
    )
    expect(sluice.logs()).toContain('JavaScript heap out of memory')
    expect(exit, 'still running').toBeDefined()
    expect(failed(exit)).toBe(true)
    expect(exit!.ms).toBeLessThan(FEW_SECONDS)
  }, 60_000)
})

describe('embedded mode: SIGTERM', () => {
  it('settles the events in flight and exits 0 when the process is healthy', async () => {
    // Batches wait 1.5 s for more events, so the submission is still in flight when SIGTERM lands.
    const sluice = await start({ INSERT_BATCH_MAX_WAIT_MS: '1500', SHUTDOWN_TIMEOUT_MS: '8000' })
    const events = Array.from({ length: 200 }, (_, i) => ({ id: `term-${i}`, type: 'term.load' }))
    const answer = post(sluice.url, '/v1/events/batch', { events })
    for (let i = 0; i < 50 && metric(await sluice.metrics(), 'sluice_events_in_flight') === 0; i++)
      await sleep(20)
    expect(metric(await sluice.metrics(), 'sluice_events_in_flight')).toBeGreaterThan(0)
    const since = Date.now()
    sluice.child.kill('SIGTERM')
    const { status, body } = await answer
    const exit = await sluice.exited(10_000, since)
    console.info(`SIGTERM: ${JSON.stringify(exit ?? 'still running')}`)
    expect(status).toBe(200)
    expect(
      (body as { results: Array<{ status: string }> }).results.map((result) => result.status),
    ).toEqual(events.map(() => 'accepted'))
    expect(exit).toMatchObject({ code: 0, signal: null })
  }, 60_000)

  it('ends a process whose main thread is stuck within seconds of the stall bound, SIGTERM or not', async () => {
    const sluice = await start({ TRANSFORMS_MODULE: TRANSFORMS })
    void post(sluice.url, '/v1/events', { id: 'block-1', type: 'block.main' }).catch(
      () => undefined,
    )
    await sleep(500)
    const since = Date.now()
    // Node takes the signal, but its handler is JavaScript: it cannot run until the loop ends.
    sluice.child.kill('SIGTERM')
    const exit = await sluice.exited(STALL_MS + FEW_SECONDS, since)
    console.info(`SIGTERM to a stuck main thread: ${JSON.stringify(exit ?? 'still running')}`)
    expect(exit, 'still running').toBeDefined()
    expect(failed(exit)).toBe(true)
    expect(sluice.logs()).toContain('the main thread has not run for')
  }, 60_000)
})

describe('errors that escape every handler', () => {
  it('are logged and counted, and the process keeps serving', async () => {
    const sluice = await start({ TRANSFORMS_MODULE: TRANSFORMS })
    const thrown = await post(sluice.url, '/v1/events', {
      id: 'escape-1',
      type: 'escape.exception',
    })
    const rejected = await post(sluice.url, '/v1/events', {
      id: 'escape-2',
      type: 'escape.rejection',
    })
    expect([thrown.status, rejected.status]).toEqual([202, 202])
    await sleep(200)
    expect(sluice.alive).toBe(true)
    const health = await fetch(`${sluice.url}/health`)
    expect(health.status).toBe(200)
    const after = await post(sluice.url, '/v1/events', { id: 'after-1', type: 'after.escape' })
    expect(after.body).toMatchObject({ id: 'after-1', status: 'accepted' })
    const values = await sluice.metrics()
    expect(metric(values, 'sluice_uncaught_errors_total', 'kind="uncaughtException"')).toBe(1)
    expect(metric(values, 'sluice_uncaught_errors_total', 'kind="unhandledRejection"')).toBe(1)
    const lines = sluice
      .logs()
      .split('\n')
      .filter(
        (line) =>
          line.includes('escaped from a transform') || line.includes('rejected in a transform'),
      )
    expect(lines).toHaveLength(2)
    expect(lines.map((line) => JSON.parse(line).kind).sort()).toEqual([
      'uncaughtException',
      'unhandledRejection',
    ])
    expect(await sluice.stop('SIGTERM')).toBe(0)
  }, 60_000)
})
