// analytics-node 6 (Segment's classic Node SDK) ships no types: what the SDK tests call of it.
declare module 'analytics-node' {
  type Callback = (error?: Error) => void

  interface Options {
    host?: string
    flushAt?: number
    flushInterval?: number
    retryCount?: number
    errorHandler?: (error: Error) => void
  }

  class Analytics {
    constructor(writeKey: string, options?: Options)
    track(message: object, callback?: Callback): this
    identify(message: object, callback?: Callback): this
    page(message: object, callback?: Callback): this
    screen(message: object, callback?: Callback): this
    group(message: object, callback?: Callback): this
    alias(message: object, callback?: Callback): this
    flush(callback?: Callback): Promise<unknown>
  }

  export default Analytics
}
