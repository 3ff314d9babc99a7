import { describe, expect, it } from 'vitest'
import {
  dialectForColumnType,
  dialectForVersion,
  fromRow,
  quoteIdentifier,
  quoteString,
  sqlInteger,
  sqlTime,
  tabSeparatedRows,
  tsv,
} from '../../../src/adapters/clickhouse/clickhouse-schema.js'
import type { AcceptedEvent } from '../../../src/streams/event.js'

const text = (chunks: Buffer[]) => Buffer.concat(chunks).toString('utf8')

describe('ClickHouse schema helpers', () => {
  it('picks DateTime64 from version 20 on, epoch milliseconds before', () => {
    expect(dialectForVersion('18.16.1')).toBe('epoch-ms')
    expect(dialectForVersion('19.17.6.36')).toBe('epoch-ms')
    expect(dialectForVersion('20.1.2.4')).toBe('datetime64')
    expect(dialectForVersion('26.7.2.1')).toBe('datetime64')
    expect(dialectForColumnType("DateTime64(3, 'UTC')")).toBe('datetime64')
    expect(dialectForColumnType('UInt64')).toBe('epoch-ms')
  })

  it('quotes a string so that nothing in it ends the literal', () => {
    expect(quoteString("x' OR 1=1 --")).toBe("'x\\' OR 1=1 --'")
    expect(quoteString("x\\' OR 1=1")).toBe("'x\\\\\\' OR 1=1'")
    expect(quoteString('a\nb\rc\0d')).toBe("'a\\nb\\rc\\0d'")
    expect(quoteString('page_view')).toBe("'page_view'")
  })

  it('refuses identifiers and integers that are not plain', () => {
    expect(quoteIdentifier('raw_events')).toBe('`raw_events`')
    expect(() => quoteIdentifier('raw`; DROP')).toThrow(/identifier/)
    expect(() => quoteIdentifier('')).toThrow(/identifier/)
    expect(sqlInteger(1795687200123)).toBe('1795687200123')
    for (const bad of [1.5, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 53])
      expect(() => sqlInteger(bad)).toThrow(/integer/)
  })

  it('writes times as text for DateTime64 and as integers before it', () => {
    const ms = Date.parse('2026-11-26T10:00:00.123Z')
    expect(sqlTime(ms, 'datetime64')).toBe("toDateTime64('2026-11-26 10:00:00.123', 3, 'UTC')")
    expect(sqlTime(ms, 'epoch-ms')).toBe('1795687200123')
  })

  it('writes a batch as TabSeparated rows in both dialects, separators escaped', () => {
    const event: AcceptedEvent = {
      id: 'e\t1',
      type: 't',
      timestamp: 1795687200123,
      receivedAt: 1795687201456,
      userId: 'u\\',
      properties: { a: ['x\ny'] },
      transport: 'ws',
    }
    const bare: AcceptedEvent = {
      id: 'e2',
      type: 't',
      timestamp: 1795687200123,
      receivedAt: 1795687201456,
      transport: 'rest',
    }
    expect(text(tabSeparatedRows([{ event }, { event: bare }], 'epoch-ms'))).toBe(
      'e\\t1\tt\t1795687200123\t1795687201456\t\tu\\\\\t\t{"a":["x\\\\ny"]}\tws\n' +
        'e2\tt\t1795687200123\t1795687201456\t\t\t\t\trest\n',
    )
    expect(text(tabSeparatedRows([{ event: bare }], 'datetime64'))).toBe(
      'e2\tt\t2026-11-26 10:00:00.123\t2026-11-26 10:00:01.456\t\t\t\t\trest\n',
    )
    // Rows past one buffer, multi-byte text included, go on in the next.
    const big = Array.from({ length: 3000 }, (_, i): AcceptedEvent => ({
      ...bare,
      id: `e${i}`,
      properties: { text: 'é😀'.repeat(100) },
    }))
    const lines = text(
      tabSeparatedRows(
        big.map((event) => ({ event })),
        'epoch-ms',
      ),
    ).split('\n')
    expect(lines).toHaveLength(3001)
    expect(lines[2999]).toBe(
      `e2999\tt\t1795687200123\t1795687201456\t\t\t\t{"text":"${'é😀'.repeat(100)}"}\trest`,
    )
    // The pipeline's rows: fields apart, properties as text; their `event` is built only when read.
    const pipelineRow = {
      fields: { ...bare, userId: 'u\t' },
      propertiesText: '{"a":"b\\\\c"}',
      get event(): AcceptedEvent {
        throw new Error('the sink read the event, not the fields')
      },
    }
    expect(text(tabSeparatedRows([pipelineRow], 'epoch-ms'))).toBe(
      'e2\tt\t1795687200123\t1795687201456\t\tu\\t\t\t{"a":"b\\\\\\\\c"}\trest\n',
    )
    expect(tsv('plain')).toBe('plain')
    expect(tsv('\0\r')).toBe('\\0\\r')
  })

  it('reads rows back, 18.16 quoting of 64-bit integers included', () => {
    const event: AcceptedEvent = {
      id: 'e1',
      type: 't',
      timestamp: 1795687200123,
      receivedAt: 1795687201456,
      userId: 'u',
      properties: { a: [1] },
      transport: 'ws',
    }
    const row = {
      id: 'e1',
      type: 't',
      source: '',
      user_id: 'u',
      session_id: '',
      properties: '{"a":[1]}',
      transport: 'ws',
    }
    expect(
      fromRow({
        ...row,
        timestamp: '2026-11-26 10:00:00.123',
        received_at: '2026-11-26 10:00:01.456',
      }),
    ).toStrictEqual(event)
    expect(fromRow({ ...row, timestamp: 1795687200123, received_at: 1795687201456 })).toStrictEqual(
      event,
    )
    expect(
      fromRow({ ...row, timestamp: '1795687200123', received_at: '1795687201456' }),
    ).toStrictEqual(event)
  })
})
