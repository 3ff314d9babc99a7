import { describe, expect, it } from 'vitest'
import { createPublishQueue, type FrameAck } from '../../../src/adapters/ws/publish-queue.js'
import type { EventResult } from '../../../src/streams/outcome.js'
import type { Pipeline } from '../../../src/streams/pipeline.js'
import { collected } from '../../support/gc.js'

/** A pipeline that takes every offer and keeps only its settle callback, as the real one keeps no raw event. */
function callbackKeepingPipeline() {
  const callbacks: Array<(results: EventResult[]) => void> = []
  const pipeline = {
    offer: (
      _events: readonly unknown[],
      _transport: string,
      onSettled: (results: EventResult[]) => void,
    ) => (callbacks.push(onSettled), true),
  }
  return { pipeline: pipeline as unknown as Pipeline, callbacks }
}

describe('publish queue', () => {
  it('keeps a submitted frame’s ack, not its events, until the frame settles', async () => {
    const { pipeline, callbacks } = callbackKeepingPipeline()
    const acks: Array<{ ack: FrameAck; results: EventResult[] }> = []
    const queue = createPublishQueue({
      pipeline,
      cap: 10,
      onSettled: (ack, results) => acks.push({ ack, results }),
      onRefused: () => {},
      afterPump: () => {},
    })
    const replies: string[] = []
    const push = () => {
      const events = [{ type: 'a' }, { type: 'b' }]
      queue.push({ seq: 7, ref: 'r-7', events, bytes: 40, reply: (text) => replies.push(text) })
      return new WeakRef(events)
    }
    const events = push()

    expect(queue.inflightEvents).toBe(2)
    expect(await collected(events)).toBe(true)
    callbacks[0]!([
      { index: 0, status: 'accepted' },
      { index: 1, status: 'accepted' },
    ])
    expect(acks).toMatchObject([
      { ack: { seq: 7, ref: 'r-7' }, results: [{ index: 0 }, { index: 1 }] },
    ])
    acks[0]!.ack.reply('ack 7')
    expect(replies).toEqual(['ack 7'])
    expect(queue.inflightEvents).toBe(0)
  })
})
