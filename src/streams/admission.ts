import { BehaviorSubject, distinctUntilChanged, type Observable } from 'rxjs'

export interface AdmissionOptions {
  /** Hard bound: a request that would take the count past it is refused. */
  readonly maxInflight: number
  /** At or above this many events in flight, readers are told to pause. Default: 80% of max. */
  readonly highWater?: number
  /** Paused readers are told to resume once the count falls to this. Default: 50% of max. */
  readonly lowWater?: number
  /** Hard bound in bytes retained (see `retainedBytes`). Default: none. */
  readonly maxInflightBytes?: number
}

/**
 * Backpressure for a Subject, which cannot push back by itself: counts events in flight, and the
 * bytes Sluice retains for them. Adapters ask "may I take N more, of B bytes?" (`tryAcquire`) and
 * watch `paused$` to stop and resume reading; the hysteresis between the water marks (80% and 50%
 * of each bound by default) keeps readers from flapping. Readers pause when either count reaches
 * its high-water mark, and resume once both are at or under their low-water marks.
 *
 * One submission whose bytes alone pass `maxInflightBytes` (a body or frame within MAX_BODY_BYTES /
 * WS_MAX_FRAME_BYTES, but a small byte bound) is taken when nothing else is in flight: refusing it
 * would make a WebSocket frame wait forever, since frames are never split. So memory is bounded by
 * the larger of the bound and one submission.
 */
export interface Admission {
  tryAcquire(count: number, bytes?: number): boolean
  release(count: number, bytes?: number): void
  readonly inflight: number
  readonly inflightBytes: number
  readonly maxInflight: number
  readonly maxInflightBytes: number
  readonly paused: boolean
  /** true when over the high-water mark, false again at the low-water mark; replays the current state. */
  readonly paused$: Observable<boolean>
}

/*
 * What Sluice retains per event while it waits for storage, measured (heap used + array buffers
 * after a full GC, 2,000 to 20,000 events held by a pipeline whose sink never answers):
 *
 *   event (JSON bytes)                                retained   per JSON byte
 *   id, type, small properties (111), 1,000 a body       740 B       6.7
 *   id, type, user, session, timestamp, 5 keys (264)    1.1 KB       4.3
 *   the same two, one event a body (122, 276)      1.8, 2.1 KB    14.4, 7.6
 *   32 KiB of properties: one string, 100 a body        68 KB       2.1
 *   32 KiB of properties: ~1,000 small fields          118 KB       3.6
 *
 * Both the parsed properties and their canonical JSON are kept until commit. A line through the
 * small events gives ~460 B per event plus ~2.6 per byte, and a body of one event adds ~1 KB (its
 * submission, results and callbacks); the structured 32 KiB event needs 3.6 per byte. So a body or
 * frame is charged 1 KiB, plus 512 B an event, plus 4 per byte — at or above every row, and cheap:
 * the caller knows the byte length already, nothing is serialized.
 */
export const RETAINED_PER_SUBMISSION = 1024
export const RETAINED_PER_EVENT = 512
export const RETAINED_PER_JSON_BYTE = 4

/**
 * The bytes admission charges each of `count` events that arrived together in `jsonBytes` of JSON
 * (a REST body, a WebSocket frame): an equal share of the submission's part, rounded up, so that
 * each event releases its own share when it settles.
 */
export function retainedBytes(jsonBytes: number, count: number): number {
  return count === 0
    ? 0
    : RETAINED_PER_EVENT +
        Math.ceil((RETAINED_PER_SUBMISSION + jsonBytes * RETAINED_PER_JSON_BYTE) / count)
}

export function createAdmission(options: AdmissionOptions): Admission {
  const { maxInflight, maxInflightBytes = Infinity } = options
  const highWater = options.highWater ?? Math.max(1, Math.floor(maxInflight * 0.8))
  const lowWater = options.lowWater ?? Math.floor(maxInflight * 0.5)
  if (!(lowWater < highWater && highWater <= maxInflight)) {
    throw new RangeError(
      `admission needs lowWater < highWater <= maxInflight (got ${lowWater}, ${highWater}, ${maxInflight})`,
    )
  }
  if (!(maxInflightBytes > 0))
    throw new RangeError(`admission needs maxInflightBytes > 0 (got ${maxInflightBytes})`)
  const highWaterBytes = maxInflightBytes * 0.8
  const lowWaterBytes = maxInflightBytes * 0.5
  const state = new BehaviorSubject(false)
  let inflight = 0
  let inflightBytes = 0

  return {
    tryAcquire(count, bytes = 0) {
      if (inflight + count > maxInflight) return false
      if (inflight > 0 && inflightBytes + bytes > maxInflightBytes) return false
      inflight += count
      inflightBytes += bytes
      if ((inflight >= highWater || inflightBytes >= highWaterBytes) && !state.value)
        state.next(true)
      return true
    },
    release(count, bytes = 0) {
      inflight -= count
      inflightBytes -= bytes
      if (inflight <= lowWater && inflightBytes <= lowWaterBytes && state.value) state.next(false)
    },
    get inflight() {
      return inflight
    },
    get inflightBytes() {
      return inflightBytes
    },
    maxInflight,
    maxInflightBytes,
    get paused() {
      return state.value
    },
    paused$: state.pipe(distinctUntilChanged()),
  }
}
