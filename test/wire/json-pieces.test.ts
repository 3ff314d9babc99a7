import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { jsonErrorPosition } from '../../src/wire/json-error-position.js'
import { parseInPieces } from '../../src/wire/json-pieces.js'
import { parseJsonText } from '../../src/wire/json-text.js'

/** JSON.parse's verdict on a text: its value, or that it threw. */
function wholeParse(text: string): { ok: true; value: unknown } | { ok: false } {
  try {
    return { ok: true, value: JSON.parse(text) as unknown }
  } catch {
    return { ok: false }
  }
}

/** JSON text with whitespace between its tokens, as clients send it. */
const spaced = fc
  .tuple(fc.jsonValue({ maxDepth: 4 }), fc.constantFrom('', ' ', '\n', '\t', ' \r\n '))
  .map(([value, space]) => ({
    value,
    text: space + (JSON.stringify(value, null, space.includes('\n') ? 1 : 0) ?? 'null') + space,
  }))

describe('parseInPieces', () => {
  it('gives JSON.parse’s value for any JSON, whatever the piece size', () => {
    fc.assert(
      fc.property(spaced, fc.integer({ min: 1, max: 64 }), ({ text }, pieceBytes) => {
        const pieces = parseInPieces(Buffer.from(text), pieceBytes)
        const whole = wholeParse(text)
        // The pieces may give up (the caller then parses the whole text), but never disagree.
        if (pieces !== undefined) expect(whole).toEqual({ ok: true, value: pieces.value })
      }),
      { numRuns: 3000 },
    )
  })

  it('never accepts what JSON.parse refuses: texts with bytes cut out, doubled or swapped', () => {
    const mutated = fc
      .tuple(spaced, fc.nat(), fc.constantFrom('cut', 'double', 'comma', 'bracket', 'quote'))
      .map(([{ text }, at, how]) => {
        const i = text.length === 0 ? 0 : at % text.length
        if (how === 'cut') return text.slice(0, i) + text.slice(i + 1)
        if (how === 'double') return text.slice(0, i) + text[i] + text.slice(i)
        const insert = how === 'comma' ? ',' : how === 'bracket' ? ']' : '"'
        return text.slice(0, i) + insert + text.slice(i)
      })
    fc.assert(
      fc.property(mutated, fc.integer({ min: 1, max: 32 }), (text, pieceBytes) => {
        const pieces = parseInPieces(Buffer.from(text), pieceBytes)
        if (pieces !== undefined)
          expect(wholeParse(text)).toEqual({ ok: true, value: pieces.value })
      }),
      { numRuns: 5000 },
    )
  })

  it('keeps `__proto__` an own key and the last of repeated keys, as JSON.parse does', () => {
    const text = `{"__proto__": {"polluted": true}, "a": 1, "a": [2, 3], "b": ${'1,'.repeat(40)}1}`
    const fixed = text.replace(/"b": .*}$/, '"b": [1]}')
    const pieces = parseInPieces(Buffer.from(fixed), 8)!
    expect(pieces.value).toEqual(JSON.parse(fixed))
    expect(Object.getPrototypeOf(pieces.value)).toBe(Object.prototype)
    expect(Object.hasOwn(pieces.value as object, '__proto__')).toBe(true)
  })

  it('refuses an empty element between large neighbours, which a group of its own would hide', () => {
    const big = JSON.stringify('x'.repeat(40))
    expect(parseInPieces(Buffer.from(`[${big}, ,${big}]`), 16)).toBeUndefined()
    expect(parseInPieces(Buffer.from(`[${big}, ${big},]`), 16)).toBeUndefined()
    expect(parseInPieces(Buffer.from(`{"a": ${big},}`), 16)).toBeUndefined()
  })
})

describe('parseJsonText of a large batch', () => {
  const batch = {
    events: Array.from({ length: 2000 }, (_, i) => ({
      id: `e-${i}`,
      type: 'page_view',
      properties: { path: `/p/${i}`, text: 'é😀\\"\t'.repeat(i % 7) },
    })),
  }

  it('parses a body past 64 KiB to the same value, and reports a malformed one where JSON.parse does', () => {
    const text = JSON.stringify(batch)
    expect(text.length).toBeGreaterThan(128 * 1024)
    expect(parseJsonText(Buffer.from(text))).toEqual({ ok: true, value: batch })
    const broken = `${text.slice(0, 100_000)}}${text.slice(100_000)}`
    let position = -1
    try {
      JSON.parse(broken)
    } catch (error) {
      position = jsonErrorPosition(broken, error)
    }
    expect(position).toBeGreaterThanOrEqual(100_000)
    expect(parseJsonText(Buffer.from(broken))).toEqual({
      ok: false,
      message: `malformed JSON at position ${position}`,
    })
  })

  it('cuts only a batch envelope and its array: deeper containers, and arrays of over 16,384 members, are parsed whole', () => {
    // Nested 40 deep, each level large: cutting every level scanned the text once a level.
    let deep: unknown = Array.from({ length: 3000 }, (_, i) => ({ n: i, s: 'x'.repeat(20) }))
    for (let i = 0; i < 40; i++) deep = i % 2 ? { k: deep } : [deep, 1]
    const deepText = Buffer.from(JSON.stringify(deep))
    const scanned: number[] = []
    const counting = new Proxy(deepText, {
      get(target, key) {
        if (typeof key === 'string' && /^\d+$/.test(key)) scanned.push(Number(key))
        const value = Reflect.get(target, key) as unknown
        return typeof value === 'function' ? value.bind(target) : value
      },
    })
    expect(parseInPieces(counting, 4096)).toEqual({ value: deep })
    // each byte read by at most the two levels cut (and the space trims around them)
    expect(scanned.length).toBeLessThan(3 * deepText.length)
    const flat = Buffer.from(JSON.stringify(Array.from({ length: 20_000 }, () => 1)))
    expect(parseInPieces(flat, 4096)).toBeUndefined()
  })
})
