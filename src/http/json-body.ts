import type { IncomingMessage } from 'node:http'
import type { Context } from 'hono'
import type { BodyBudget } from './body-budget.js'
import { ApiError } from './errors.js'
import type { HttpEnv } from './http-env.js'
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
  const held = new HeldBytes((c as Context<HttpEnv>).get('bodyBudget'))
  try {
    // A declared length within the limit: the HTTP parser delivers exactly that many bytes, so the
    // body can be read whole, straight from Node's request, without the web Request and stream that
    // c.req.raw.body needs (they cost as much as parsing a 100-event batch).
    if (encoding === 'identity' && Number.isFinite(declared))
      return parse(await sniffed(await readWhole(c, declared, held), maxBytes, options, held))

    let stream = c.req.raw.body
    if (stream === null) return parse(Buffer.alloc(0))
    if (encoding === 'gzip') {
      stream = stream.pipeThrough(limitBytes(maxBytes)).pipeThrough(new DecompressionStream('gzip'))
    }
    const bytes = await readBytes(stream, maxBytes, held)
    return parse(encoding === 'gzip' ? bytes : await sniffed(bytes, maxBytes, options, held))
  } finally {
    held.release()
  }
}

/** What one body holds of the server's BodyBudget, given back once it is parsed (or refused). */
class HeldBytes {
  private bytes = 0

  constructor(private readonly budget: BodyBudget | undefined) {}

  take(bytes: number): void {
    if (!this.tryTake(bytes)) throw overloaded()
  }

  tryTake(bytes: number): boolean {
    if (this.budget === undefined) return true
    if (!this.budget.take(bytes)) return false
    this.bytes += bytes
    return true
  }

  release(): void {
    this.budget?.give(this.bytes)
    this.bytes = 0
  }
}

/** The body inflated when `sniffGzip` is on and it is gzip (the bytes read were within the limit already). */
async function sniffed(
  bytes: Buffer,
  maxBytes: number,
  options: JsonBodyOptions,
  held: HeldBytes,
): Promise<Buffer> {
  if (!options.sniffGzip || bytes[0] !== GZIP_MAGIC[0] || bytes[1] !== GZIP_MAGIC[1]) return bytes
  return readBytes(
    new Blob([bytes]).stream().pipeThrough(new DecompressionStream('gzip')),
    maxBytes,
    held,
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

/**
 * The stream's bytes in one buffer, grown by doubling: a chunked body of 1-byte chunks kept as a
 * list of chunks held some 20 times its size (a Buffer object for each byte).
 */
async function readBytes(
  stream: ReadableStream<Uint8Array>,
  maxBytes: number,
  held: HeldBytes,
): Promise<Buffer> {
  const reader = stream.getReader()
  let body = Buffer.allocUnsafe(0)
  let size = 0
  try {
    for (;;) {
      const { done, value } = await reader.read()
      if (done) break
      if (size + value.byteLength > maxBytes) throw tooLarge(maxBytes)
      if (size + value.byteLength > body.length) {
        const grown = Buffer.allocUnsafe(
          Math.min(maxBytes, Math.max(2 * body.length, size + value.byteLength, 16 * 1024)),
        )
        held.take(grown.length - body.length)
        body.copy(grown, 0, 0, size)
        body = grown
      }
      body.set(value, size)
      size += value.byteLength
    }
  } catch (error) {
    void reader.cancel().catch(() => {})
    if (error instanceof ApiError) throw error
    throw unreadable(error)
  }
  return body.subarray(0, size)
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

/**
 * A body of a declared length, read from Node's request into one buffer of that length (its pages
 * are touched as bytes arrive, and counted against the budget as they do); through the web Request
 * where there is no Node request (app.request in tests).
 */
async function readWhole(c: Context, declared: number, held: HeldBytes): Promise<Buffer> {
  const incoming = (c.env as { incoming?: IncomingMessage } | undefined)?.incoming
  if (incoming === undefined || incoming.readableEnded) {
    try {
      const body = Buffer.from(await c.req.arrayBuffer())
      held.take(body.length)
      return body
    } catch (error) {
      if (error instanceof ApiError) throw error
      throw unreadable(error)
    }
  }
  return new Promise((resolve, reject) => {
    const body = Buffer.allocUnsafe(declared)
    let size = 0
    const done = () => {
      incoming.off('data', onData).off('end', onEnd).off('error', onError).off('close', onClose)
    }
    const onData = (chunk: Buffer) => {
      if (!held.tryTake(chunk.length)) {
        done()
        reject(overloaded())
        return
      }
      size += chunk.copy(body, size)
    }
    const onEnd = () => {
      done()
      resolve(body.subarray(0, size))
    }
    const onError = (error: Error) => {
      done()
      reject(unreadable(error))
    }
    // A client that goes away mid-body: Node closes the request, with or without an error.
    const onClose = () => onError(new Error('the client went away before the body was read'))
    incoming.on('data', onData).once('end', onEnd).once('error', onError).once('close', onClose)
  })
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

function overloaded(): ApiError {
  return new ApiError(503, 'overloaded', 'too many request bodies are being read; retry shortly', {
    retryAfterSeconds: 1,
  })
}

function tooLarge(maxBytes: number): ApiError {
  return new ApiError(
    413,
    'payload_too_large',
    `the request body is over the limit of ${maxBytes} bytes`,
  )
}
