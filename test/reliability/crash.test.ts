import { randomUUID } from 'node:crypto'
import { hostname } from 'node:os'
import { Redis } from 'ioredis'
import { afterAll, describe, expect, it } from 'vitest'
import { REDIS_URL } from '../support/services.js'
import { launch, type Instance } from './support/instance.js'
import {
  eventSource,
  Ledger,
  resendUntilSettled,
  restWorker,
  sleep,
  wsWorker,
  type Result,
  type TestEvent,
} from './support/load.js'
import { startPrivateClickHouse, type PrivateClickHouse } from './support/private-servers.js'
import { privateDatabase, readStored } from './support/stored.js'

// Issue 7.3: kill -9 under load, restart, clients re-send everything not acked. ClickHouse is a
// private server so that the test can freeze it (SIGSTOP) for a moment before the kill: inserts are
// then in flight and their ids claimed in Redis but not committed — the crash lands exactly between
// claim and commit, where a dedupe claim must not turn the re-send into a false `duplicate`
// (two-phase claims), and must not block the re-send for longer than the dead process's lease
// (issue 13.10: the reservation itself would last DEDUPE_RESERVATION_SECONDS; docs/architecture-notes.md).

/** A ledger that also notes when each id was first answered `accepted`. */
class TimedLedger extends Ledger {
  readonly acceptedAt = new Map<string, number>()

  override record(results: readonly Result[], via: string, sent: readonly TestEvent[]): void {
    super.record(results, via, sent)
    const now = Date.now()
    for (const { id, status } of results)
      if (status === 'accepted' && !this.acceptedAt.has(id)) this.acceptedAt.set(id, now)
  }
}

/** The instance id of a Sluice process, read from the lease it keeps (`sluice:lease:<id>` = host:pid). */
async function leaseOf(pid: number): Promise<string | undefined> {
  const keys = await redis.keys('sluice:lease:*')
  const holders = keys.length > 0 ? await redis.mget(...keys) : []
  return keys.find((_, i) => holders[i] === `${hostname()}:${pid}`)?.slice('sluice:lease:'.length)
}

let clickhouse: PrivateClickHouse | undefined
const instances: Instance[] = []
const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 })
afterAll(async () => {
  clickhouse?.thaw()
  await Promise.all(instances.map((instance) => instance.stop('SIGKILL')))
  await clickhouse?.dispose()
  await redis.quit()
})

describe('a crash (kill -9) under load', () => {
  it('after a restart and the re-send of everything not acked, stores each id exactly once; a claim whose commit never happened does not block the re-send', async () => {
    clickhouse = await startPrivateClickHouse()
    const env = {
      REDIS_URL,
      CLICKHOUSE_URL: clickhouse.url,
      CLICKHOUSE_DATABASE: privateDatabase('crash'),
      INSERT_BATCH_MAX_WAIT_MS: '10',
      INSERT_RETRY_INITIAL_MS: '50',
      INSERT_RETRY_MAX_MS: '200',
      INSERT_RETRY_BUDGET_MS: '1000',
      // The default reservation (the retry budget + 30 s = 31 s): longer than the whole re-send below
      // may take, so only the dead process's lapsed lease can free its ids in time.
      DEDUPE_TTL_SECONDS: '600',
    }
    const first = await launch(env)
    instances.push(first)
    const ledger = new TimedLedger()
    const next = eventSource(`crash-${randomUUID()}`, 'crash.load')
    const running = () => first.alive
    const workers = [
      restWorker({
        url: first.url,
        ledger,
        next: () => next(50),
        running,
        via: 'rest-1',
        pauseMs: 30,
      }),
      restWorker({
        url: first.url,
        ledger,
        next: () => next(50),
        running,
        via: 'rest-2',
        pauseMs: 30,
      }),
      wsWorker({
        url: first.wsUrl,
        ledger,
        next: () => next(25),
        running,
        via: 'ws-1',
        window: 8,
        intervalMs: 30,
      }),
      wsWorker({
        url: first.wsUrl,
        ledger,
        next: () => next(25),
        running,
        via: 'ws-2',
        window: 8,
        intervalMs: 30,
      }),
    ]
    await sleep(1500)
    const dead = await leaseOf(first.pid)
    expect(dead).toBeDefined()
    clickhouse.freeze()
    await sleep(800)
    expect(await first.stop('SIGKILL')).toBeNull()
    clickhouse.thaw()
    await Promise.all(workers)
    expect(ledger.unexpected).toEqual([])

    const acked = [...ledger.events.keys()].filter((id) => ledger.last(id) === 'accepted')
    const unacked = ledger.unsettled()
    expect(acked.length).toBeGreaterThan(0)
    expect(unacked.length).toBeGreaterThan(0)
    // The crash left claims without commits: ids ("<batch>:<fingerprint>") whose claim batch is still
    // reserved ("p"), and that nobody was told about; every such batch is named for its owner
    // ("<instance>.<n>"): the instance that was killed. Some unacked ids may be committed ("c"): an
    // answer waits for every event of its request or frame (and an ack for the frames before it),
    // and the frozen ClickHouse held some of those.
    const held = await redis.mget(...unacked.map((id) => `sluice:dedupe:${id}`))
    const batches = held.map((value) => value?.split(':')[0] ?? 'none')
    const states = await redis.mget(...batches.map((batch) => `sluice:dedupe-batch:${batch}`))
    const reserved = unacked.filter((_, i) => held[i] && states[i] === 'p')
    const committed = unacked.filter((_, i) => held[i] && states[i] === 'c')
    expect(reserved.length).toBeGreaterThan(0)
    const deadBatches = [...new Set(batches.filter((_, i) => held[i] && states[i] === 'p'))]
    expect(deadBatches.filter((batch) => batch.split('.')[0] !== dead)).toEqual([])

    // Restart; clients re-send everything not acked. Until the dead process's lease lapses the
    // re-send is answered failed (send again), never duplicate; then the next claim takes it over.
    const restartedAt = Date.now()
    const second = await launch(env)
    const readyAt = Date.now()
    instances.push(second)
    const left = await resendUntilSettled(second.url, ledger, unacked, 'resend', 30_000, 250)
    expect(left).toEqual([])
    // Taken over, not expired: the dead process's reservations are all still there.
    expect(await redis.mget(...deadBatches.map((batch) => `sluice:dedupe-batch:${batch}`))).toEqual(
      deadBatches.map(() => 'p'),
    )
    // A committed id is a duplicate when sent again, whatever the restart did to its batch's owner.
    expect(committed.filter((id) => ledger.last(id) !== 'duplicate')).toEqual([])
    const resent = ledger.answers
    const falseDuplicates = reserved.filter((id) =>
      resent.get(id)!.some((a) => a.via === 'resend' && a.status === 'duplicate'),
    )
    expect(falseDuplicates).toEqual([])
    const failedMeanwhile = reserved.filter((id) =>
      resent.get(id)!.some((a) => a.via === 'resend' && a.status === 'failed'),
    ).length
    const freed = reserved
      .map((id) => ledger.acceptedAt.get(id)! - restartedAt)
      .sort((a, b) => a - b)
    console.info(
      `crash: ${ledger.events.size} events, ${acked.length} acked before the kill, ${unacked.length} re-sent, ${reserved.length} held by reservations of the dead process, ${committed.length} committed unacked ` +
        `(${failedMeanwhile} answered failed until its lease lapsed); from the restart: ready after ${readyAt - restartedAt} ms, ` +
        `first of them accepted after ${freed[0]} ms, all after ${freed.at(-1)} ms`,
    )

    // Each unique id is in ClickHouse exactly once: by FINAL, and uniqExact(id) = count() FINAL.
    const stored = await readStored(clickhouse.url, env.CLICKHOUSE_DATABASE)
    expect(stored.finalRows).toBe(ledger.events.size)
    expect(stored.uniqueIds).toBe(ledger.events.size)
    for (const id of ledger.events.keys()) expect(stored.final.get(id), id).toBe(1)
    // A clean stop takes the lease along: what the process could not confirm or release is free at once.
    expect(await leaseOf(second.pid)).toBeDefined()
    expect(await second.stop('SIGTERM')).toBe(0)
    expect(await leaseOf(second.pid)).toBeUndefined()
  }, 90_000)
})
