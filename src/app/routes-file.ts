import { readFileSync } from 'node:fs'
import { z } from 'zod'
import { patternError, ROUTE_DEFAULTS, type Route } from '../streams/routing/route.js'

/*
 * The routes file of API.md §8 (ROUTES_FILE), validated at start. A bad file is a ConfigError-like
 * RoutesFileError naming the route (by name, or by index when it has no usable name) and the field,
 * so that main prints it and exits 2. Unknown keys are refused by name: a misspelt `concurency`
 * silently falling back to the default would be worse than a refusal.
 */

const NAME = /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$/
// RFC 9110 token: what a header name may be.
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/
// Set by Sluice itself (API.md §8) or by the HTTP client: a route may not override them.
const RESERVED_HEADERS = new Set([
  'content-type',
  'idempotency-key',
  'x-sluice-route',
  'content-length',
  'host',
  'connection',
  'transfer-encoding',
  'keep-alive',
  'upgrade',
])

const int = (min: number, max: number) => z.number().int('must be a whole number').min(min).max(max)

export const RouteSchema = z
  .strictObject({
    name: z
      .string()
      .regex(
        NAME,
        'must be 1 to 64 characters: letters, digits, _ . : - (starting with a letter or digit)',
      ),
    match: z
      .array(
        z
          .string()
          .superRefine(
            (pattern, ctx) =>
              void (
                patternError(pattern) &&
                ctx.addIssue({ code: 'custom', message: patternError(pattern)! })
              ),
          ),
      )
      .min(1, 'must name at least one pattern'),
    url: z
      .string()
      .refine(
        (value) => URL.canParse(value) && ['http:', 'https:'].includes(new URL(value).protocol),
        'must be an http or https URL',
      ),
    headers: z
      .record(
        z
          .string()
          .regex(HEADER_NAME, 'must be a valid header name')
          .refine(
            (name) => !RESERVED_HEADERS.has(name.toLowerCase()),
            'is set by Sluice and cannot be overridden',
          ),
        z.string().regex(/^[^\r\n\0]*$/, 'must not contain line breaks'),
      )
      .default(ROUTE_DEFAULTS.headers),
    batchMaxEvents: int(1, 100_000).default(ROUTE_DEFAULTS.batchMaxEvents),
    batchMaxWaitMs: int(1, 3_600_000).default(ROUTE_DEFAULTS.batchMaxWaitMs),
    concurrency: int(1, 1024).default(ROUTE_DEFAULTS.concurrency),
    timeoutMs: int(1, 3_600_000).default(ROUTE_DEFAULTS.timeoutMs),
    maxAttempts: int(1, 1000).default(ROUTE_DEFAULTS.maxAttempts),
    backoffInitialMs: int(1, 3_600_000).default(ROUTE_DEFAULTS.backoffInitialMs),
    backoffMaxMs: int(1, 3_600_000).default(ROUTE_DEFAULTS.backoffMaxMs),
  })
  .superRefine((route, ctx) => {
    if (route.backoffMaxMs < route.backoffInitialMs)
      ctx.addIssue({
        code: 'custom',
        path: ['backoffMaxMs'],
        message: 'must be at least backoffInitialMs',
      })
  })

export const RoutesFileSchema = z
  .strictObject({ routes: z.array(RouteSchema) })
  .superRefine((file, ctx) => {
    const seen = new Set<string>()
    file.routes.forEach((route, index) => {
      if (seen.has(route.name))
        ctx.addIssue({
          code: 'custom',
          path: ['routes', index, 'name'],
          message: `is used by another route: names must be unique`,
        })
      seen.add(route.name)
    })
  })

export interface RoutesFileProblem {
  /** the route's name, or `#<index>` when it has none that can be used */
  readonly route?: string
  /** the field's path inside the route (`batchMaxEvents`, `match.1`, `headers.host`) */
  readonly field: string
  readonly message: string
}

export class RoutesFileError extends Error {
  override readonly name = 'RoutesFileError'
  constructor(
    readonly file: string,
    readonly problems: readonly RoutesFileProblem[],
  ) {
    super(
      `invalid routes file ${file}: ${problems.map((p) => (p.route === undefined ? `${p.field}: ${p.message}` : `route ${p.route.startsWith('#') ? p.route : JSON.stringify(p.route)} field ${p.field}: ${p.message}`)).join('; ')}`,
    )
  }
}

/** Validates the parsed JSON of a routes file; `file` only names it in errors. */
export function parseRoutes(json: unknown, file = 'ROUTES_FILE'): Route[] {
  const parsed = RoutesFileSchema.safeParse(json)
  if (parsed.success) return parsed.data.routes
  throw new RoutesFileError(
    file,
    parsed.error.issues.map((issue) => problemOf(issue, json)),
  )
}

/** Reads and validates a routes file; throws RoutesFileError (also for a missing file or malformed JSON). */
export function loadRoutesFile(path: string): Route[] {
  let text: string
  try {
    text = readFileSync(path, 'utf8')
  } catch (error) {
    throw new RoutesFileError(path, [
      {
        field: 'file',
        message: `cannot be read (${(error as NodeJS.ErrnoException).code ?? String(error)})`,
      },
    ])
  }
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch (error) {
    throw new RoutesFileError(path, [
      { field: 'file', message: `is not valid JSON (${(error as Error).message})` },
    ])
  }
  return parseRoutes(json, path)
}

function problemOf(issue: z.core.$ZodIssue, json: unknown): RoutesFileProblem {
  // An unknown key is reported on the object that has it; name the key itself.
  const path =
    issue.code === 'unrecognized_keys' ? [...issue.path, issue.keys.join(', ')] : issue.path
  const message =
    issue.code === 'unrecognized_keys'
      ? 'is not a known field'
      : issue.code === 'invalid_key' // a header name: zod wraps the key's own issue
        ? (issue.issues[0]?.message ?? issue.message)
        : issue.code === 'invalid_type' && /received undefined$/.test(issue.message)
          ? 'is required'
          : issue.message
  if (path[0] !== 'routes' || typeof path[1] !== 'number')
    return { field: path.length > 0 ? path.map(String).join('.') : 'file', message }
  const index = path[1]
  const raw = (json as { routes: unknown[] }).routes[index] as { name?: unknown } | undefined
  const named = typeof raw?.name === 'string' && NAME.test(raw.name)
  const field = path.slice(2).map(String).join('.')
  // A route that is not an object at all has no field to name.
  return {
    route: named ? (raw.name as string) : `#${index}`,
    field: field === '' ? '(the route)' : field,
    message,
  }
}
