/*
 * The ClickHouse sink's retry policy, in the manner of Vector's `ClickhouseRetryLogic`: read the
 * server's error code; what will fail again for the same batch is final, what may pass later
 * (overload, timeouts, network, a replica catching up) is retried by the commit operator.
 * An error we cannot read at all is final: it is more likely a bug than an outage.
 */

/** Errors that will fail again for the same batch: retrying only burns the retry budget. */
const FINAL_CODES = new Set([
  6,
  25,
  26,
  27,
  38,
  41,
  72,
  117, // cannot parse text / escape sequence / quoted string / input, date, number; incorrect data
  8,
  16,
  47, // no such column, no such column in table, unknown identifier
  44,
  53,
  70, // illegal column, type mismatch, cannot convert type
  60,
  81, // unknown table, unknown database
  62,
  456, // syntax error, unknown query parameter
  131, // string too large
  164, // the user is read-only
  192,
  193,
  497,
  516, // unknown user, wrong password, access denied, authentication failed
])

/** Node and undici error codes of a request that never got an answer. */
const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENETDOWN',
  'EAI_AGAIN',
  'ENOTFOUND',
  'ERR_STREAM_PREMATURE_CLOSE',
  'UND_ERR_SOCKET',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
  'CHDB_TIMEOUT', // chDB's own timeout: the embedded engine was busy
])

/**
 * The ClickHouse error code of an error, wherever the client put it:
 * - current servers and chDB: `ClickHouseError.code` ('60');
 * - chDB errors the client could not parse: `cause.clickhouseCode` (60);
 * - 18.16: a plain Error, because its 'Code: 60, e.displayText() = DB::Exception: …' is a format
 *   the client's parser does not know — the code is read from the message.
 */
export function clickHouseCodeOf(error: unknown): number | undefined {
  if (!(error instanceof Error)) return undefined
  const { code } = error as { code?: unknown }
  if (typeof code === 'string' && /^\d+$/.test(code)) return Number(code)
  const { cause } = error as { cause?: { clickhouseCode?: unknown } }
  if (typeof cause?.clickhouseCode === 'number') return cause.clickhouseCode
  const match = /\bCode: (\d+)[.,]/.exec(error.message)
  return match ? Number(match[1]) : undefined
}

/** May this error go away if the same batch is written again? */
export function isRetriableClickHouseError(error: unknown): boolean {
  const code = clickHouseCodeOf(error)
  if (code !== undefined) {
    // Any other code may pass later, as Vector retries any 5xx: timeouts (159, 209), overload
    // (202, 203, 241, 252), network (210), a read-only replica (242), a system error (425), ...
    // The retry budget bounds what a wrong guess costs.
    return !FINAL_CODES.has(code)
  }
  if (!(error instanceof Error)) return false
  const { code: systemCode } = error as { code?: unknown }
  if (typeof systemCode === 'string' && NETWORK_CODES.has(systemCode)) return true
  const { cause } = error as { cause?: { code?: unknown } }
  if (typeof cause?.code === 'string' && NETWORK_CODES.has(cause.code)) return true
  // The client's own request timeout and a socket closed under it carry no code.
  return /\btimeout\b|timed out|socket hang up/i.test(error.message)
}
