import type { MiddlewareHandler } from 'hono'
import { presentedKey, type ApiKeyCheck } from '../wire/api-keys.js'
import { ApiError } from './errors.js'

/** API_KEYS: `Authorization: Bearer <key>` or `X-API-Key: <key>`, else 401. */
export function requireApiKey(keys: ApiKeyCheck): MiddlewareHandler {
  return async function apiKey(c, next) {
    // Preflights carry no credentials; CORS answers them before this runs.
    if (keys.open || c.req.method === 'OPTIONS' || keys.accepts(presentedKey((name) => c.req.header(name)))) return next()
    c.header('WWW-Authenticate', 'Bearer realm="sluice"')
    throw new ApiError(401, 'unauthorized', 'a valid API key is needed: Authorization: Bearer <key> or X-API-Key: <key>')
  }
}
