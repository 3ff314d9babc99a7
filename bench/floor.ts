/**
 * The floor: the same rows, inserted in batches straight from one process with no validation, no
 * dedupe and no transport — as fast as this machine's ClickHouse takes them.
 */
import { from, lastValueFrom } from 'rxjs'
import {
  createClickHouseClient,
  createClickHouseSink,
} from '../src/adapters/clickhouse/clickhouse-sink.js'
import { normalize } from '../src/streams/normalize.js'
import type { AcceptedEvent } from '../src/streams/event.js'
import { eventSource } from './events.js'

export async function floor(options: {
  url: string
  database: string
  runId: string
  totalEvents: number
  batchRows: number
  concurrency: number
}): Promise<{ eventsPerSecond: number; stored: number }> {
  const sink = createClickHouseSink({
    client: await createClickHouseClient({ url: options.url }),
    database: options.database,
  })
  await sink.start()
  const source = eventSource(options.runId, 0)
  const receivedAt = Date.now()
  // Rows are built before the clock starts: the floor measures inserts only.
  const events: AcceptedEvent[] = Array.from({ length: options.totalEvents }, (_, n) => {
    const checked = normalize(source.event(n), { transport: 'rest', receivedAt })
    if (!checked.ok) throw new Error('bench event invalid')
    return checked.event
  })
  const batches: AcceptedEvent[][] = []
  for (let i = 0; i < events.length; i += options.batchRows)
    batches.push(events.slice(i, i + options.batchRows))
  const started = performance.now()
  let next = 0
  await Promise.all(
    Array.from({ length: options.concurrency }, async () => {
      while (next < batches.length)
        await lastValueFrom(from(sink.write(batches[next++]!.map((event) => ({ event })))), {
          defaultValue: undefined,
        })
    }),
  )
  const seconds = (performance.now() - started) / 1000
  const stored = await sink.count()
  await sink.close()
  return { eventsPerSecond: options.totalEvents / seconds, stored }
}
