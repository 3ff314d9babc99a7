import { randomUUID } from 'node:crypto'
import { afterEach, describe, expect, it } from 'vitest'
import {
  classicSegment,
  postHogClient,
  rudderStack,
  segmentNode,
  type SegmentFamilySdk,
  type SdkOptions,
  type PostHogCall,
  type SdkClient,
  type SegmentCall,
} from '../support/sdk-clients.js'
import { segmentCall, TRACK_TYPE } from '../support/sdk-messages.js'
import { BACKENDS, WRITE_KEY, type SdkSluice } from '../support/sdk-sluice.js'
import { uniqueId } from '../support/services.js'
import { sleep, until } from '../support/wait.js'

// A kill -9 of Sluice while an SDK is sending, then a restart on the same port and storage: the
// SDK's own retries (it re-sends whole batches, with the same messageId / uuid) must land every
// message exactly once. Segment's current SDK (10 retries, backoff up to a minute) and PostHog's
// (3 retries, 3 s apart) outlast a restart with their defaults. analytics-node 6 and RudderStack's
// SDK retry three times within 1.4 to 1.7 s (axios-retry's exponential delay: 200, 400, 800 ms and
// up to 20 % more): a restart on Redis and the ClickHouse server took 0.66 and 0.73 s here, inside
// that, but one on a busier machine may not be. They run here with `retryCount: 7` (about 25 s),
// the option the README tells their users to raise.

const MESSAGES = 600
const CHUNK = 50

/**
 * Sends the first half, kills Sluice once some of it is stored, sends the second half into the
 * outage, restarts Sluice, and waits for the SDK to finish. Returns the restarted Sluice and the
 * errors the SDK reported.
 */
async function sendThroughACrash<Call>(
  running: SdkSluice[],
  sluice: SdkSluice,
  client: SdkClient<Call>,
  calls: readonly Call[],
  storedSoFar: () => Promise<number>,
) {
  const half = calls.length / 2
  for (let i = 0; i < half; i += CHUNK) {
    for (const call of calls.slice(i, i + CHUNK)) client.send(call)
    await sleep(10)
  }
  await until(async () => (await storedSoFar()) > 0, 20_000, 'a first stored message', 50)
  await sluice.stop('SIGKILL')
  for (let i = half; i < calls.length; i += CHUNK) {
    for (const call of calls.slice(i, i + CHUNK)) client.send(call)
    await sleep(10)
  }
  const restarted = await sluice.restart()
  running.push(restarted)
  const errors = await client.close()
  return { restarted, errors }
}

/** Every id sent is stored, and each exactly once. */
function expectEachOnce(
  stored: ReadonlyArray<[string, readonly unknown[]]>,
  sent: ReadonlyArray<string | undefined>,
) {
  expect(stored.filter(([, copies]) => copies.length !== 1)).toEqual([])
  expect(stored.map(([id]) => id).sort()).toEqual([...sent].sort())
}

for (const backend of BACKENDS)
  describe(`a kill -9 of Sluice on ${backend.label} while an SDK sends`, () => {
    const running: SdkSluice[] = []
    afterEach(async () => {
      // a test's processes share its storage: the last one removes it
      for (const sluice of running.slice(0, -1)) await sluice.stop('SIGKILL')
      await running.at(-1)?.dispose()
      running.length = 0
    })

    const segmentFamily: ReadonlyArray<[SegmentFamilySdk, SdkOptions]> = [
      [segmentNode, {}],
      [classicSegment, { retryCount: 7 }],
      [rudderStack, { retryCount: 7 }],
    ]
    for (const [sdk, options] of segmentFamily)
      it(`${sdk.name}: after the restart its own retries store every message exactly once`, async () => {
        const sluice = await backend.start()
        running.push(sluice)
        const run = uniqueId('seg-crash')
        const calls: SegmentCall[] = Array.from({ length: MESSAGES }, (_, i) =>
          segmentCall(run, 'track', i),
        )
        const ofRun = async (target: SdkSluice) =>
          [...(await target.stored([TRACK_TYPE]))].filter(([id]) => id.startsWith(run))

        const { restarted, errors } = await sendThroughACrash(
          running,
          sluice,
          sdk.create(sluice.url, WRITE_KEY, options),
          calls,
          async () => (await ofRun(sluice)).length,
        )

        expect(errors).toEqual([])
        expectEachOnce(
          await ofRun(restarted),
          calls.map((c) => c.message.messageId),
        )
      })

    it('posthog-node: after the restart its own retries store every capture exactly once', async () => {
      const sluice = await backend.start()
      running.push(sluice)
      const run = uniqueId('ph-crash')
      const calls: PostHogCall[] = Array.from({ length: MESSAGES }, (_, i) => ({
        type: 'capture',
        message: {
          distinctId: `${run}-${i}`,
          event: 'Signed Up',
          // the SDK replaces a uuid that is not a UUID with one of its own
          uuid: randomUUID(),
          properties: { index: i },
        },
      }))
      const ofRun = async (target: SdkSluice) =>
        [...(await target.stored(['Signed_Up']))].filter(([, copies]) =>
          copies.some((event) => event.userId?.startsWith(run)),
        )

      const { restarted, errors } = await sendThroughACrash(
        running,
        sluice,
        postHogClient(sluice.url, WRITE_KEY),
        calls,
        async () => (await ofRun(sluice)).length,
      )

      expect(errors).toEqual([])
      expectEachOnce(
        await ofRun(restarted),
        calls.map((c) => (c.type === 'capture' ? c.message.uuid : '')),
      )
    })
  })
