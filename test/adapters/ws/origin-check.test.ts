import type { IncomingMessage } from 'node:http'
import { describe, expect, it } from 'vitest'
import { createOriginCheck } from '../../../src/adapters/ws/origin-check.js'

const upgrade = (headers: Record<string, string>) => ({ headers }) as unknown as IncomingMessage
const HTTP_PORT = 3001

describe('WebSocket upgrade origins (API.md §4)', () => {
  it('lets clients that send no Origin (servers, SDKs) through, whatever is configured', () => {
    for (const allowed of [undefined, ['https://app.example']]) {
      expect(createOriginCheck(allowed, () => HTTP_PORT)(upgrade({ host: 'sluice:8080' }))).toBe(
        true,
      )
    }
  })

  it("without CORS_ORIGINS allows only Sluice's own HTTP origin: the upgrade's host name on the REST port", () => {
    const allowed = createOriginCheck(undefined, () => HTTP_PORT)
    expect(allowed(upgrade({ host: 'localhost:8080', origin: 'http://localhost:3001' }))).toBe(true)
    expect(allowed(upgrade({ host: 'LOCALHOST:8080', origin: 'http://localhost:3001' }))).toBe(true)
    expect(allowed(upgrade({ host: 'localhost:8080', origin: 'https://localhost:3001' }))).toBe(
      true,
    )
    expect(allowed(upgrade({ host: 'localhost:8080', origin: 'http://evil.example' }))).toBe(false)
    expect(allowed(upgrade({ host: 'localhost:8080', origin: 'http://localhost:8080' }))).toBe(
      false,
    )
    expect(allowed(upgrade({ host: 'localhost:8080', origin: 'http://localhost:4000' }))).toBe(
      false,
    )
    expect(
      allowed(upgrade({ host: 'localhost:8080', origin: 'http://localhost.evil.example:3001' })),
    ).toBe(false)
    expect(allowed(upgrade({ host: 'localhost:8080', origin: 'null' }))).toBe(false)
    expect(allowed(upgrade({ host: 'localhost:8080', origin: 'file://' }))).toBe(false)
    expect(allowed(upgrade({ origin: 'http://localhost:3001' }))).toBe(false)
    // before the REST port is known nothing is its origin
    expect(
      createOriginCheck(
        undefined,
        () => undefined,
      )(upgrade({ host: 'localhost:8080', origin: 'http://localhost:3001' })),
    ).toBe(false)
  })

  it('with CORS_ORIGINS allows exactly those origins, as browsers write them', () => {
    const allowed = createOriginCheck(
      ['https://app.example', 'http://localhost:5173/'],
      () => HTTP_PORT,
    )
    expect(allowed(upgrade({ host: 'sluice:8080', origin: 'https://app.example' }))).toBe(true)
    expect(allowed(upgrade({ host: 'sluice:8080', origin: 'HTTPS://APP.EXAMPLE' }))).toBe(true)
    expect(allowed(upgrade({ host: 'sluice:8080', origin: 'http://localhost:5173' }))).toBe(true)
    expect(allowed(upgrade({ host: 'sluice:8080', origin: 'https://app.example.evil' }))).toBe(
      false,
    )
    expect(allowed(upgrade({ host: 'sluice:3001', origin: 'http://sluice:3001' }))).toBe(false)
  })

  it('with CORS_ORIGINS=* allows any page', () => {
    expect(
      createOriginCheck(
        ['*'],
        () => HTTP_PORT,
      )(upgrade({ host: 'sluice:8080', origin: 'https://anything.example' })),
    ).toBe(true)
  })
})
