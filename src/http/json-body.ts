import type { Context } from 'hono'
import { ApiError } from './errors.js'
import { parseJsonText } from '../wire/json-text.js'
import { quote } from '../streams/quote.js'

const JSON_TYPE = /^application\/(?:[\w.+-]+\+)?json\s*(?:;|$)/i
const CHARSET = /;\s*charset\s*=\s*"?([^";\s]*)/i

export interface JsonBody {
  readonly value: unknown
  /** bytes of the body as read (inflated, for gzip): what admission counts the events it holds by */
  readonly bytes: number
}

export interface JsonBodyOptions {
  /**
   * Read the body as JSON whatever its Content-Type says: analytics SDKs label JSON `text/plain`
   * (a CORS-simple request, no preflight) or `application/x-www-form-urlencoded` (RudderStack's gzip).
   */
  readonly anyContentType?: boolean
  /**
   * Inflate a body that starts with gzip's magic bytes although no Content-Encoding says so
   * (posthog-js `?compression=gzip-js`, RudderStack); JSON never starts with 0x1f, so nothing is misread.
   */
  readonly sniffGzip?: boolean
}

const GZIP_MAGIC = [0x1f, 0x8b] as const

/**
 * Reads a request body as JSON under API.md §3's rules: a content type other than JSON, or a charset
 * other than UTF-8, is 415 (a missing one is read as JSON); a body over `maxBytes` is 413, decided
 * while streaming so that the rest is never read; `Content-Encoding: gzip` is inflated with the same
 * limit on the compressed and on the inflated bytes (a gzip bomb stops at the limit); invalid UTF-8,
 * nesting deeper than any valid request and malformed JSON are 400 `invalid_json`.
 */
export async function readJsonBody(
  c: Context,
  maxBytes: number,
  options: JsonBodyOptions = {},
): Promise<JsonBody> {
  if (!options.anyContentType) checkContentType(c.req.header('content-type'))
  const encoding = (c.req.header('content-encoding') ?? 'identity').trim().toLowerCase()
  if (encoding !== 'identity' && encoding !== 'gzip') {
    throw new ApiError(
      415,
      'unsupported_media_type',
      `content encoding ${quote(encoding)} is not supported; send gzip or identity`,
    )
  }
  const declared = Number(c.req.header('content-length'))
  if (Number.isFinite(declared) && declared > maxBytes) throw tooLarge(maxBytes)
  // A declared length within the limit: the HTTP parser delivers exactly that many bytes, so the body
  // can be read whole. @hono/node-server then reads it straight from Node's request, without the web
  // Request and stream that c.req.raw.body needs (they cost as much as parsing a 100-event batch).
  if (encoding === 'identity' && Number.isFinite(declared))
    return parse(await sniffed(await readWhole(c), maxBytes, options))

  let stream = c.req.raw.body
  if (stream === null) return parse(Buffer.alloc(0))
  if (encoding === 'gzip') {
    stream = stream.pipeThrough(limitBytes(maxBytes)).pipeThrough(new DecompressionStream('gzip'))
  }
  const bytes = await readBytes(stream, maxBytes)
  return parse(encoding === 'gzip' ? bytes : await sniffed(bytes, maxBytes, options))
}

/** The body inflated when `sniffGzip` is on and it is gzip (the bytes read were within the limit already). */
async function sniffed(bytes: Buffer, maxBytes: number, options: JsonBodyOptions): Promise<Buffer> {
  if (!options.sniffGzip || bytes[0] !== GZIP_MAGIC[0] || bytes[1] !== GZIP_MAGIC[1]) return bytes
  return readBytes(
    new Blob([bytes]).stream().pipeThrough(new DecompressionStream('gzip')),
    maxBytes,
  )
}

function checkContentType(contentType: string | undefined): void {
  if (contentType === undefined || contentType.trim() === '') return
  if (!JSON_TYPE.test(contentType))
    throw new ApiError(
      415,
      'unsupported_media_type',
      `content type ${quote(contentType)} is not JSON; send application/json`,
    )
  const charset = CHARSET.exec(contentType)?.[1]?.toLowerCase()
  if (charset !== undefined && charset !== 'utf-8' && charset !== 'utf8') {
    throw new ApiError(
      415,
      'unsupported_media_type',
      `charset ${quote(charset)} is not supported; send UTF-8`,
    )
  }
}

async function readBytes(stream: ReadableStream<Uint8Array>, maxBytes: number): Promise<Buffer> {
  const reader = stream.getReader()
  const chunks: Uint8Array[] = []
  let size = 0
  try {
    for (;;) {
      const { done, value } = await reader.read()
      if (done) break
      size += value.byteLength
      if (size > maxBytes) throw tooLarge(maxBytes)
      chunks.push(value)
    }
  } catch (error) {
    void reader.cancel().catch(() => {})
    if (error instanceof ApiError) throw error
    throw unreadable(error)
  }
  return Buffer.concat(chunks, size)
}

/** The compressed bytes count too: a body may not be over the limit before it is inflated either. */
function limitBytes(maxBytes: number): TransformStream<Uint8Array, Uint8Array> {
  let size = 0
  return new TransformStream({
    transform(chunk, controller) {
      size += chunk.byteLength
      if (size > maxBytes) controller.error(tooLarge(maxBytes))
      else controller.enqueue(chunk)
    },
  })
}

async function readWhole(c: Context): Promise<Buffer> {
  try {
    return Buffer.from(await c.req.arrayBuffer())
  } catch (error) {
    throw unreadable(error)
  }
}

function parse(bytes: Buffer): JsonBody {
  const parsed = parseJsonText(bytes)
  if (!parsed.ok) throw new ApiError(400, 'invalid_json', parsed.message)
  return { value: parsed.value, bytes: bytes.length }
}

/** A truncated or corrupt gzip stream, or a client that went away mid-body. */
function unreadable(error: unknown): ApiError {
  return new ApiError(
    400,
    'invalid_json',
    `the request body could not be read: ${error instanceof Error ? error.message.slice(0, 200) : 'unknown error'}`,
  )
}

function tooLarge(maxBytes: number): ApiError {
  return new ApiError(
    413,
    'payload_too_large',
    `the request body is over the limit of ${maxBytes} bytes`,
  )
}
