import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { ack } from '../../../src/adapters/ws/server-messages.js'
import {
  ACCEPTED,
  CONFLICT,
  DUPLICATE,
  failed,
  rejected,
  toResult,
} from '../../../src/streams/outcome.js'

const outcome = fc.oneof(
  fc.constant(ACCEPTED),
  fc.constant(DUPLICATE),
  fc.constant(CONFLICT),
  fc.string().map(failed),
  fc.array(fc.record({ path: fc.string(), message: fc.string() }), { maxLength: 3 }).map(rejected),
)

describe('ack', () => {
  it('is the text JSON.stringify gives the ack message, for any results the pipeline makes', () => {
    // Any characters in ids and refs: quotes, backslashes, control characters, astral ones.
    const text = fc.string({ unit: 'binary', maxLength: 40 })
    fc.assert(
      fc.property(
        fc.nat(),
        fc.option(text, { nil: undefined }),
        fc.array(fc.tuple(fc.option(text, { nil: undefined }), outcome), { maxLength: 20 }),
        (seq, ref, settled) => {
          const results = settled.map(([id, o], index) => toResult(index, id, o))
          const message =
            ref === undefined ? { op: 'ack', seq, results } : { op: 'ack', seq, ref, results }
          expect(ack(seq, ref, results)).toBe(JSON.stringify(message))
        },
      ),
      { numRuns: 2000 },
    )
  })
})
