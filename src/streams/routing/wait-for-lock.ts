import type { Lock } from './ports.js'

/** `Locks.wait` for any store: `take` again every `pollMs` until it gives the lock or `waitMs` has passed. */
export async function waitForLock(
  take: (name: string) => Promise<Lock | undefined>,
  name: string,
  waitMs: number,
  pollMs = 200,
): Promise<Lock | undefined> {
  const deadline = Date.now() + waitMs
  for (;;) {
    const lock = await take(name)
    if (lock || Date.now() >= deadline) return lock
    await new Promise((resolve) => setTimeout(resolve, Math.min(pollMs, deadline - Date.now())))
  }
}
