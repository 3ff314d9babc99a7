import type { OpenAPIHono } from '@hono/zod-openapi'
import type { MiddlewareHandler } from 'hono'
import type { HttpEnv } from '../http-env.js'
import { POSTHOG_PATHS, posthogRoutes } from './posthog-routes.js'
import type { SdkRoutesOptions } from './sdk-routes-options.js'
import { SEGMENT_BATCH_PATHS, SEGMENT_CALL_PATHS, segmentRoutes } from './segment-routes.js'

export type { SdkRoutesOptions } from './sdk-routes-options.js'

/** The drop-in endpoints for analytics SDKs (API.md §9): a source beside REST, on the same pipeline. */
export function sdkRoutes(app: OpenAPIHono<HttpEnv>, options: SdkRoutesOptions): void {
  segmentRoutes(app, options)
  posthogRoutes(app, options)
}

const SEGMENT_PATHS: ReadonlySet<string> = new Set([
  ...SEGMENT_BATCH_PATHS,
  ...Object.keys(SEGMENT_CALL_PATHS),
])
const SETTINGS_PATH = /^\/v1\/projects\/[^/]+\/settings$/

/**
 * The drop-in paths under `/v1/` check their keys themselves (a key may be in the body, known only
 * after reading it), so §3's key middleware passes them by. Exact paths only: `/v1/events*` and
 * every other REST path keep §3's check.
 */
export function exceptSdkPaths(middleware: MiddlewareHandler<HttpEnv>): MiddlewareHandler<HttpEnv> {
  return function unlessSdkPath(c, next) {
    return SEGMENT_PATHS.has(c.req.path) || SETTINGS_PATH.test(c.req.path)
      ? next()
      : middleware(c, next)
  }
}

/** Allowed methods of each drop-in path: another method is 405, not 404. */
export const SDK_METHODS: Readonly<Record<string, string>> = Object.fromEntries<string>([
  ...[...SEGMENT_PATHS, ...POSTHOG_PATHS].map((path): [string, string] => [path, 'POST']),
  ['/v1/projects/:writeKey/settings', 'GET'],
])
