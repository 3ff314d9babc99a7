import { createHash, timingSafeEqual } from 'node:crypto'

/**
 * Checks a presented API key against the configured ones in constant time. Keys are compared as
 * SHA-256 digests, so neither the length of a key nor the position of the first wrong character
 * shows in the timing; every configured key is compared, even after a match.
 */
export interface ApiKeyCheck {
  /** true when no keys are configured (auth off) */
  readonly open: boolean
  accepts(presented: string | undefined): boolean
}

export function createApiKeyCheck(keys: readonly string[] | undefined): ApiKeyCheck {
  const digests = (keys ?? []).map(digest)
  return {
    open: digests.length === 0,
    accepts(presented) {
      if (digests.length === 0) return true
      if (presented === undefined || presented === '') return false
      const candidate = digest(presented)
      let match = false
      for (const known of digests) match = timingSafeEqual(known, candidate) || match
      return match
    },
  }
}

/** The key a request presents: `Authorization: Bearer <key>` or `X-API-Key: <key>`. */
export function presentedKey(header: (name: string) => string | undefined): string | undefined {
  const authorization = header('authorization')
  const bearer = authorization === undefined ? undefined : /^Bearer\s+(.+)$/i.exec(authorization.trim())?.[1]
  return bearer ?? header('x-api-key')?.trim()
}

function digest(key: string): Buffer {
  return createHash('sha256').update(key).digest()
}
