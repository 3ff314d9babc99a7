import { setOwnKey } from '../streams/own-key.js'

/**
 * JSON.parse of a large text in pieces, with JSON.parse's result.
 *
 * Why: V8 keeps a string of more than 128 KiB in its own mapped pages, mapped for it and unmapped
 * when it dies. A 1,000-event REST batch (~250 KB) decoded as one string cost about 1.5 ms, most of
 * it page faults (one per 4 KiB page, and they are slow on these virtual machines), against ~10 µs
 * for a 64 KiB string. So a large text is cut at the commas of its top-level array or object, and
 * each piece of at most `pieceBytes` is decoded and parsed on its own.
 *
 * Correctness: every piece goes through JSON.parse, which judges it; the cuts are only made at
 * commas outside strings at the container's own level, and a container whose pieces all parse is
 * well-formed JSON. Anything unexpected — a piece that does not parse, brackets that do not balance,
 * an empty member, a key written with escapes — makes the caller parse the whole text instead
 * (`undefined` here), so errors and their positions are JSON.parse's own.
 */
export function parseInPieces(
  bytes: Uint8Array & { toString(encoding: 'utf8', start: number, end: number): string },
  pieceBytes = 32 * 1024,
): { readonly value: unknown } | undefined {
  try {
    return { value: parseRange(bytes, 0, bytes.length, pieceBytes) }
  } catch {
    return undefined
  }
}

type Bytes = Parameters<typeof parseInPieces>[0]

const QUOTE = 0x22
const BACKSLASH = 0x5c
const COMMA = 0x2c
const COLON = 0x3a
const OPEN_BRACE = 0x7b
const CLOSE_BRACE = 0x7d
const OPEN_BRACKET = 0x5b
const CLOSE_BRACKET = 0x5d

/** Thrown where the whole text must be parsed instead. */
const UNEXPECTED = new Error('parse the whole text')

/**
 * How far down pieces are cut: a batch's envelope and its array of events (`{"events":[…]}`). Every
 * level cut is one more scan of its text; cutting at every level of a hostile 5 MiB body nested 62
 * deep cost 1.25 s (1.6 s with the whole-text parse after a piece that fails), against 0.15 s for
 * JSON.parse of the whole; cut two levels down, 0.16 s (0.5 s).
 */
const MAX_CUT_DEPTH = 2
/**
 * More members than this in one container are parsed whole: a batch has at most BATCH_MAX_EVENTS,
 * and a 5 MiB array of `1,1,…` cut into 2.6 million pieces cost 0.72 s, twice one JSON.parse.
 */
const MAX_CUTS = 16 * 1024

function parseRange(
  bytes: Bytes,
  start: number,
  end: number,
  pieceBytes: number,
  depth = 0,
): unknown {
  if (end - start <= pieceBytes || depth >= MAX_CUT_DEPTH)
    return JSON.parse(bytes.toString('utf8', start, end))
  const first = skipSpace(bytes, start, end)
  const last = trimSpace(bytes, first, end) - 1
  if (bytes[first] === OPEN_BRACKET && bytes[last] === CLOSE_BRACKET)
    return parseArray(bytes, first, last, pieceBytes, depth)
  if (bytes[first] === OPEN_BRACE && bytes[last] === CLOSE_BRACE)
    return parseObject(bytes, first, last, pieceBytes, depth)
  throw UNEXPECTED // a scalar this long: a huge string or number, rare enough to parse whole
}

/** The elements of the array whose brackets are at `open` and `close`, parsed a group of neighbours at a time. */
function parseArray(
  bytes: Bytes,
  open: number,
  close: number,
  pieceBytes: number,
  depth: number,
): unknown[] {
  const out: unknown[] = []
  const cuts = commas(bytes, open + 1, close)
  if (cuts.length === 0 && skipSpace(bytes, open + 1, close) === close) return out
  let from = open + 1
  for (let i = 0; i <= cuts.length; i++) {
    const to = i < cuts.length ? cuts[i]! : close
    const next = i + 1 < cuts.length ? cuts[i + 1]! : close
    // Close the group here if the next element would make it too long, or at the end.
    if (i === cuts.length || next - from > pieceBytes) {
      // An empty element (`[a, , b]`) would parse as an empty group here: JSON.parse must judge it.
      if (skipSpace(bytes, from, to) === to) throw UNEXPECTED
      if (to - from > pieceBytes) out.push(parseRange(bytes, from, to, pieceBytes, depth + 1))
      else {
        const group = JSON.parse(`[${bytes.toString('utf8', from, to)}]`) as unknown[]
        for (const element of group) out.push(element)
      }
      from = to + 1
    }
  }
  return out
}

/** The members of the object whose braces are at `open` and `close`, each parsed on its own. */
function parseObject(
  bytes: Bytes,
  open: number,
  close: number,
  pieceBytes: number,
  depth: number,
): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  const cuts = commas(bytes, open + 1, close)
  if (cuts.length === 0 && skipSpace(bytes, open + 1, close) === close) return out
  let from = open + 1
  for (let i = 0; i <= cuts.length; i++) {
    const to = i < cuts.length ? cuts[i]! : close
    const keyStart = skipSpace(bytes, from, to)
    if (bytes[keyStart] !== QUOTE) throw UNEXPECTED
    const keyEnd = stringEnd(bytes, keyStart, to)
    const colon = skipSpace(bytes, keyEnd, to)
    if (bytes[colon] !== COLON) throw UNEXPECTED
    const key = JSON.parse(bytes.toString('utf8', keyStart, keyEnd)) as string
    const value = parseRange(bytes, colon + 1, to, pieceBytes, depth + 1)
    // As JSON.parse does: `__proto__` is an own key, never the prototype; a repeated key's last value wins.
    setOwnKey(out, key, value)
    from = to + 1
  }
  return out
}

/** The commas in [from, to) outside strings and outside nested containers. */
function commas(bytes: Bytes, from: number, to: number): number[] {
  const cuts: number[] = []
  let depth = 0
  for (let i = from; i < to; i++) {
    const byte = bytes[i]!
    if (byte === QUOTE) i = stringEnd(bytes, i, to) - 1
    else if (byte === OPEN_BRACE || byte === OPEN_BRACKET) depth++
    else if (byte === CLOSE_BRACE || byte === CLOSE_BRACKET) {
      if (--depth < 0) throw UNEXPECTED
    } else if (byte === COMMA && depth === 0) {
      if (cuts.length === MAX_CUTS) throw UNEXPECTED
      cuts.push(i)
    }
  }
  if (depth !== 0) throw UNEXPECTED
  return cuts
}

/** The index just past the string whose opening quote is at `at`. */
function stringEnd(bytes: Bytes, at: number, to: number): number {
  for (let i = at + 1; i < to; i++) {
    const byte = bytes[i]!
    if (byte === QUOTE) return i + 1
    if (byte === BACKSLASH) i++
  }
  throw UNEXPECTED
}

function isSpace(byte: number | undefined): boolean {
  return byte === 0x20 || byte === 0x0a || byte === 0x0d || byte === 0x09
}

function skipSpace(bytes: Bytes, from: number, to: number): number {
  while (from < to && isSpace(bytes[from])) from++
  return from
}

function trimSpace(bytes: Bytes, from: number, to: number): number {
  while (to > from && isSpace(bytes[to - 1])) to--
  return to
}
