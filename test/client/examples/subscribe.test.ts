import { createClient, type AcceptedEvent } from 'sluice/client'
import { expect, it } from 'vitest'
import { startSluice } from './sluice.js'

it('receives accepted events live, by type pattern', async () => {
  const client = createClient({ url: await startSluice() })
  const orders: AcceptedEvent[] = []

  const subscription = client.subscribe(['checkout.*'], (event) => orders.push(event))
  await subscription.ready // the server has confirmed it

  await client.publish([{ type: 'checkout.completed', properties: { total: 12 } }])
  await client.publish([{ type: 'page_view' }]) // not a checkout.* event
  await client.publish([{ type: 'checkout.refunded' }])
  await expect
    .poll(() => orders.map((event) => event.type))
    .toEqual(['checkout.completed', 'checkout.refunded'])

  subscription.unsubscribe()
  await client.close()
})
