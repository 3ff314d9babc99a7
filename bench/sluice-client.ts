/**
 * The bench's WS load through sluice/client instead of the bench's own frame writer: one client
 * (one connection) per bench connection, each publish one frame of the scenario's events. What it
 * measures beside the bench's own client is the library's cost — ids, frame tracking, results —
 * in events/s and client CPU per event.
 */
import { createClient } from '../src/client.js'

type Done = (statuses: string[] | Error) => void

/** A sender for bench/client.ts: `publish` per frame; resolves once the client is connected. */
export async function sluiceClientSender(
  url: string,
): Promise<((frame: unknown[], done: Done) => void) & { close: () => Promise<void> }> {
  const client = createClient({ url })
  // Connected before the clock starts, as the bench's own sender is (it waits for the welcome).
  for (let waited = 0; !client.stats().connected; waited += 5) {
    if (waited > 10_000) throw new Error('sluice/client did not connect within 10 s')
    await new Promise((resolve) => setTimeout(resolve, 5))
  }
  const send = (frame: unknown[], done: Done) => {
    client.publish(frame as Parameters<typeof client.publish>[0]).then(
      (results) => done(results.map((result) => result.status)),
      (error: unknown) => done(error instanceof Error ? error : new Error(String(error))),
    )
  }
  return Object.assign(send, { close: () => client.close() })
}
