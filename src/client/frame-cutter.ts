/** What the server takes in one frame (its welcome says it, API.md §4). */
export interface FrameLimits {
  maxEventsPerFrame: number
  maxFrameBytes: number
}

export interface CutFrame<T> {
  readonly items: T[]
  /** the frame as sent: a JSON array of the events */
  readonly text: string
}

/**
 * Cuts events into frames the server takes: at most `maxEventsPerFrame` each, and halved until
 * the JSON fits `maxFrameBytes` (a frame over it would close the connection with 1009, and its
 * re-send would again). A single event that does not fit goes to `tooLarge` instead.
 */
export function cutFrames<T>(
  items: readonly T[],
  eventOf: (item: T) => unknown,
  limits: FrameLimits,
  tooLarge: (item: T, bytes: number) => void,
): CutFrame<T>[] {
  const frames: CutFrame<T>[] = []
  const cut = (part: T[]): void => {
    const text = JSON.stringify(part.map(eventOf))
    // A UTF-16 unit is at most three UTF-8 bytes: count the bytes only when it could be over.
    if (text.length * 3 <= limits.maxFrameBytes || byteLength(text) <= limits.maxFrameBytes)
      return void frames.push({ items: part, text })
    if (part.length === 1) return tooLarge(part[0]!, byteLength(text))
    const half = Math.ceil(part.length / 2)
    cut(part.slice(0, half))
    cut(part.slice(half))
  }
  for (let i = 0; i < items.length; i += limits.maxEventsPerFrame)
    cut(items.slice(i, i + limits.maxEventsPerFrame))
  return frames
}

function byteLength(text: string): number {
  return new TextEncoder().encode(text).byteLength
}
