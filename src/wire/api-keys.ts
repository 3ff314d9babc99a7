import { createHash, timingSafeEqual } from 'node:crypto'

/** What a configured key says about the requests that present it. */
export interface KeyHolder {
  /** the key's name (`name=key` in API_KEYS): the `source` of the events sent with it that carry none */
  readonly source?: string
}

/**
 * Checks a presented API key against the configured ones in constant time. Keys are compared as
 * SHA-256 digests, so neither the length of a key nor the position of the first wrong character
 * shows in the timing; every configured key is compared, even after a match.
 */
export interface ApiKeyCheck {
  /** true when no keys are configured (auth off) */
  readonly open: boolean
  accepts(presented: string | undefined): boolean
  /** The holder of a configured key (an open check accepts anyone, unnamed); undefined: refused. */
  identify(presented: string | undefined): KeyHolder | undefined
}

const ANYONE: KeyHolder = Object.freeze({})

/** `entries` are API_KEYS' entries: `key`, or `name=key` (API.md §3). */
export function createApiKeyCheck(entries: readonly string[] | undefined): ApiKeyCheck {
  const keys = (entries ?? []).map(parseApiKey).map(({ key, name }) => ({
    digest: digest(key),
    holder: name === undefined ? ANYONE : Object.freeze({ source: name }),
  }))
  function identify(presented: string | undefined): KeyHolder | undefined {
    if (keys.length === 0) return ANYONE
    if (presented === undefined || presented === '') return undefined
    const candidate = digest(presented)
    let holder: KeyHolder | undefined
    for (const key of keys) if (timingSafeEqual(key.digest, candidate)) holder ??= key.holder
    return holder
  }
  return {
    open: keys.length === 0,
    accepts: (presented) => identify(presented) !== undefined,
    identify,
  }
}

/**
 * One API_KEYS entry. `name=key` names the key; a key may still end in `=` (base64 padding), so an
 * entry whose part after the first `=` is only `=` signs is a key without a name.
 */
export function parseApiKey(entry: string): { readonly key: string; readonly name?: string } {
  const at = entry.indexOf('=')
  if (at <= 0 || /^=*$/.test(entry.slice(at + 1))) return { key: entry }
  return { name: entry.slice(0, at).trim(), key: entry.slice(at + 1).trim() }
}

/** Why an API_KEYS entry cannot be used, or undefined (a name becomes a `source`: 1 to 128 characters). */
export function apiKeyProblem(entry: string): string | undefined {
  const { name, key } = parseApiKey(entry)
  if (key === '') return 'a key must not be empty'
  if (name !== undefined && (name === '' || name.length > 128))
    return 'a key name must be 1 to 128 characters'
  return undefined
}

/**
 * Gives the events sent with a named key `source: <name>` where they carry none (an empty source is
 * none, API.md §1). The events are the request's or frame's own freshly parsed objects, so they are
 * changed in place rather than copied; anything that is not an event object is left for validation
 * to reject.
 */
export function applyKeySource(
  events: readonly unknown[],
  holder: KeyHolder | undefined,
): readonly unknown[] {
  const source = holder?.source
  if (source === undefined) return events
  for (const event of events) {
    if (event === null || typeof event !== 'object' || Array.isArray(event)) continue
    const fields = event as Record<string, unknown>
    if (!Object.hasOwn(fields, 'source') || fields.source === '') fields.source = source
  }
  return events
}

/** The key a request presents: `Authorization: Bearer <key>` or `X-API-Key: <key>`. */
export function presentedKey(header: (name: string) => string | undefined): string | undefined {
  const authorization = header('authorization')
  const bearer =
    authorization === undefined ? undefined : /^Bearer\s+(.+)$/i.exec(authorization.trim())?.[1]
  return bearer ?? header('x-api-key')?.trim()
}

/**
 * The key an analytics SDK presents in a header (API.md §9): §3's two forms, or
 * `Authorization: Basic base64(key:)` (Segment's and RudderStack's SDKs send the write key as the
 * user, with no password), or `X-Write-Key: <key>`. A key in the body is read after the body.
 */
export function presentedSdkKey(header: (name: string) => string | undefined): string | undefined {
  const basic = /^Basic\s+([A-Za-z0-9+/=_-]+)\s*$/i.exec(header('authorization')?.trim() ?? '')?.[1]
  if (basic !== undefined) {
    // RFC 7617: the user-id holds no colon, so the key is everything before the first one.
    const credentials = Buffer.from(basic, 'base64').toString('utf8')
    const colon = credentials.indexOf(':')
    const user = colon < 0 ? credentials : credentials.slice(0, colon)
    const password = colon < 0 ? '' : credentials.slice(colon + 1)
    return user !== '' ? user : password !== '' ? password : undefined
  }
  return presentedKey(header) ?? (header('x-write-key')?.trim() || undefined)
}

function digest(key: string): Buffer {
  return createHash('sha256').update(key).digest()
}
