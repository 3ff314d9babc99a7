import type { Context } from 'hono'
import { presentedSdkKey, type ApiKeyCheck, type KeyHolder } from '../../wire/api-keys.js'
import { ApiError } from '../errors.js'

/**
 * The holder of the key a drop-in request presents in a header (API.md §9), checked before the body
 * is read: a wrong one is 401 at once. Undefined when no header holds a key: the body's `writeKey` /
 * `api_key` decides, after it is read (`bodyKeyHolder`).
 */
export function headerKeyHolder(keys: ApiKeyCheck, c: Context): KeyHolder | undefined {
  if (keys.open) return keys.identify(undefined)
  const presented = presentedSdkKey((name) => c.req.header(name))
  if (presented === undefined) return undefined
  return keys.identify(presented) ?? refuse(c)
}

/** The holder of the key in the body, or 401. */
export function bodyKeyHolder(keys: ApiKeyCheck, c: Context, bodyKey: unknown): KeyHolder {
  return (typeof bodyKey === 'string' ? keys.identify(bodyKey) : undefined) ?? refuse(c)
}

function refuse(c: Context): never {
  c.header('WWW-Authenticate', 'Basic realm="sluice"')
  throw new ApiError(
    401,
    'unauthorized',
    'a valid write key is needed: Authorization: Basic base64(key:) or Bearer <key>, X-Write-Key or X-API-Key, or writeKey / api_key in the body',
  )
}
