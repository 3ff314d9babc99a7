import { createClient } from 'sluice/client'
import { expect, it } from 'vitest'
import { startSluice } from './sluice.js'

it('publishes events and reads one final result per event', async () => {
  const client = createClient({ url: await startSluice() })

  const results = await client.publish([
    { type: 'page_view', properties: { path: '/pricing' } }, // the client gives it a UUIDv7
    { id: 'order-1042', type: 'checkout.completed', properties: { total: 129.9 } },
    { type: 'not a type' },
  ])

  expect(results.map((r) => r.status)).toEqual(['accepted', 'accepted', 'rejected'])
  expect(results[1]).toEqual({ index: 1, id: 'order-1042', status: 'accepted' })
  const [, , rejected] = results
  if (rejected?.status === 'rejected') expect(rejected.errors[0]!.path).toBe('type')

  // the same id again, from a later publish: not stored twice
  const [again] = await client.publish([{ id: 'order-1042', type: 'checkout.completed' }])
  expect(again!.status).toBe('duplicate')

  await client.close() // resolves once every publish has settled
})
