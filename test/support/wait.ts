/** Waiting in tests over real time: for states with no event to await. */

/**
 * Polls `condition` every `everyMs` until it holds; throws naming `what` once `timeoutMs` has passed.
 * The timeout is a ceiling for a failing test, never a measurement: a passing test returns as soon
 * as the condition holds.
 */
export async function until(
  condition: () => boolean | Promise<boolean>,
  timeoutMs = 10_000,
  what = 'condition',
  everyMs = 5,
): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`${what} not met in ${timeoutMs} ms`)
    await sleep(everyMs)
  }
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))
