import { describe, expect, it } from 'vitest'
import { loadConfig } from '../../src/app/config.js'
import { applyKeySource, createApiKeyCheck, parseApiKey } from '../../src/wire/api-keys.js'

describe('API_KEYS entries', () => {
  it('reads `name=key` as a named key, and a key ending in base64 padding as a key without a name', () => {
    expect(parseApiKey('k-123')).toEqual({ key: 'k-123' })
    expect(parseApiKey('web-app=k-123')).toEqual({ name: 'web-app', key: 'k-123' })
    expect(parseApiKey('web app = a=b')).toEqual({ name: 'web app', key: 'a=b' })
    expect(parseApiKey('c2VjcmV0IGtleQ==')).toEqual({ key: 'c2VjcmV0IGtleQ==' })
    expect(parseApiKey('=k-123')).toEqual({ key: '=k-123' })
  })

  it('refuses at start a named key whose name is too long to be a source, naming API_KEYS', () => {
    expect(() => loadConfig({ API_KEYS: `k1,${'n'.repeat(129)}=k2` })).toThrow(
      /API_KEYS: a key name must be 1 to 128 characters/,
    )
    expect(loadConfig({ API_KEYS: `k1,${'n'.repeat(128)}=k2` }).API_KEYS).toHaveLength(2)
  })

  it('identifies the holder of a named key, accepts an unnamed one without a name, and refuses others', () => {
    const check = createApiKeyCheck(['plain', 'web=named'])
    expect(check.identify('named')).toEqual({ source: 'web' })
    expect(check.identify('plain')).toEqual({})
    expect(check.identify('web=named')).toBeUndefined()
    expect(check.identify(undefined)).toBeUndefined()
    expect(createApiKeyCheck(undefined).identify(undefined)).toEqual({})
  })
})

describe('applyKeySource', () => {
  it('sets the source of event objects that carry none or an empty one, and leaves everything else as sent', () => {
    const events: unknown[] = [
      { type: 'a' },
      { type: 'b', source: 'ios' },
      { type: 'c', source: '' },
      { type: 'd', source: 5 },
      'not an event',
      null,
      [{ type: 'e' }],
    ]
    applyKeySource(events, { source: 'web' })
    expect(events).toEqual([
      { type: 'a', source: 'web' },
      { type: 'b', source: 'ios' },
      { type: 'c', source: 'web' },
      { type: 'd', source: 5 },
      'not an event',
      null,
      [{ type: 'e' }],
    ])
  })

  it('changes nothing for an unnamed key', () => {
    const events = [{ type: 'a' }]
    applyKeySource(events, {})
    expect(events).toEqual([{ type: 'a' }])
  })
})
