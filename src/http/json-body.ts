import type { Context } from 'hono'
import { ApiError } from './errors.js'
import { jsonErrorPosition } from '../json-error-position.js'

const JSON_TYPE = /^application\/(?:[\w.+-]+\+)?json\s*(?:;|$)/i

/**
 * Reads a request body as JSON under API.md §3's rules: a content type other than JSON is 415 (a
 * missing one is read as JSON); a body over `maxBytes` is 413, decided while streaming so that the
 * rest is never read; `Content-Encoding: gzip` is inflated with the same limit on the inflated
 * bytes (a gzip bomb stops at the limit); malformed JSON is 400 `invalid_json` with its position.
 */
export interface JsonBody {
  readonly value: unknown
  /** bytes of the body as read (inflated, for gzip): what admission counts the events it holds by */
  readonly bytes: number
}

export async function readJsonBody(c: Context, maxBytes: number): Promise<JsonBody> {
  const contentType = c.req.header('content-type')
  if (contentType !== undefined && contentType.trim() !== '' && !JSON_TYPE.test(contentType)) {
    throw new ApiError(415, 'unsupported_media_type', `content type ${JSON.stringify(contentType.slice(0, 100))} is not JSON; send application/json`)
  }
  const encoding = (c.req.header('content-encoding') ?? 'identity').trim().toLowerCase()
  if (encoding !== 'identity' && encoding !== 'gzip') {
    throw new ApiError(415, 'unsupported_media_type', `content encoding ${JSON.stringify(encoding.slice(0, 50))} is not supported; send gzip or identity`)
  }
  const declared = Number(c.req.header('content-length'))
  if (encoding === 'identity' && Number.isFinite(declared) && declared > maxBytes) throw tooLarge(maxBytes)
  // A declared length within the limit: the HTTP parser delivers exactly that many bytes, so the body
  // can be read whole. @hono/node-server then reads it straight from Node's request, without the web
  // Request and stream that c.req.raw.body needs (they cost as much as parsing a 100-event batch).
  if (encoding === 'identity' && Number.isFinite(declared)) return parse(await readWhole(c))

  let stream = c.req.raw.body
  if (stream === null) return parse('')
  if (encoding === 'gzip') stream = stream.pipeThrough(new DecompressionStream('gzip') as unknown as TransformStream<Uint8Array, Uint8Array>)
  return parse(await readText(stream, maxBytes))
}

async function readText(stream: ReadableStream<Uint8Array>, maxBytes: number): Promise<string> {
  const reader = stream.getReader()
  const chunks: Uint8Array[] = []
  let size = 0
  try {
    for (;;) {
      const { done, value } = await reader.read()
      if (done) break
      size += value.byteLength
      if (size > maxBytes) {
        void reader.cancel().catch(() => {})
        throw tooLarge(maxBytes)
      }
      chunks.push(value)
    }
  } catch (error) {
    if (error instanceof ApiError) throw error
    throw unreadable(error)
  }
  return Buffer.concat(chunks, size).toString('utf8')
}

async function readWhole(c: Context): Promise<string> {
  try {
    return await c.req.text()
  } catch (error) {
    throw unreadable(error)
  }
}

function parse(text: string): JsonBody {
  try {
    return { value: JSON.parse(text), bytes: Buffer.byteLength(text) }
  } catch (error) {
    const position = jsonErrorPosition(text, error)
    throw new ApiError(400, 'invalid_json', `malformed JSON at position ${position}`)
  }
}

/** A truncated or corrupt gzip stream, or a client that went away mid-body. */
function unreadable(error: unknown): ApiError {
  return new ApiError(400, 'invalid_json', `the request body could not be read: ${error instanceof Error ? error.message : String(error)}`)
}

function tooLarge(maxBytes: number): ApiError {
  return new ApiError(413, 'payload_too_large', `the request body is over the limit of ${maxBytes} bytes`)
}
