import { mkdir, open, readdir, unlink } from 'node:fs/promises'
import type { AcceptedEvent } from '../../streams/event.js'
import type { OutboxEntry } from '../../streams/routing/ports.js'
import {
  acksPath,
  eventsPath,
  openSegment,
  readLines,
  segmentNumber,
  type Segment,
} from './journal-segment.js'

export interface RouteJournalOptions {
  /** a released entry is read again this long after its release */
  readonly releaseDelayMs: number
  /** past this size a segment takes no more appends; a later one does */
  readonly segmentBytes: number
  /** a last segment whose lines are all done is replaced by an empty one once it is at least this big */
  readonly compactBytes: number
  readonly now: () => number
  /** a line that is not an event (a machine crash can leave such): skipped, counted as done */
  readonly onUnreadable?: (receipt: string, error: unknown) => void
}

export interface RouteJournal {
  append(events: readonly AcceptedEvent[]): Promise<void>
  read(max: number): Promise<OutboxEntry[]>
  ack(receipts: readonly string[]): Promise<void>
  release(receipts: readonly string[]): void
  close(): Promise<void>
}

const receiptOf = (n: number, offset: number) => `${n}:${offset}`

/**
 * One route's journal in a directory of its own: segments of JSON lines (journal-segment.ts),
 * appended to and read in order. A cursor walks the lines once; lines it has handed out are
 * held (in memory, as the route's queue holds them anyway) until acknowledged or released. A
 * segment whose every line is done is deleted; the last one is replaced by an empty one first, so
 * segment numbers only grow and an old acks file can never name a line of a new segment.
 *
 * Every file operation of a route runs in one queue: an append's offsets are known before it is
 * written, reads see only complete appends, and no read meets a segment being deleted.
 */
export async function openRouteJournal(
  dir: string,
  options: RouteJournalOptions,
): Promise<RouteJournal> {
  const { releaseDelayMs, segmentBytes, compactBytes, now, onUnreadable } = options
  await mkdir(dir, { recursive: true })
  const segments = await openSegments(dir)
  const held = new Map<string, AcceptedEvent>()
  const released = new Map<string, { event: AcceptedEvent; due: number }>()
  let queue: Promise<unknown> = Promise.resolve()
  const last = () => segments[segments.length - 1]!

  function serial<T>(work: () => Promise<T>): Promise<T> {
    const result = queue.then(work)
    queue = result.catch(() => undefined)
    return result
  }

  async function roll() {
    segments.push(await openSegment(dir, last().n + 1))
  }

  async function remove(segment: Segment) {
    segments.splice(segments.indexOf(segment), 1)
    await Promise.all([segment.events.close(), segment.acks?.close()])
    // The events first: an acks file left alone by a crash here is removed at the next open.
    await unlink(eventsPath(dir, segment.n))
    await unlink(acksPath(dir, segment.n)).catch(ignoreMissing)
  }

  async function removeDone() {
    for (const segment of segments.slice(0, -1))
      if (segment.done >= segment.entries) await remove(segment)
  }

  /** Small fully-done segments stay a while: a quiet route would otherwise make a file per batch. */
  async function compact() {
    const tail = last()
    if (tail.entries > 0 && tail.done >= tail.entries && tail.size >= compactBytes) await roll()
    await removeDone()
  }

  // What a previous run left fully done goes now, whatever its size.
  if (last().entries > 0 && last().done >= last().entries) await roll()
  await removeDone()
  let cursor = { n: segments[0]!.n, offset: 0 }

  async function readFromFiles(max: number, out: OutboxEntry[]) {
    while (out.length < max) {
      const segment = segments.find((s) => s.n >= cursor.n)!
      if (segment.n !== cursor.n) cursor = { n: segment.n, offset: 0 }
      const { lines, next } = await readLines(segment, cursor.offset, max - out.length)
      cursor = { n: segment.n, offset: next }
      for (const { offset, text } of lines) {
        if (segment.skip.delete(offset)) continue // acknowledged before this process started
        const receipt = receiptOf(segment.n, offset)
        try {
          const event = JSON.parse(text) as AcceptedEvent
          held.set(receipt, event)
          out.push({ receipt, event })
        } catch (error) {
          segment.done += 1
          onUnreadable?.(receipt, error)
        }
      }
      if (next < segment.size) {
        if (lines.length === 0) return // the file is shorter than we wrote: nothing more to hand out now
        continue
      }
      if (segment === last()) return
      cursor = { n: segment.n + 1, offset: 0 }
    }
  }

  return {
    append(events) {
      if (events.length === 0) return Promise.resolve()
      return serial(async () => {
        if (last().size >= segmentBytes) await roll()
        const segment = last()
        const text = events.map((event) => JSON.stringify(event) + '\n').join('')
        const bytes = Buffer.from(text)
        try {
          for (let written = 0; written < bytes.length;)
            written += (await segment.events.write(bytes, written, bytes.length - written))
              .bytesWritten
        } catch (error) {
          // A partial write would glue a torn line to the next append's first one: cut it off.
          await segment.events.truncate(segment.size).catch(() => undefined)
          throw error
        }
        segment.size += bytes.length
        segment.entries += events.length
      })
    },

    read(max) {
      return serial(async () => {
        const out: OutboxEntry[] = []
        const time = now()
        for (const [receipt, { event, due }] of released) {
          if (out.length >= max) break
          if (due > time) continue
          released.delete(receipt)
          held.set(receipt, event)
          out.push({ receipt, event })
        }
        await readFromFiles(max, out)
        return out
      })
    },

    ack(receipts) {
      return serial(async () => {
        // Only what is out: an unknown or repeated receipt is already done.
        const known = receipts.filter((receipt) => held.has(receipt) || released.has(receipt))
        const bySegment = new Map<Segment, string[]>()
        for (const receipt of known) {
          const [n, offset] = receipt.split(':')
          const segment = segments.find((s) => s.n === Number(n))
          if (!segment) continue
          const lines = bySegment.get(segment) ?? []
          lines.push(`${offset}\n`)
          bySegment.set(segment, lines)
        }
        for (const [segment, lines] of bySegment) {
          segment.acks ??= await open(acksPath(dir, segment.n), 'a')
          await segment.acks.write(lines.join(''))
          segment.done += lines.length
        }
        for (const receipt of known) if (!held.delete(receipt)) released.delete(receipt)
        await compact()
      })
    },

    release(receipts) {
      const due = now() + releaseDelayMs
      for (const receipt of receipts) {
        const event = held.get(receipt)
        if (event === undefined) continue
        held.delete(receipt)
        released.set(receipt, { event, due })
      }
    },

    close() {
      return serial(async () => {
        await Promise.all(
          segments.flatMap((segment) =>
            segment.acks
              ? [segment.events.close(), segment.acks.close()]
              : [segment.events.close()],
          ),
        )
      })
    },
  }
}

/** The segments a previous run left, oldest first, or a first empty one; acks files without events are removed. */
async function openSegments(dir: string): Promise<Segment[]> {
  const files = await readdir(dir)
  const events = new Set(files.filter((file) => file.endsWith('.events')).map(segmentNumber))
  let highest = 0
  for (const file of files) {
    const n = segmentNumber(file)
    if (n === undefined) continue
    highest = Math.max(highest, Number(n))
    if (file.endsWith('.acks') && !events.has(n))
      await unlink(acksPath(dir, Number(n))).catch(ignoreMissing)
  }
  const numbers = [...events].map(Number).sort((a, b) => a - b)
  const segments: Segment[] = []
  for (const n of numbers) segments.push(await openSegment(dir, n))
  // Numbers only grow: a new first segment comes after every one a crash may have half removed.
  if (segments.length === 0) segments.push(await openSegment(dir, highest + 1))
  return segments
}

function ignoreMissing(error: unknown) {
  if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error
}
