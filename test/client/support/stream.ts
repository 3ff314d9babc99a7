import type { PublishResult, SluiceClient } from '../../../src/client.js'
import { uniqueId } from '../../support/services.js'

export interface Stream {
  /** every result so far (all of them once `done` resolves) */
  readonly results: PublishResult[]
  /** events answered accepted so far */
  accepted(): number
  readonly done: Promise<void>
}

/**
 * `events` events through `client` from several producers, each publishing `perPublish` at a time
 * and pausing `pauseMs` between its publishes — a steady stream rather than one burst, so that a
 * fault the test causes lands mid-stream. Half carry the caller's ids, half get the client's.
 */
export function stream(
  client: SluiceClient,
  options: {
    readonly events: number
    readonly perPublish: number
    readonly producers: number
    readonly types: readonly string[]
    readonly pauseMs: number
  },
): Stream {
  const { events, perPublish, producers, types, pauseMs } = options
  const run = uniqueId('stream').slice(-12)
  const results: PublishResult[] = []
  let next = 0
  let accepted = 0
  const producer = async () => {
    while (next < events) {
      const first = next
      next += perPublish
      const answer = await client.publish(
        Array.from({ length: perPublish }, (_, i) => ({
          ...((first + i) % 2 === 0 && { id: `${run}-${first + i}` }),
          type: types[(first + i) % types.length]!,
          properties: { n: first + i },
        })),
      )
      accepted += answer.filter((r) => r.status === 'accepted').length
      results.push(...answer)
      await new Promise((resolve) => setTimeout(resolve, pauseMs))
    }
  }
  const done = Promise.all(Array.from({ length: producers }, producer)).then(() => {})
  return { results, accepted: () => accepted, done }
}
