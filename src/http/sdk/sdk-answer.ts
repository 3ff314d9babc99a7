import type { Context } from 'hono'
import { countResults, type EventResult } from '../../streams/outcome.js'
import { boundedIssues } from '../../streams/properties.js'
import type { Pipeline } from '../../streams/pipeline.js'
import { applyKeySource, type KeyHolder } from '../../wire/api-keys.js'
import { ApiError } from '../errors.js'
import type { HttpEnv } from '../http-env.js'
import type { MappedMessage } from './message-mapping.js'

// What stands in the pipeline for a message that could not be mapped: validation rejects it, so the
// message is counted and answered with the others (its result then gets the mapping's own issues).
const UNMAPPABLE = null

export interface SdkAnswerOptions {
  readonly pipeline: Pipeline
  /** what Retry-After says when storage is down past the retry budget */
  readonly storageRetryAfterSeconds: number
}

/**
 * Submits the mapped messages of one request to the pipeline REST uses and answers as API.md §9
 * says SDKs need: 200 with §2's results when every message settled accepted, duplicate or rejected;
 * 503 `storage_unavailable` + Retry-After with the same counts and results when any failed (the SDK
 * sends the whole batch again, and what was stored comes back duplicate); 429 on overload, which
 * every SDK backs off from.
 */
export async function answerMessages(
  c: Context<HttpEnv>,
  options: SdkAnswerOptions,
  mapped: readonly MappedMessage[],
  holder: KeyHolder | undefined,
  bytes: number,
): Promise<Response> {
  const events = mapped.map((message) => (message.ok ? message.event : UNMAPPABLE))
  const settled = options.pipeline.submit(applyKeySource(events, holder), 'rest', bytes)
  if (!settled)
    throw new ApiError(429, 'overloaded', 'too many events in flight; retry shortly', {
      retryAfterSeconds: 1,
    })
  const results: EventResult[] = await settled
  mapped.forEach((message, index) => {
    if (message.ok) return
    results[index] = {
      index,
      ...(message.id !== undefined && { id: message.id }),
      status: 'rejected',
      errors: boundedIssues(message.issues),
    }
  })
  const counts = countResults(results)
  if (counts.failed === 0) return c.json({ success: true, ...counts, results }, 200)
  c.header('Retry-After', String(options.storageRetryAfterSeconds))
  return c.json(
    {
      success: false,
      error: {
        code: 'storage_unavailable',
        message: `${counts.failed} of ${results.length} messages could not be committed now; send the batch again later`,
        requestId: c.get('requestId'),
      },
      ...counts,
      results,
    },
    503,
  )
}
