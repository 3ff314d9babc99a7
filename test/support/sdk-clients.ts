import { Analytics as SegmentNode } from '@segment/analytics-node'
import RudderStack from '@rudderstack/rudder-sdk-node'
import ClassicSegment from 'analytics-node'
import { PostHog } from 'posthog-node'

/**
 * The real Node SDKs, each behind the same two calls, so that one suite drives them all: `send` hands
 * a message to the SDK exactly as an application would, `close` waits until the SDK has delivered
 * (or given up on) everything and returns every error the SDK reported, as text.
 */

export type SegmentCallType = 'track' | 'identify' | 'page' | 'screen' | 'group' | 'alias'

export interface SegmentCall {
  readonly type: SegmentCallType
  readonly message: { readonly messageId: string } & Record<string, unknown>
}

export interface SdkClient<Call> {
  send(call: Call): void
  close(): Promise<string[]>
}

/** The SDKs flush every 50 ms or 100 messages: a test need not wait for their 10 s defaults. */
const FLUSH_INTERVAL_MS = 50
const FLUSH_AT = 100

export interface SegmentFamilySdk {
  readonly name: string
  /** what the SDK puts in `context.library.name` */
  readonly library: string
  /** whether the SDK itself copies a page's `category` into its `properties` on the wire */
  readonly pageCategoryInProperties: boolean
  create(url: string, writeKey: string, options?: SdkOptions): SdkClient<SegmentCall>
}

export interface SdkOptions {
  /**
   * The SDK's own `retryCount` (analytics-node 6 and RudderStack's: 3 by default, which spans
   * about 1.5 s of axios-retry's exponential delay; each one more doubles the span).
   */
  readonly retryCount?: number
}

/** `@segment/analytics-node` 3: `host` is the one option to change. */
export const segmentNode: SegmentFamilySdk = {
  name: '@segment/analytics-node',
  library: '@segment/analytics-node',
  pageCategoryInProperties: true,
  create(url, writeKey) {
    const analytics = new SegmentNode({
      writeKey,
      host: url,
      flushAt: FLUSH_AT,
      flushInterval: FLUSH_INTERVAL_MS,
    })
    const errors: string[] = []
    analytics.on('error', (error) => errors.push(errorText(error.reason ?? error)))
    return {
      send({ type, message }) {
        // Each call takes its own parameter type; the message was built for that call.
        ;(analytics[type] as (message: object) => void)(message)
      },
      async close() {
        await analytics.closeAndFlush()
        return errors
      },
    }
  },
}

/** The callback-style SDKs (analytics-node 6, RudderStack 3): a message is done when its callback runs. */
interface CallbackSdk {
  flush(): Promise<unknown>
}

function callbackClient(
  sdk: CallbackSdk,
  errors: string[],
  call: (call: SegmentCall, done: (error?: unknown) => void) => void,
): SdkClient<SegmentCall> {
  const pending: Array<Promise<void>> = []
  return {
    send(message) {
      pending.push(
        new Promise<void>((resolve) =>
          call(message, (error) => {
            if (error) errors.push(errorText(error))
            resolve()
          }),
        ),
      )
    },
    async close() {
      await sdk.flush()
      await Promise.all(pending)
      return errors
    },
  }
}

/** analytics-node 6, Segment's classic Node SDK: `host`. */
export const classicSegment: SegmentFamilySdk = {
  name: 'analytics-node',
  library: 'analytics-node',
  pageCategoryInProperties: false,
  create(url, writeKey, options = {}) {
    const errors: string[] = []
    // Without an errorHandler a failed timer flush is an unhandled rejection; the callbacks report it.
    const analytics = new ClassicSegment(writeKey, {
      host: url,
      flushAt: FLUSH_AT,
      flushInterval: FLUSH_INTERVAL_MS,
      errorHandler: () => {},
      ...options,
    })
    return callbackClient(analytics, errors, ({ type, message }, done) =>
      analytics[type](message, done),
    )
  },
}

/** `@rudderstack/rudder-sdk-node` 3: `dataPlaneUrl`. It gzips every batch. */
export const rudderStack: SegmentFamilySdk = {
  name: '@rudderstack/rudder-sdk-node',
  // RudderStack's Node SDK still names itself after the Segment SDK it was forked from.
  library: 'analytics-node',
  pageCategoryInProperties: false,
  create(url, writeKey, options = {}) {
    const errors: string[] = []
    const analytics = new RudderStack(writeKey, {
      dataPlaneUrl: url,
      flushAt: FLUSH_AT,
      flushInterval: FLUSH_INTERVAL_MS,
      logLevel: 'none',
      errorHandler: () => {},
      ...options,
    })
    return callbackClient(analytics, errors, ({ type, message }, done) =>
      // Its types omit messageId and the callback's error, both of which it takes.
      (analytics[type] as (message: object, callback: (error?: unknown) => void) => void)(
        message,
        done,
      ),
    )
  },
}

export type PostHogCall =
  | { readonly type: 'capture'; readonly message: Parameters<PostHog['capture']>[0] }
  | { readonly type: 'identify'; readonly message: Parameters<PostHog['identify']>[0] }
  | { readonly type: 'alias'; readonly message: Parameters<PostHog['alias']>[0] }
  | { readonly type: 'groupIdentify'; readonly message: Parameters<PostHog['groupIdentify']>[0] }

/** `posthog-node` 5: `host`. It gzips every batch and sends the key as `api_key` in the body. */
export function postHogClient(url: string, apiKey: string): SdkClient<PostHogCall> {
  const posthog = new PostHog(apiKey, {
    host: url,
    flushAt: FLUSH_AT,
    flushInterval: FLUSH_INTERVAL_MS,
  })
  const errors: string[] = []
  posthog.on('error', (error) => errors.push(errorText(error)))
  return {
    send(call) {
      if (call.type === 'capture') posthog.capture(call.message)
      else if (call.type === 'identify') posthog.identify(call.message)
      else if (call.type === 'alias') posthog.alias(call.message)
      else posthog.groupIdentify(call.message)
    },
    async close() {
      await posthog.shutdown()
      return errors
    },
  }
}

/** An SDK's error as text, led by its HTTP status when it has one (axios's, PostHog's). */
function errorText(error: unknown): string {
  const { response, status } = (error ?? {}) as { response?: { status?: number }; status?: number }
  const code = response?.status ?? status
  const message = error instanceof Error ? error.message : String(error)
  return code === undefined ? message : `[${code}] ${message}`
}
