import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { postHogClient, type PostHogCall } from '../support/sdk-clients.js'
import {
  expectedPostHogView,
  postHogCalls,
  postHogDistinctId,
  postHogType,
  postHogView,
  type StoredEvent,
} from '../support/sdk-messages.js'
import { BACKENDS, SOURCE, WRITE_KEY, type SdkSluice } from '../support/sdk-sluice.js'
import { uniqueId } from '../support/services.js'

// PostHog's Node SDK sending to Sluice unchanged but for `host`: gzip bodies, the key as `api_key`.

/** Calls of each kind per run: a few hundred, in batches of the SDK's own making. */
const PER_TYPE = 200

async function sendAll(sluice: SdkSluice, apiKey: string, calls: readonly PostHogCall[]) {
  const client = postHogClient(sluice.url, apiKey)
  for (const call of calls) client.send(call)
  return client.close()
}

/** The run's stored events of the calls' types, by distinct id (PostHog assigns most uuids itself). */
async function storedOfRun(sluice: SdkSluice, calls: readonly PostHogCall[]) {
  const users = new Set(calls.map(postHogDistinctId))
  const stored = await sluice.stored([...new Set(calls.map(postHogType))])
  const byUser = new Map<string, StoredEvent[]>()
  for (const [, copies] of stored)
    for (const event of copies)
      if (event.userId !== undefined && users.has(event.userId))
        byUser.set(event.userId, [...(byUser.get(event.userId) ?? []), event])
  return byUser
}

for (const backend of BACKENDS)
  describe(`posthog-node against Sluice on ${backend.label}`, () => {
    let sluice: SdkSluice
    beforeAll(async () => {
      sluice = await backend.start()
    })
    afterAll(async () => {
      await sluice?.dispose()
    })

    it(`stores each of ${PER_TYPE} calls of every kind once, with the fields API.md §9 maps, and the SDK reports no error`, async () => {
      const calls = postHogCalls(uniqueId('ph'), PER_TYPE)

      const errors = await sendAll(sluice, WRITE_KEY, calls)

      expect(errors).toEqual([])
      const stored = await storedOfRun(sluice, calls)
      expect([...stored.values()].filter((copies) => copies.length !== 1)).toEqual([])
      const views = calls.map((call) => {
        const event = stored.get(postHogDistinctId(call))?.[0]
        return event ? postHogView(event, call) : { missing: postHogDistinctId(call) }
      })
      expect(views).toEqual(calls.map((call) => expectedPostHogView(call, SOURCE)))
      const ids = [...stored.values()].map((copies) => copies[0]!.id)
      expect(new Set(ids).size).toBe(calls.length)
      if (sluice.rawRows) expect(await sluice.rawRows(ids)).toBe(calls.length)
    })

    it('refuses a wrong api_key: the SDK reports the 401 and none of its calls is stored', async () => {
      const calls = postHogCalls(uniqueId('ph-wrong-key'), 1)

      const errors = await sendAll(sluice, 'not-a-key', calls)

      expect(errors.length).toBeGreaterThan(0)
      for (const error of errors) expect(error).toMatch(/401|Unauthorized/)
      expect([...(await storedOfRun(sluice, calls)).keys()]).toEqual([])
    })

    it('stores the other calls of a batch that holds one bad call, and the SDK reports no error', async () => {
      const run = uniqueId('ph-bad')
      const good = postHogCalls(run, 2)
      // An event name with no character a type may hold maps to an empty type: §9 rejects it.
      const bad: PostHogCall = {
        type: 'capture',
        message: { distinctId: `${run}-bad`, event: '!!!', properties: {} },
      }

      const errors = await sendAll(sluice, WRITE_KEY, [...good.slice(0, 5), bad, ...good.slice(5)])

      expect(errors).toEqual([])
      // read whatever the type: the bad call must not be stored under any
      const sent = new Set([...good, bad].map(postHogDistinctId))
      const users = [...(await sluice.stored()).values()].flat().map((event) => event.userId)
      expect(users.filter((user) => user !== undefined && sent.has(user)).sort()).toEqual(
        good.map(postHogDistinctId).sort(),
      )
    })
  })
