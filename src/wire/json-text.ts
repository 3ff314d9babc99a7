import { isUtf8 } from 'node:buffer'
import { jsonErrorPosition } from './json-error-position.js'
import { parseInPieces } from './json-pieces.js'

/**
 * The deepest JSON a request or frame may hold; anything deeper is refused whole, before it is
 * parsed. A valid one needs at most 35 levels (`properties` nests 32, API.md §1, inside the event,
 * inside `events`, inside a batch or publish envelope); the slack lets an event whose properties
 * nest a little too deep be rejected on its own, as any other invalid event, without sinking the
 * others in its batch.
 */
export const MAX_JSON_DEPTH = 64

/** Texts longer than this are parsed in pieces (json-pieces.ts): decoded whole, they would be strings V8 maps pages for. */
const LARGE_TEXT_BYTES = 64 * 1024

export type JsonText =
  { readonly ok: true; readonly value: unknown } | { readonly ok: false; readonly message: string }

export interface JsonTextOptions {
  readonly maxDepth?: number
  /** false where the transport has checked already (ws refuses a text frame that is not UTF-8 with 1007) */
  readonly checkUtf8?: boolean
}

/**
 * Parses a JSON body or frame as REST and WebSocket both must (API.md §3, §4): invalid UTF-8 is
 * refused rather than read as U+FFFD, and nesting past `maxDepth` is refused in one linear pass
 * over the bytes before JSON.parse builds anything — a few MiB of `[[[[…` would otherwise cost
 * hundreds of milliseconds of parsing and garbage, and every walk of the result after it.
 */
export function parseJsonText(bytes: Buffer, options: JsonTextOptions = {}): JsonText {
  if (options.checkUtf8 !== false && !isUtf8(bytes))
    return { ok: false, message: 'the body is not valid UTF-8' }
  const maxDepth = options.maxDepth ?? MAX_JSON_DEPTH
  const tooDeep = depthExceededAt(bytes, maxDepth)
  if (tooDeep >= 0)
    return { ok: false, message: `JSON nested deeper than ${maxDepth} levels (at byte ${tooDeep})` }
  if (bytes.length > LARGE_TEXT_BYTES) {
    const pieces = parseInPieces(bytes)
    if (pieces !== undefined) return { ok: true, value: pieces.value }
  }
  const text = bytes.toString('utf8')
  try {
    return { ok: true, value: JSON.parse(text) }
  } catch (error) {
    return { ok: false, message: `malformed JSON at position ${jsonErrorPosition(text, error)}` }
  }
}

const QUOTE = 0x22
const BACKSLASH = 0x5c
const OPEN_BRACE = 0x7b
const OPEN_BRACKET = 0x5b
const CLOSE_BRACE = 0x7d
const CLOSE_BRACKET = 0x5d

/**
 * The offset of the first `{` or `[` that opens level `maxDepth + 1`, or -1. Brackets inside
 * strings do not count. Malformed JSON is not this function's business (JSON.parse judges it);
 * it only has to be linear and exact for well-formed input.
 */
export function depthExceededAt(bytes: Uint8Array, maxDepth: number): number {
  const length = bytes.length
  let depth = 0
  for (let i = 0; i < length; i++) {
    const byte = bytes[i]!
    if (byte === QUOTE) {
      // Skip the string; a backslash escapes the next byte (\" and \\ included).
      for (i++; i < length; i++) {
        const inner = bytes[i]!
        if (inner === QUOTE) break
        if (inner === BACKSLASH) i++
      }
    } else if (byte === OPEN_BRACE || byte === OPEN_BRACKET) {
      if (++depth > maxDepth) return i
    } else if (byte === CLOSE_BRACE || byte === CLOSE_BRACKET) {
      depth--
    }
  }
  return -1
}
