import { toClickHouseTime } from './clickhouse-time.js'

export const TAB = 0x09
export const NEWLINE = 0x0a
const BACKSLASH = 0x5c
const ZERO = 0x30

/** The bytes of a chunk of rows; a field longer than a chunk gets a buffer of its own size. */
const CHUNK_BYTES = 64 * 1024
/** Fields up to this long are copied a character at a time; longer ones by the native encoder. */
const SHORT_FIELD = 48

/**
 * TabSeparated text written straight into byte buffers: no string per row, no concatenation of a
 * chunk's rows, no flattening before encoding. A batch of rows used to allocate about 1 KB of
 * short-lived strings per event (the row's template, the times, the chunk's concatenation); at
 * tens of thousands of events a second, that garbage was a good part of the young generation's
 * collections. Short ASCII fields are copied byte by byte in JavaScript (a call into the native
 * encoder costs more than copying them); the rest, and every field that needs escaping, go
 * through `Buffer.write` once.
 */
export class TsvWriter {
  private readonly chunks: Buffer[] = []
  private chunk: Buffer = Buffer.allocUnsafe(CHUNK_BYTES)
  private at = 0
  // The dates of the last two days met: a row has two times (sent, received), often of two days.
  private days = [Number.NaN, Number.NaN]
  private dates = [new Uint8Array(10), new Uint8Array(10)]

  /** A field, escaped as TabSeparated escapes it, then `end` (a tab, or the row's newline). */
  field(value: string, end: number = TAB): void {
    const length = value.length
    if (length <= SHORT_FIELD) {
      this.room(length + 1)
      const { chunk } = this
      let at = this.at
      for (let i = 0; i < length; i++) {
        const code = value.charCodeAt(i)
        // Past ASCII, or a byte TabSeparated escapes: the whole field takes the general path.
        if (code >= 0x80 || code === BACKSLASH || (code < 0x0e && isSpecial(code)))
          return this.encoded(tsv(value), end)
        chunk[at++] = code
      }
      chunk[at++] = end
      this.at = at
      return
    }
    this.encoded(tsv(value), end)
  }

  /**
   * JSON text as a field. JSON writes every control character escaped (\t, \n, \u0000), so of the
   * bytes TabSeparated escapes only the backslash can be in it.
   */
  json(value: string, end: number = TAB): void {
    this.encoded(value.includes('\\') ? value.replaceAll('\\', '\\\\') : value, end)
  }

  /** An absent value: an empty field. */
  empty(end: number = TAB): void {
    this.room(1)
    this.chunk[this.at++] = end
  }

  /**
   * A time as ClickHouse reads DateTime64 from text, `YYYY-MM-DD hh:mm:ss.mmm` (UTC): the date's
   * bytes are made once per day met, the rest are digits written in place. Times outside what a
   * stored event may hold (negative, fractional, past 9999) are written from `Date`.
   */
  time(ms: number, end: number = TAB): void {
    if (!Number.isInteger(ms) || ms < 0 || ms >= MAX_FOUR_DIGIT_YEAR_MS)
      return this.encoded(toClickHouseTime(ms), end)
    let rest = ms % DAY_MS
    const date = this.dateOf(ms - rest)
    this.room(24)
    const { chunk } = this
    let at = this.at
    for (let i = 0; i < 10; i++) chunk[at + i] = date[i]!
    at += 10
    const hours = Math.floor(rest / 3_600_000)
    rest -= hours * 3_600_000
    const minutes = Math.floor(rest / 60_000)
    rest -= minutes * 60_000
    const seconds = Math.floor(rest / 1000)
    const millis = rest - seconds * 1000
    chunk[at++] = 0x20
    at = twoDigits(chunk, at, hours)
    chunk[at++] = 0x3a
    at = twoDigits(chunk, at, minutes)
    chunk[at++] = 0x3a
    at = twoDigits(chunk, at, seconds)
    chunk[at++] = 0x2e
    chunk[at++] = ZERO + Math.floor(millis / 100)
    chunk[at++] = ZERO + (Math.floor(millis / 10) % 10)
    chunk[at++] = ZERO + (millis % 10)
    chunk[at++] = end
    this.at = at
  }

  /**
   * A non-negative integer in decimal (epoch milliseconds, for a server without DateTime64):
   * digits written in place, not a string made by String() and copied. Anything else (negative,
   * fractional, past 2^53) is written from String().
   */
  integer(value: number, end: number = TAB): void {
    if (!Number.isSafeInteger(value) || value < 0) return this.encoded(String(value), end)
    let digits = 1
    for (let rest = value; rest >= 10; rest = Math.floor(rest / 10)) digits++
    this.room(digits + 1)
    const { chunk } = this
    let at = this.at + digits
    chunk[at] = end
    this.at = at + 1
    let rest = value
    do {
      const next = Math.floor(rest / 10)
      chunk[--at] = ZERO + (rest - next * 10)
      rest = next
    } while (rest > 0)
  }

  /** Every byte written, in chunks of at most CHUNK_BYTES (but for a longer field's own). */
  done(): Buffer[] {
    if (this.at > 0) this.chunks.push(this.chunk.subarray(0, this.at))
    this.at = 0
    return this.chunks
  }

  /** The bytes of `YYYY-MM-DD` for the day starting at `day` (ms), made once per day met. */
  private dateOf(day: number): Uint8Array {
    const { days, dates } = this
    if (day === days[0]) return dates[0]!
    if (day !== days[1]) {
      days[1] = day
      const text = new Date(day).toISOString()
      for (let i = 0; i < 10; i++) dates[1]![i] = text.charCodeAt(i)
    }
    // the day just met goes first, the other one second
    days.reverse()
    dates.reverse()
    return dates[0]!
  }

  private encoded(text: string, end: number): void {
    // A UTF-16 unit is at most three bytes of UTF-8.
    this.room(text.length * 3 + 1)
    this.at += this.chunk.write(text, this.at)
    this.chunk[this.at++] = end
  }

  /** Makes room for `bytes` more in the current chunk, starting a new one if they do not fit. */
  private room(bytes: number): void {
    if (this.at + bytes <= this.chunk.length) return
    if (this.at > 0) this.chunks.push(this.chunk.subarray(0, this.at))
    this.chunk = Buffer.allocUnsafe(Math.max(CHUNK_BYTES, bytes))
    this.at = 0
  }
}

const DAY_MS = 86_400_000
/** 10000-01-01T00:00:00Z: toISOString writes a six-digit, signed year from there on. */
const MAX_FOUR_DIGIT_YEAR_MS = 253_402_300_800_000

function twoDigits(chunk: Buffer, at: number, value: number): number {
  chunk[at] = ZERO + Math.floor(value / 10)
  chunk[at + 1] = ZERO + (value % 10)
  return at + 2
}

/** \0, \t, \n, \r: the control characters TabSeparated escapes (the backslash is checked apart). */
function isSpecial(code: number): boolean {
  return code === 0x00 || code === TAB || code === NEWLINE || code === 0x0d
}

const TSV_SPECIAL = /[\\\t\n\r\0]/
const TSV_SPECIAL_ALL = new RegExp(TSV_SPECIAL.source, 'g')
const TSV_ESCAPES: Record<string, string> = {
  '\\': '\\\\',
  '\t': '\\t',
  '\n': '\\n',
  '\r': '\\r',
  '\0': '\\0',
}

/** A string as a TabSeparated field: the bytes that would end or confuse a field, escaped. */
export function tsv(value: string): string {
  return TSV_SPECIAL.test(value) ? value.replace(TSV_SPECIAL_ALL, (c) => TSV_ESCAPES[c]!) : value
}
