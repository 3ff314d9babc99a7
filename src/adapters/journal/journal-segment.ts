import { open, type FileHandle } from 'node:fs/promises'
import { join } from 'node:path'

/**
 * One segment of a route's journal: `<n>.events` holds the appended events, one JSON line each;
 * `<n>.acks` the byte offsets of the lines that are done, one decimal line each. Both files are
 * only ever appended to, so whatever the process had written when it died is in them intact,
 * except at most a torn last line (scanned away at open).
 */
export interface Segment {
  readonly n: number
  /** the events file, opened for appending and for positional reads */
  readonly events: FileHandle
  /** the acks file, opened on the first ack */
  acks: FileHandle | undefined
  /** bytes of complete lines: the end of what a read may see */
  size: number
  /** lines written */
  entries: number
  /** lines done (acknowledged, or unreadable) */
  done: number
  /** offsets acknowledged before this process opened the segment: a read skips them */
  readonly skip: Set<number>
}

/** Zero-padded, so that a directory listing sorts segments in the order they were written. */
const base = (dir: string, n: number) => join(dir, String(n).padStart(12, '0'))
export const eventsPath = (dir: string, n: number) => `${base(dir, n)}.events`
export const acksPath = (dir: string, n: number) => `${base(dir, n)}.acks`
export const segmentNumber = (file: string) => /^(\d{12})\.(events|acks)$/.exec(file)?.[1]

const CHUNK = 1 << 20
const NEWLINE = 0x0a

/**
 * Opens segment `n` (creating it when missing), counts its lines, and cuts a torn last line off:
 * that append never returned, so no client was told `accepted` for what it held.
 */
export async function openSegment(dir: string, n: number): Promise<Segment> {
  const events = await open(eventsPath(dir, n), 'a+')
  try {
    const { size: length } = await events.stat()
    let entries = 0
    let end = 0
    const buffer = Buffer.allocUnsafe(CHUNK)
    for (let at = 0; at < length;) {
      const { bytesRead } = await events.read(buffer, 0, Math.min(CHUNK, length - at), at)
      if (bytesRead === 0) break
      for (
        let i = buffer.indexOf(NEWLINE, 0);
        i !== -1 && i < bytesRead;
        i = buffer.indexOf(NEWLINE, i + 1)
      ) {
        entries += 1
        end = at + i + 1
      }
      at += bytesRead
    }
    if (end < length) await events.truncate(end)
    const skip = await readAcks(dir, n, end)
    return { n, events, acks: undefined, size: end, entries, done: skip.size, skip }
  } catch (error) {
    await events.close()
    throw error
  }
}

/** The acknowledged offsets of a segment; a torn last line is ignored (that entry is delivered again). */
async function readAcks(dir: string, n: number, size: number): Promise<Set<number>> {
  let text: string
  try {
    const handle = await open(acksPath(dir, n), 'r')
    try {
      text = await handle.readFile('latin1')
    } finally {
      await handle.close()
    }
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return new Set()
    throw error
  }
  const offsets = new Set<number>()
  const lines = text.split('\n')
  lines.pop() // after the last newline: empty, or torn
  for (const line of lines) {
    const offset = Number(line)
    if (line !== '' && Number.isSafeInteger(offset) && offset >= 0 && offset < size)
      offsets.add(offset)
  }
  return offsets
}

export interface SegmentLine {
  readonly offset: number
  readonly text: string
}

/**
 * Complete lines from `offset` until `max` lines or the segment's end, reading at least one whole
 * line however long it is. Returns the lines and the offset after the last one.
 */
export async function readLines(
  segment: Segment,
  offset: number,
  max: number,
): Promise<{ lines: SegmentLine[]; next: number }> {
  const lines: SegmentLine[] = []
  let at = offset
  let want = CHUNK
  while (lines.length < max && at < segment.size) {
    const length = Math.min(want, segment.size - at)
    const buffer = Buffer.allocUnsafe(length)
    const { bytesRead } = await segment.events.read(buffer, 0, length, at)
    if (bytesRead === 0) break // cut short from outside: nothing more to see
    let start = 0
    for (
      let i = buffer.indexOf(NEWLINE);
      i !== -1 && i < bytesRead && lines.length < max;
      i = buffer.indexOf(NEWLINE, start)
    ) {
      lines.push({ offset: at + start, text: buffer.toString('utf8', start, i) })
      start = i + 1
    }
    // No whole line in the chunk: a line longer than it; read again with room for it.
    if (start === 0) want *= 2
    at += start
  }
  return { lines, next: at }
}
