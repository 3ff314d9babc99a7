import type { KeyHolder } from '../wire/api-keys.js'
import type { BodyBudget } from './body-budget.js'

/** What middleware puts on the Hono context for the handlers after it. */
export interface HttpEnv {
  Variables: {
    requestId: string
    /** who presented the request's API key (set on the paths that need one) */
    keyHolder?: KeyHolder
    /** request bodies being read, across requests (body-budget.ts) */
    bodyBudget?: BodyBudget
  }
}
