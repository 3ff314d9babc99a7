import { ClickHouseError } from '@clickhouse/client'
import { describe, expect, it } from 'vitest'
import {
  clickHouseCodeOf,
  isRetriableClickHouseError,
} from '../../../src/adapters/clickhouse/clickhouse-retry.js'

// The three shapes errors really arrive in (seen against 18.16, chDB 26 and a closed port).
const modern = (code: number, type: string) =>
  new ClickHouseError({ message: `${type} happened`, code: String(code), type })
const debian = (code: number) =>
  new Error(`Code: ${code}, e.displayText() = DB::Exception: something, e.what() = DB::Exception\n`)
const chdbCause = (code: number) =>
  Object.assign(new Error('wrapped'), { cause: { clickhouseCode: code, code: 'CHDB_QUERY' } })
const system = (code: string) => Object.assign(new Error(`connect ${code} 127.0.0.1:1`), { code })

describe('ClickHouse retry policy', () => {
  it('reads the code from a ClickHouseError, an 18.16 message and a chDB cause', () => {
    expect(clickHouseCodeOf(modern(60, 'UNKNOWN_TABLE'))).toBe(60)
    expect(clickHouseCodeOf(debian(53))).toBe(53)
    expect(clickHouseCodeOf(chdbCause(27))).toBe(27)
    expect(clickHouseCodeOf(new Error('Code: 252. DB::Exception: Too many parts'))).toBe(252)
    expect(clickHouseCodeOf(system('ECONNREFUSED'))).toBeUndefined()
    expect(clickHouseCodeOf('Code: 60,')).toBeUndefined()
  })

  it.each([6, 16, 26, 27, 53, 60, 62, 81, 117, 192, 193, 497, 516])(
    'calls code %i final in every shape',
    (code) => {
      expect(isRetriableClickHouseError(modern(code, 'X'))).toBe(false)
      expect(isRetriableClickHouseError(debian(code))).toBe(false)
      expect(isRetriableClickHouseError(chdbCause(code))).toBe(false)
    },
  )

  it.each([159, 202, 209, 210, 241, 242, 252, 425])(
    'calls code %i retriable in every shape',
    (code) => {
      expect(isRetriableClickHouseError(modern(code, 'X'))).toBe(true)
      expect(isRetriableClickHouseError(debian(code))).toBe(true)
      expect(isRetriableClickHouseError(chdbCause(code))).toBe(true)
    },
  )

  it.each(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EAI_AGAIN', 'CHDB_TIMEOUT'])(
    'calls a %s network failure retriable',
    (code) => {
      expect(isRetriableClickHouseError(system(code))).toBe(true)
    },
  )

  it('calls the client timeout and a hung-up socket retriable', () => {
    expect(isRetriableClickHouseError(new Error('Timeout error.'))).toBe(true)
    expect(isRetriableClickHouseError(new Error('socket hang up'))).toBe(true)
  })

  it('calls what it cannot read final: more likely a bug than an outage', () => {
    expect(isRetriableClickHouseError(new TypeError('cannot read properties of undefined'))).toBe(
      false,
    )
    expect(isRetriableClickHouseError('a string')).toBe(false)
    expect(isRetriableClickHouseError(undefined)).toBe(false)
  })
})
