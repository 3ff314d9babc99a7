import type { Pipeline } from '../../streams/pipeline.js'
import type { TypeMatcher } from '../../streams/type-patterns.js'
import type { TurnBudget } from './turn-budget.js'
import type { ResolvedWsOptions } from './ws-options.js'
import type { WsTelemetry } from './ws-telemetry.js'

/** open: reading frames; draining: reading no more, settling what it holds before it closes; closed: gone. */
export type ConnectionState = 'open' | 'draining' | 'closed'

/** What the gateway gives each connection: shared limits and the few things only the gateway can do. */
export interface ConnectionHost {
  readonly options: ResolvedWsOptions
  readonly pipeline: Pipeline
  readonly telemetry: WsTelemetry
  /** frame handling per turn of the event loop, shared by every connection (turn-budget.ts) */
  readonly turnBudget: TurnBudget
  now(): number
  /** events of one of its frames settled: room came free in the pipeline */
  eventsSettled(): void
  /** admission refused its next frame: call `pump()` again when there may be room */
  waitForAdmission(connection: ConnectionActor): void
  subscribe(connection: ConnectionActor, matches: TypeMatcher): void
  unsubscribe(connection: ConnectionActor): void
  closed(connection: ConnectionActor, code: number): void
  /** handling one of its frames threw: a fault of Sluice's, reported once; the connection closes with 1011 */
  faulted(connection: ConnectionActor, error: unknown): void
}

export interface ConnectionActor {
  readonly id: string
  readonly state: ConnectionState
  /** when the peer last sent anything (a frame, a ping or a pong); now, while we are not reading it for our own reasons */
  readonly lastHeardAt: number
  /** when it started draining, if it has */
  readonly drainingSince: number | undefined
  /** bytes of the data message it is receiving (its frames' declared lengths so far); 0 between messages */
  readonly incompleteMessageBytes: number
  /** messages received so far */
  readonly messagesReceived: number
  readonly inflightEvents: number
  /** publish frames read but not yet taken by the pipeline */
  readonly heldFrames: number
  readonly readingPaused: boolean
  /** bytes queued to the peer and not yet written to the network */
  readonly bufferedAmount: number
  /** Submits held frames that fit now. */
  pump(): void
  /** Decides again whether to read (the pipeline crossed a water mark). */
  updateReading(): void
  /** A message that answers no frame (a subscribed event, a notice): sent now, outside the reply order. */
  sendUnsolicited(text: string): void
  ping(): void
  terminate(): void
  /** Stops reading; once every frame it read has settled and been answered, closes with `code`. */
  closeAfterReplies(code?: number, reason?: string | Buffer): void
}
