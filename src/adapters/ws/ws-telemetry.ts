/**
 * What the WebSocket gateway reports about itself: a catalogue of typed events, every hook
 * optional. The composition root turns them into metrics; nothing here logs per connection or per
 * event. Hooks are called synchronously on the hot path, so they must be cheap (a counter, a gauge).
 */
export interface WsTelemetry {
  connectionOpened?(): void
  /** `code` is the close code the connection ended with (1006 when the peer vanished or was terminated) */
  connectionClosed?(code: number): void
  /** an upgrade answered with an HTTP status instead of a connection */
  upgradeRefused?(
    status: 400 | 401 | 403 | 405 | 503,
    reason:
      | 'unauthorized'
      | 'origin_not_allowed'
      | 'too_many_connections'
      | 'shutting_down'
      | 'invalid_handshake',
  ): void
  /** a client frame answered with an error frame instead of an ack */
  frameRefused?(code: WsErrorCode): void
  /** handling a frame threw (a fault of Sluice's): that connection closes with 1011, the others go on */
  frameFailed?(): void
  /** a frame over WS_MAX_FRAME_BYTES: the connection closes with 1009 once its acks are sent */
  frameTooLarge?(): void
  /** a connection stopped being read: the pipeline is over its high-water mark, or the connection over its own bounds */
  readingPaused?(): void
  readingResumed?(): void
  /** a publish frame waits because admission refused it (the pipeline is at its hard bound) */
  admissionWaited?(): void
  /** a subscriber's unsent output passed WS_SUBSCRIBER_MAX_BUFFERED_BYTES: it was dropped from its subscription */
  subscriberDropped?(): void
  /** a peer silent for two ping intervals was terminated */
  peerTimedOut?(): void
  /** a closing connection did not finish within the close timeout and was terminated */
  closeTimedOut?(): void
}

/** Every `code` an error frame can carry (API.md §4, and `subscriber_too_slow` which is not an answer to a frame). */
export type WsErrorCode =
  'invalid_json' | 'invalid_frame' | 'too_many_events' | 'subscriber_too_slow' | 'internal'
