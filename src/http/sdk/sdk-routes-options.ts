import type { Pipeline } from '../../streams/pipeline.js'
import type { ApiKeyCheck } from '../../wire/api-keys.js'
import type { JsonBodyOptions } from '../json-body.js'

export interface SdkRoutesOptions {
  readonly pipeline: Pipeline
  readonly keys: ApiKeyCheck
  readonly batchMaxEvents: number
  readonly maxBodyBytes: number
  /** what Retry-After says when storage is down past the retry budget */
  readonly storageRetryAfterSeconds: number
  /** PUBLIC_URL: where browsers reach Sluice, for the settings analytics.js loads (else from the request) */
  readonly publicUrl?: URL
}

/** SDKs label their JSON as they please and gzip it with or without saying so (API.md §9). */
export const SDK_BODY: JsonBodyOptions = { anyContentType: true, sniffGzip: true }
