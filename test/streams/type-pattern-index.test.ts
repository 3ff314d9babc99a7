import { describe, expect, it } from 'vitest'
import {
  compilePatterns,
  createPatternIndex,
  patternError,
  type PatternIndex,
} from '../../src/streams/type-patterns.js'

const matching = <K>(index: PatternIndex<K>, type: string): K[] => {
  const keys: K[] = []
  index.forEachMatch(type, (key) => keys.push(key))
  return keys
}

describe('createPatternIndex', () => {
  it('matches an exact type, and no other type', () => {
    const index = createPatternIndex<string>()
    index.set('a', ['page_view'])
    expect(matching(index, 'page_view')).toEqual(['a'])
    expect(matching(index, 'page_views')).toEqual([])
    expect(matching(index, 'page')).toEqual([])
  })

  it('matches a prefix at any depth below it, but not the prefix itself', () => {
    const index = createPatternIndex<string>()
    index.set('checkout', ['checkout.*'])
    index.set('a', ['a.*'])
    expect(matching(index, 'checkout.completed')).toEqual(['checkout'])
    expect(matching(index, 'checkout.step.2')).toEqual(['checkout'])
    expect(matching(index, 'a.b.c')).toEqual(['a'])
    expect(matching(index, 'checkout')).toEqual([])
    expect(matching(index, 'checkoutx.y')).toEqual([])
    expect(matching(index, 'x.checkout.y')).toEqual([])
  })

  it('matches a nested prefix only below it', () => {
    const index = createPatternIndex<string>()
    index.set('ab', ['a.b.*'])
    expect(matching(index, 'a.b.c')).toEqual(['ab'])
    expect(matching(index, 'a.b.c.d')).toEqual(['ab'])
    expect(matching(index, 'a.c')).toEqual([])
    expect(matching(index, 'a.b')).toEqual([])
  })

  it('matches every type for *', () => {
    const index = createPatternIndex<string>()
    index.set('all', ['*'])
    index.set('one', ['signup'])
    expect(matching(index, 'signup').sort()).toEqual(['all', 'one'])
    expect(matching(index, 'anything.at.all')).toEqual(['all'])
  })

  it('visits a key once when several of its patterns match', () => {
    const index = createPatternIndex<string>()
    index.set('k', ['a.*', 'a.b.*', 'a.b.c'])
    index.set('star', ['*', 'a.*'])
    expect(matching(index, 'a.b.c').sort()).toEqual(['k', 'star'])
  })

  it('replaces a key’s patterns on set, and forgets them on delete', () => {
    const index = createPatternIndex<string>()
    index.set('k', ['alpha', 'x.*'])
    index.set('k', ['beta'])
    expect(index.size).toBe(1)
    expect(matching(index, 'alpha')).toEqual([])
    expect(matching(index, 'x.y')).toEqual([])
    expect(matching(index, 'beta')).toEqual(['k'])
    index.set('k', ['*'])
    index.set('k', ['gamma'])
    expect(matching(index, 'beta')).toEqual([])
    expect(matching(index, 'delta')).toEqual([])
    expect(index.delete('k')).toBe(true)
    expect(index.delete('k')).toBe(false)
    expect(matching(index, 'gamma')).toEqual([])
    expect(index.size).toBe(0)
  })

  it('keeps other keys on a shared pattern when one is deleted', () => {
    const index = createPatternIndex<string>()
    index.set('a', ['x.*', 'y'])
    index.set('b', ['x.*', 'y'])
    index.delete('a')
    expect(matching(index, 'x.z')).toEqual(['b'])
    expect(matching(index, 'y')).toEqual(['b'])
  })

  it('skips a key that the visit deletes before its turn', () => {
    const index = createPatternIndex<string>()
    for (const key of ['a', 'b', 'c']) index.set(key, ['t'])
    const visited: string[] = []
    index.forEachMatch('t', (key) => {
      visited.push(key)
      index.delete(key === 'a' ? 'b' : key)
    })
    expect(visited).toEqual(['a', 'c'])
  })

  it('agrees with compilePatterns on every type', () => {
    const lists = [
      ['page_view', 'checkout.*'],
      ['a.*', 'a.b.*'],
      ['*'],
      ['a.b.c'],
      ['checkout.step.*', 'signup'],
      ['a:b.*', 'x/y'],
    ]
    const types = [
      'page_view',
      'checkout',
      'checkout.',
      'checkout.completed',
      'checkout.step.2',
      'a',
      'a.b',
      'a.b.c',
      'a.b.c.d',
      'a:b.c',
      'x/y',
      'signup',
      'page_views',
    ]
    const index = createPatternIndex<number>()
    lists.forEach((patterns, key) => index.set(key, patterns))
    for (const type of types) {
      const expected = lists.flatMap((patterns, key) =>
        compilePatterns(patterns)(type) ? [key] : [],
      )
      expect([type, matching(index, type).sort()]).toEqual([type, expected])
    }
  })
})

describe('compilePatterns', () => {
  it('carries the patterns it was compiled from', () => {
    expect(compilePatterns(['page_view', 'checkout.*']).patterns).toEqual([
      'page_view',
      'checkout.*',
    ])
    expect(compilePatterns(['*', 'x']).patterns).toEqual(['*', 'x'])
  })
})

describe('patternError', () => {
  it('takes types and prefixes that start with one $, and refuses $ anywhere else', () => {
    for (const pattern of ['$pageview', '$feature.*', '$exception.handled'])
      expect(patternError(pattern), pattern).toBeUndefined()
    for (const pattern of ['$*', '$', '$$pageview', '$.*', 'page$view', 'checkout.$step'])
      expect(patternError(pattern), pattern).toBeDefined()
  })

  it('matches $-types exactly and by prefix, apart from the same names without $', () => {
    const index = createPatternIndex<string>()
    index.set('posthog', ['$pageview', '$feature.*'])
    index.set('plain', ['pageview', 'feature.*'])
    expect(matching(index, '$pageview')).toEqual(['posthog'])
    expect(matching(index, '$feature.flag')).toEqual(['posthog'])
    expect(matching(index, 'feature.flag')).toEqual(['plain'])
    expect(compilePatterns(['$feature.*'])('$feature.flag')).toBe(true)
    expect(compilePatterns(['$feature.*'])('feature.flag')).toBe(false)
  })
})
