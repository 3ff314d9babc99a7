import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { packClaims } from '../../../src/adapters/redis/packed-claims.js'
import type { Claim } from '../../../src/streams/ports.js'

/** Reads a packed buffer back as the claim script does: a 2-byte length, then that many bytes. */
function unpack(packed: Buffer): Claim[] {
  const strings: string[] = []
  for (let at = 0; at < packed.length;) {
    const length = packed.readUInt16BE(at)
    strings.push(packed.toString('utf8', at + 2, at + 2 + length))
    at += 2 + length
  }
  const claims: Claim[] = []
  for (let i = 0; i < strings.length; i += 2)
    claims.push({ id: strings[i]!, fingerprint: strings[i + 1]! })
  return claims
}

const wellFormed = fc.string({ unit: 'grapheme', maxLength: 128 })
const claim = fc.record({ id: wellFormed, fingerprint: wellFormed })

describe('packClaims', () => {
  it('packs any well-formed ids and fingerprints so that they read back as sent', () => {
    fc.assert(
      fc.property(fc.array(claim, { maxLength: 40 }), (claims) => {
        expect(unpack(packClaims(claims))).toEqual(claims)
      }),
    )
  })

  it('packs only the claims named, in the order named', () => {
    fc.assert(
      fc.property(
        fc
          .array(claim, { minLength: 1, maxLength: 20 })
          .chain((claims) =>
            fc.tuple(
              fc.constant(claims),
              fc.array(fc.nat({ max: claims.length - 1 }), { maxLength: 20 }),
            ),
          ),
        ([claims, indices]) => {
          expect(unpack(packClaims(claims, indices))).toEqual(indices.map((i) => claims[i]))
        },
      ),
    )
  })

  it('refuses a string too long for its two bytes of length rather than cut it', () => {
    expect(() => packClaims([{ id: 'x'.repeat(65_536), fingerprint: 'f' }])).toThrow(RangeError)
    expect(unpack(packClaims([{ id: 'x'.repeat(65_535), fingerprint: 'f' }]))[0]!.id).toHaveLength(
      65_535,
    )
  })
})
