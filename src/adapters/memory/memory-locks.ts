import type { Lock, Locks } from '../../streams/routing/ports.js'
import { waitForLock } from '../../streams/routing/wait-for-lock.js'

/**
 * The locks of a process that is alone (no Redis: the in-process dedupe store and the journal
 * outbox already make it so): a set of names held. Nothing lapses, so `ttlMs` is 0.
 */
export function createMemoryLocks(): Locks {
  const held = new Set<string>()
  function take(name: string): Promise<Lock | undefined> {
    if (held.has(name)) return Promise.resolve(undefined)
    held.add(name)
    let released = false
    return Promise.resolve({
      name,
      lost: false,
      release() {
        if (!released) held.delete(name)
        released = true
        return Promise.resolve()
      },
    })
  }
  return {
    ttlMs: 0,
    take,
    holder: (name) => Promise.resolve(held.has(name) ? `this process (${process.pid})` : undefined),
    wait: (name, waitMs, pollMs) => waitForLock(take, name, waitMs, pollMs),
  }
}
