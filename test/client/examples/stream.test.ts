import { createClient, type ClientEvent } from 'sluice/client'
import { expect, it } from 'vitest'
import { startSluice } from './sluice.js'

it('streams from several producers, held to the window, and sorts the outcomes', async () => {
  const client = createClient({ url: await startSluice(), maxInflightEvents: 500 })
  const outcome = { stored: 0, invalid: 0, failed: 0 }

  async function produce(batches: ClientEvent[][]) {
    for (const batch of batches) {
      // waits while 500 events are unanswered: a producer faster than Sluice is slowed down
      for (const result of await client.publish(batch)) {
        if (result.status === 'accepted' || result.status === 'duplicate') outcome.stored++
        else if (result.status === 'rejected')
          outcome.invalid++ // result.errors says why
        else outcome.failed++ // result.message says why; publish it again later
      }
    }
  }

  const batches = (producer: number) =>
    Array.from({ length: 20 }, (_, b) =>
      Array.from({ length: 50 }, (_, i) => ({
        type: 'sensor.reading',
        properties: { producer, n: b * 50 + i },
      })),
    )
  await Promise.all([0, 1, 2, 3].map((producer) => produce(batches(producer))))

  expect(outcome).toEqual({ stored: 4000, invalid: 0, failed: 0 })
  expect(client.stats().inflightEvents).toBe(0)
  await client.close()
})
