/** 2100-01-01T00:00:00.000Z: the first instant out of API.md §1's range. */
export const MAX_TIMESTAMP_MS = 4_102_444_800_000

/**
 * Epoch milliseconds of an RFC 3339 date-time (`2026-11-26T10:00:00.123Z`, `T`, `t` or a space
 * between date and time, `Z`, `z` or `±hh:mm`), or undefined when it is not one, names a day the
 * calendar has not (2026-02-30), or falls outside 1970 up to 2100. Digits past milliseconds are
 * dropped, not rounded.
 *
 * Read character by character, with no regular expression and no Date: the SDK endpoints parse a
 * timestamp or two per message (API.md §9), and this ran at several microseconds each.
 */
export function parseRfc3339(text: string): number | undefined {
  const epoch = rfc3339Epoch(text)
  return epoch !== undefined && epoch >= 0 && epoch < MAX_TIMESTAMP_MS ? epoch : undefined
}

/** The instant an RFC 3339 date-time names, in epoch milliseconds, before 1970 and past 2100 too. */
export function rfc3339Epoch(text: string): number | undefined {
  const length = text.length
  if (length < 20) return undefined
  const year = digits(text, 0, 4)
  const month = digits(text, 5, 2)
  const day = digits(text, 8, 2)
  const hour = digits(text, 11, 2)
  const minute = digits(text, 14, 2)
  const second = digits(text, 17, 2)
  if (
    year < 0 ||
    month < 1 ||
    month > 12 ||
    day < 1 ||
    day > daysInMonth(year, month) ||
    hour < 0 ||
    hour > 23 ||
    minute < 0 ||
    minute > 59 ||
    second < 0 ||
    second > 59 ||
    text.charCodeAt(4) !== DASH ||
    text.charCodeAt(7) !== DASH ||
    !isDateTimeSeparator(text.charCodeAt(10)) ||
    text.charCodeAt(13) !== COLON ||
    text.charCodeAt(16) !== COLON
  )
    return undefined
  let at = 19
  let ms = 0
  if (text.charCodeAt(at) === DOT) {
    const start = ++at
    while (at < length && isDigit(text.charCodeAt(at))) {
      if (at - start < 3) ms = ms * 10 + (text.charCodeAt(at) - ZERO)
      at++
    }
    if (at === start) return undefined
    for (let kept = at - start; kept < 3; kept++) ms *= 10
  }
  let offsetMinutes: number
  const zone = text.charCodeAt(at)
  if (zone === UPPER_Z || zone === LOWER_Z) {
    if (at + 1 !== length) return undefined
    offsetMinutes = 0
  } else if (zone === PLUS || zone === DASH) {
    if (at + 6 !== length || text.charCodeAt(at + 3) !== COLON) return undefined
    const hours = digits(text, at + 1, 2)
    const minutes = digits(text, at + 4, 2)
    // Date.parse, which this replaces, refused offsets past 23:59.
    if (hours < 0 || hours > 23 || minutes < 0 || minutes > 59) return undefined
    offsetMinutes = (zone === PLUS ? 1 : -1) * (hours * 60 + minutes)
  } else return undefined
  return (
    ((daysFromCivil(year, month, day) * 24 + hour) * 60 + minute - offsetMinutes) * 60_000 +
    second * 1000 +
    ms
  )
}

const ZERO = 48
const DASH = 45
const PLUS = 43
const COLON = 58
const DOT = 46
const SPACE = 32
const UPPER_T = 84
const LOWER_T = 116
const UPPER_Z = 90
const LOWER_Z = 122

const isDigit = (code: number) => code >= ZERO && code <= ZERO + 9
const isDateTimeSeparator = (code: number) => code === UPPER_T || code === LOWER_T || code === SPACE

/** The number `count` decimal digits at `from` spell, or -1 when one of them is not a digit. */
function digits(text: string, from: number, count: number): number {
  let value = 0
  for (let i = from; i < from + count; i++) {
    const code = text.charCodeAt(i)
    if (!isDigit(code)) return -1
    value = value * 10 + (code - ZERO)
  }
  return value
}

function daysInMonth(year: number, month: number): number {
  if (month === 2) return year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0) ? 29 : 28
  return month === 4 || month === 6 || month === 9 || month === 11 ? 30 : 31
}

/** Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's days_from_civil). */
function daysFromCivil(year: number, month: number, day: number): number {
  const y = month <= 2 ? year - 1 : year
  const era = Math.floor(y / 400)
  const yearOfEra = y - era * 400
  const dayOfYear = Math.floor((153 * (month + (month > 2 ? -3 : 9)) + 2) / 5) + day - 1
  const dayOfEra =
    yearOfEra * 365 + Math.floor(yearOfEra / 4) - Math.floor(yearOfEra / 100) + dayOfYear
  return era * 146_097 + dayOfEra - 719_468
}
