import type { MiddlewareHandler } from 'hono'
import { presentedKey, type ApiKeyCheck } from '../wire/api-keys.js'
import { ApiError } from './errors.js'
import type { HttpEnv } from './http-env.js'

/** API_KEYS: `Authorization: Bearer <key>` or `X-API-Key: <key>`, else 401; the key's holder goes on the context. */
export function requireApiKey(keys: ApiKeyCheck): MiddlewareHandler<HttpEnv> {
  return async function apiKey(c, next) {
    // Preflights carry no credentials; CORS answers them before this runs.
    if (keys.open || c.req.method === 'OPTIONS') return next()
    const holder = keys.identify(presentedKey((name) => c.req.header(name)))
    if (holder !== undefined) {
      c.set('keyHolder', holder)
      return next()
    }
    c.header('WWW-Authenticate', 'Bearer realm="sluice"')
    throw new ApiError(
      401,
      'unauthorized',
      'a valid API key is needed: Authorization: Bearer <key> or X-API-Key: <key>',
    )
  }
}
