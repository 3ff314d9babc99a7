import type { Claim } from '../../streams/ports.js'

/**
 * A batch's claims as ONE argument of the claim script: for each claim, its id then its
 * fingerprint, each as a 2-byte big-endian length and that many bytes of UTF-8. The script reads
 * them back with string.byte and string.sub (claimScript's nextString).
 *
 * Two arguments per event (the id's key, the fingerprint) had ioredis spread, copy, flatten,
 * measure and concatenate some twenty thousand strings per batch into one command text: about a
 * twentieth of Sluice's CPU per event, and 300 bytes of garbage each. One buffer holds the same
 * bytes, written once. An id is at most 128 UTF-16 units (API.md §1), 384 bytes of UTF-8; the two
 * bytes of length hold any string up to 65,535 bytes, and a longer one is refused here rather than
 * sent cut.
 *
 * `indices`: only these claims, in this order (the cluster store's part of a batch on one node).
 */
export function packClaims(claims: readonly Claim[], indices?: readonly number[]): Buffer {
  const count = indices === undefined ? claims.length : indices.length
  let bound = 0
  for (let j = 0; j < count; j++) {
    const claim = claims[indices === undefined ? j : indices[j]!]!
    // A UTF-16 unit is at most three bytes of UTF-8.
    bound += 4 + (claim.id.length + claim.fingerprint.length) * 3
  }
  const packed = Buffer.allocUnsafe(bound)
  let at = 0
  for (let j = 0; j < count; j++) {
    const claim = claims[indices === undefined ? j : indices[j]!]!
    at = writeString(packed, at, claim.id)
    at = writeString(packed, at, claim.fingerprint)
  }
  return packed.subarray(0, at)
}

/** Writes `value`'s length and bytes at `at`; returns where the next string goes. */
function writeString(packed: Buffer, at: number, value: string): number {
  const start = at + 2
  let end = start
  // ASCII, the usual id and every fingerprint, copied a unit at a time: cheaper than a native call.
  for (let i = 0; i < value.length; i++) {
    const code = value.charCodeAt(i)
    if (code >= 0x80) {
      end = start + packed.write(value, start)
      break
    }
    packed[end++] = code
  }
  const length = end - start
  if (length > 0xffff) throw new RangeError(`a claim's string of ${length} bytes is too long`)
  packed[at] = length >>> 8
  packed[at + 1] = length & 0xff
  return end
}
