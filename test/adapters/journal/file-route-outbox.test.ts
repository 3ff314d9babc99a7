import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { appendFile, mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { from, lastValueFrom, type ObservableInput } from 'rxjs'
import { afterAll, describe, expect, it } from 'vitest'
import {
  createFileRouteOutbox,
  type FileRouteOutbox,
  type FileRouteOutboxOptions,
} from '../../../src/adapters/journal/file-route-outbox.js'
import type { OutboxEntry } from '../../../src/streams/routing/ports.js'
import { routeOutboxContract } from '../../contracts/route-outbox.contract.js'
import { event } from '../../streams/routing/fakes.js'
import { value } from '../../support/observables.js'

const dirs: string[] = []
const outboxes: FileRouteOutbox[] = []
afterAll(async () => {
  await Promise.all(outboxes.map((outbox) => outbox.close()))
  await Promise.all(dirs.map((dir) => rm(dir, { recursive: true, force: true })))
})

async function tempDir() {
  const dir = await mkdtemp(join(tmpdir(), 'sluice-journal-'))
  dirs.push(dir)
  return dir
}

function outboxIn(dir: string, options: Partial<FileRouteOutboxOptions> = {}) {
  const outbox = createFileRouteOutbox({ dir, ...options })
  outboxes.push(outbox)
  return outbox
}

// An injected clock: the release delay passes without waiting. A restart is a new outbox on the
// same directory, the old one left as a kill -9 leaves it (files open, nothing acked or released).
routeOutboxContract('file route outbox', async ({ releaseDelayMs }) => {
  const dir = await tempDir()
  let now = Date.UTC(2026, 11, 1)
  const options = { releaseDelayMs, now: () => now }
  return {
    outbox: outboxIn(dir, options),
    restart: async () => outboxIn(dir, options),
    async elapse(ms) {
      now += ms
    },
  }
})

const done = (input: ObservableInput<unknown>) =>
  lastValueFrom(from(input), { defaultValue: undefined })
const ids = (entries: readonly OutboxEntry[]) => entries.map((entry) => entry.event.id)
const files = async (dir: string) => (await readdir(dir)).sort()

describe('file route outbox, beyond the contract', () => {
  it('cuts off the torn last line a kill during an append leaves, and appends after it', async () => {
    const dir = await tempDir()
    const before = outboxIn(dir)
    await done(before.append([{ route: 'torn', events: [event('whole')] }]))
    const [segment] = await files(join(dir, 'torn'))
    await appendFile(join(dir, 'torn', segment!), '{"id":"torn","ty')
    const after = outboxIn(dir)
    await done(after.append([{ route: 'torn', events: [event('next')] }]))
    expect(ids(await value(after.read('torn', 10)))).toEqual(['whole', 'next'])
  })

  it('hands out again an entry whose acknowledgement was torn', async () => {
    const dir = await tempDir()
    const before = outboxIn(dir)
    await done(before.append([{ route: 'r', events: [event('a'), event('b')] }]))
    const read = await value(before.read('r', 10))
    await done(before.ack('r', [read[0]!.receipt]))
    const acks = (await files(join(dir, 'r'))).find((file) => file.endsWith('.acks'))!
    const lineOfB = read[1]!.receipt.split(':')[1]!
    await appendFile(join(dir, 'r', acks), lineOfB) // b's offset, its newline never written
    expect(ids(await value(outboxIn(dir).read('r', 10)))).toEqual(['b'])
  })

  it('skips and reports a line that is not an event, and hands out the others', async () => {
    const dir = await tempDir()
    const before = outboxIn(dir)
    await done(before.append([{ route: 'r', events: [event('a')] }]))
    const [segment] = await files(join(dir, 'r'))
    // What a machine crash can leave: a length written back before the data.
    await appendFile(join(dir, 'r', segment!), '\0\0\0\0\n')
    const unreadable: string[] = []
    const after = outboxIn(dir, {
      onUnreadable: (route, receipt) => unreadable.push(`${route} ${receipt}`),
    })
    await done(after.append([{ route: 'r', events: [event('b')] }]))
    expect(ids(await value(after.read('r', 10)))).toEqual(['a', 'b'])
    expect(unreadable).toHaveLength(1)
    expect(unreadable[0]).toMatch(/^r \d+:\d+$/)
  })

  it('reads an event larger than a read chunk whole', async () => {
    const dir = await tempDir()
    const outbox = outboxIn(dir)
    const big = { ...event('big'), properties: { blob: 'x'.repeat(3 << 20) } }
    await done(outbox.append([{ route: 'r', events: [event('small'), big, event('after')] }]))
    const read = await value(outbox.read('r', 10))
    expect(ids(read)).toEqual(['small', 'big', 'after'])
    expect(read[1]!.event).toEqual(big)
  })

  it('leaves one empty segment once everything is acknowledged', async () => {
    const dir = await tempDir()
    const outbox = outboxIn(dir, { compactBytes: 1 })
    await done(outbox.append([{ route: 'r', events: [event('a'), event('b')] }]))
    await done(
      outbox.ack(
        'r',
        (await value(outbox.read('r', 10))).map((entry) => entry.receipt),
      ),
    )
    const left = await files(join(dir, 'r'))
    expect(left).toEqual(['000000000002.events'])
    expect((await stat(join(dir, 'r', left[0]!))).size).toBe(0)
    await done(outbox.append([{ route: 'r', events: [event('c')] }]))
    expect(ids(await value(outboxIn(dir).read('r', 10)))).toEqual(['c'])
  })

  it('keeps a small acknowledged segment for further appends, and drops it at the next start', async () => {
    const dir = await tempDir()
    const outbox = outboxIn(dir)
    await done(outbox.append([{ route: 'r', events: [event('a')] }]))
    await done(
      outbox.ack(
        'r',
        (await value(outbox.read('r', 10))).map((entry) => entry.receipt),
      ),
    )
    expect(await files(join(dir, 'r'))).toEqual(['000000000001.acks', '000000000001.events'])
    await done(outboxIn(dir).open(['r']))
    expect(await files(join(dir, 'r'))).toEqual(['000000000002.events'])
  })

  it('starts a new segment past segmentBytes and deletes an older one as soon as all of it is done', async () => {
    const dir = await tempDir()
    const outbox = outboxIn(dir, { segmentBytes: 1 })
    await done(outbox.append([{ route: 'r', events: [event('a')] }]))
    await done(outbox.append([{ route: 'r', events: [event('b')] }]))
    await done(outbox.append([{ route: 'r', events: [event('c')] }]))
    expect((await files(join(dir, 'r'))).filter((file) => file.endsWith('.events'))).toHaveLength(3)
    const read = await value(outbox.read('r', 10))
    expect(ids(read)).toEqual(['a', 'b', 'c'])
    await done(outbox.ack('r', [read[1]!.receipt]))
    expect(await files(join(dir, 'r'))).toEqual(['000000000001.events', '000000000003.events'])
    expect(ids(await value(outboxIn(dir, { segmentBytes: 1 }).read('r', 10)))).toEqual(['a', 'c'])
  })

  it('keeps routes apart whatever their names hold', async () => {
    const dir = await tempDir()
    const outbox = outboxIn(dir)
    await done(
      outbox.append([
        { route: 'billing:eu', events: [event('1')] },
        { route: 'billing.eu', events: [event('2')] },
      ]),
    )
    expect(ids(await value(outboxIn(dir).read('billing:eu', 10)))).toEqual(['1'])
  })

  it('refuses a directory a live other process owns, and takes over one whose owner is gone', async () => {
    const owned = await tempDir()
    await writeFile(join(owned, 'owner.pid'), `${process.ppid}\n`)
    await expect(value(outboxIn(owned).open(['r']))).rejects.toThrow(
      `belongs to process ${process.ppid}`,
    )

    const orphaned = await tempDir()
    const gone = spawn(process.execPath, ['-e', ''])
    await once(gone, 'exit')
    await writeFile(join(orphaned, 'owner.pid'), `${gone.pid}\n`)
    await done(outboxIn(orphaned).open(['r']))
  })
})
