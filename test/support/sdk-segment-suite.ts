import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { SegmentCall, SegmentFamilySdk } from './sdk-clients.js'
import {
  expectedSegmentView,
  SEGMENT_CALL_TYPES,
  segmentCall,
  segmentCalls,
  segmentView,
  TRACK_TYPE,
} from './sdk-messages.js'
import { BACKENDS, SOURCE, WRITE_KEY, type SdkSluice } from './sdk-sluice.js'
import { uniqueId } from './services.js'

/** Messages of each call type per run: a few hundred, in batches of the SDKs' own making. */
const PER_TYPE = 200

const STORED_TYPES = SEGMENT_CALL_TYPES.map((type) => (type === 'track' ? TRACK_TYPE : type))

/** Sends every call through a fresh client of `sdk` and returns the errors it reported. */
async function sendAll(
  sdk: SegmentFamilySdk,
  sluice: SdkSluice,
  writeKey: string,
  calls: readonly SegmentCall[],
) {
  const client = sdk.create(sluice.url, writeKey)
  for (const call of calls) client.send(call)
  return client.close()
}

/** The stored events whose id begins with the run's prefix. */
async function storedOfRun(
  sluice: SdkSluice,
  run: string,
  types: readonly string[] | undefined = STORED_TYPES,
) {
  const stored = await sluice.stored(types)
  return new Map([...stored].filter(([id]) => id.startsWith(run)))
}

/**
 * The suite every Segment-format SDK passes (Segment's two Node SDKs and RudderStack's): the SDK
 * itself is the client, pointed at a Sluice process by its one option, on each storage backend.
 */
export function segmentFamilySuite(sdk: SegmentFamilySdk): void {
  for (const backend of BACKENDS)
    describe(`${sdk.name} against Sluice on ${backend.label}`, () => {
      let sluice: SdkSluice
      beforeAll(async () => {
        sluice = await backend.start()
      })
      afterAll(async () => {
        await sluice?.dispose()
      })

      it(`stores each of ${PER_TYPE} messages of every call type once, with the fields API.md §9 maps, and the SDK reports no error`, async () => {
        const run = uniqueId('seg')
        const calls = segmentCalls(run, PER_TYPE)
        const startedAt = Date.now()

        const errors = await sendAll(sdk, sluice, WRITE_KEY, calls)

        expect(errors).toEqual([])
        const stored = await storedOfRun(sluice, run)
        expect([...stored.values()].filter((copies) => copies.length !== 1)).toEqual([])
        const views = calls.map((call) => {
          const event = stored.get(call.message.messageId)?.[0]
          return event ? segmentView(event) : { missing: call.message.messageId }
        })
        expect(views).toEqual(calls.map((call) => expectedSegmentView(call, SOURCE, sdk)))
        if (sluice.rawRows) expect(await sluice.rawRows([...stored.keys()])).toBe(calls.length)
        // The device's clock corrected by sentAt (§9) lands between the send and the receipt.
        for (const copies of stored.values()) {
          const { timestamp, receivedAt } = copies[0]!
          expect(Date.parse(timestamp)).toBeGreaterThanOrEqual(startedAt)
          expect(Date.parse(timestamp)).toBeLessThanOrEqual(Date.parse(receivedAt))
        }
      })

      it('refuses a wrong write key: the SDK reports the 401 and none of its messages is stored', async () => {
        const run = uniqueId('seg-wrong-key')
        const calls = SEGMENT_CALL_TYPES.map((type) => segmentCall(run, type, 0))

        const errors = await sendAll(sdk, sluice, 'not-a-key', calls)

        expect(errors.length).toBeGreaterThan(0)
        for (const error of errors) expect(error).toMatch(/401|Unauthorized/)
        expect([...(await storedOfRun(sluice, run)).keys()]).toEqual([])
      })

      it('stores the other messages of a batch that holds one bad message, and the SDK reports no error', async () => {
        const run = uniqueId('seg-bad')
        const good = Array.from({ length: 10 }, (_, i) => segmentCall(run, 'track', i))
        // An event name with no character a type may hold maps to an empty type: §9 rejects it.
        const bad: SegmentCall = {
          type: 'track',
          message: { messageId: `${run}-bad`, userId: `${run}-user`, event: '!!!' },
        }
        const calls = [...good.slice(0, 5), bad, ...good.slice(5)]

        const errors = await sendAll(sdk, sluice, WRITE_KEY, calls)

        expect(errors).toEqual([])
        // read whatever the type: the bad message must not be stored under any
        const stored = await storedOfRun(sluice, run, undefined)
        expect([...stored.keys()].sort()).toEqual(good.map((call) => call.message.messageId).sort())
      })
    })
}
