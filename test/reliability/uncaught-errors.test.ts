import { EventEmitter } from 'node:events'
import { Writable } from 'node:stream'
import pino from 'pino'
import { Counter, Registry } from 'prom-client'
import { describe, expect, it } from 'vitest'
import { summarize, watchUncaughtErrors } from '../../src/process/uncaught-errors.js'

// Issue 12.1, the process's last net: escaped errors are logged (one line) and counted, the process
// keeps serving, and a flood of them (something shared is broken) ends it.

function setup(options: { maxPerWindow?: number; windowMs?: number } = {}) {
  const lines: Array<Record<string, any>> = []
  const sink = new Writable({
    write(chunk, _encoding, done) {
      for (const line of String(chunk).split('\n').filter(Boolean)) lines.push(JSON.parse(line))
      done()
    },
  })
  const registry = new Registry()
  const counter = new Counter({
    name: 'sluice_uncaught_errors_total',
    help: 'test',
    labelNames: ['kind'] as const,
    registers: [registry],
  })
  const target = new EventEmitter()
  const floods: number[] = []
  const unwatch = watchUncaughtErrors({
    logger: pino({ level: 'info' }, sink),
    counter,
    target,
    onFlood: (count) => floods.push(count),
    ...options,
  })
  const count = async (kind: string) =>
    (await counter.get()).values.find((value) => value.labels.kind === kind)?.value
  return { lines, target, floods, unwatch, count }
}

describe('watchUncaughtErrors', () => {
  it('logs an uncaught exception on one line with its message and stack, and counts it by kind', async () => {
    const { lines, target, count } = setup()
    target.emit('uncaughtException', new TypeError('one client broke this'))
    expect(lines).toHaveLength(1)
    expect(lines[0]).toMatchObject({
      level: 50,
      kind: 'uncaughtException',
      error: { type: 'TypeError', message: 'one client broke this' },
    })
    expect(lines[0]!.error.stack).toContain('uncaught-errors.test.ts')
    expect(await count('uncaughtException')).toBe(1)
    expect(await count('unhandledRejection')).toBe(0)
  })

  it('logs and counts an unhandled rejection, whatever was rejected', async () => {
    const { lines, target, count } = setup()
    target.emit('unhandledRejection', 'a bare string', Promise.resolve())
    expect(lines[0]).toMatchObject({
      kind: 'unhandledRejection',
      error: { type: 'string', message: 'a bare string' },
    })
    expect(await count('unhandledRejection')).toBe(1)
  })

  it('bounds what it logs of a huge message (a client value quoted in full)', () => {
    const { lines, target } = setup()
    target.emit('uncaughtException', new Error('x'.repeat(1_000_000)))
    expect(lines[0]!.error.message).toHaveLength(500)
    expect(lines[0]!.error.stack.length).toBeLessThanOrEqual(4000)
  })

  it('survives thrown values that throw when read', () => {
    const { lines, target } = setup()
    const hostile = new Error()
    // stack first: V8 formats it from the message on first read
    Object.defineProperty(hostile, 'stack', {
      get: () => {
        throw new Error('getter')
      },
    })
    Object.defineProperty(hostile, 'message', {
      get: () => {
        throw new Error('getter')
      },
    })
    const unprintable = {
      toString: () => {
        throw new Error('toString')
      },
    }
    expect(() => target.emit('uncaughtException', hostile)).not.toThrow()
    expect(() => target.emit('uncaughtException', unprintable)).not.toThrow()
    expect(() => target.emit('uncaughtException', Object.create(null))).not.toThrow()
    expect(lines.map((line) => line.error.message)).toEqual([
      '(unreadable message)',
      '(unprintable value)',
      '(unprintable value)',
    ])
  })

  it('keeps going below the bound, and calls onFlood once when more than the bound arrive within the window', () => {
    const { target, floods } = setup({ maxPerWindow: 5, windowMs: 60_000 })
    for (let i = 0; i < 5; i++) target.emit('uncaughtException', new Error(`#${i}`))
    expect(floods).toEqual([])
    target.emit('unhandledRejection', new Error('#5'))
    target.emit('uncaughtException', new Error('#6'))
    expect(floods).toEqual([6])
  })

  it('forgets errors older than the window', async () => {
    const { target, floods } = setup({ maxPerWindow: 2, windowMs: 50 })
    target.emit('uncaughtException', new Error('a'))
    target.emit('uncaughtException', new Error('b'))
    await new Promise((resolve) => setTimeout(resolve, 80))
    target.emit('uncaughtException', new Error('c'))
    target.emit('uncaughtException', new Error('d'))
    expect(floods).toEqual([])
  })

  it('stops listening when unwatched', () => {
    const { target, unwatch } = setup()
    unwatch()
    expect(target.listenerCount('uncaughtException')).toBe(0)
    expect(target.listenerCount('unhandledRejection')).toBe(0)
  })
})

describe('summarize', () => {
  it('names null and non-Error values by their type', () => {
    expect(summarize(null)).toEqual({ type: 'null', message: 'null' })
    expect(summarize(42)).toEqual({ type: 'number', message: '42' })
  })
})
