import { afterAll } from 'vitest'
import { fakeSluice } from '../../support/services.js'

/**
 * A Sluice for the examples of docs/client.md: in-process, storage in memory, on a free port.
 * Resolves with its WebSocket URL; stopped after the file's tests.
 */
export async function startSluice(): Promise<string> {
  const sluice = await fakeSluice({ HOST: '127.0.0.1' })
  const { wsPort } = await sluice.listen()
  afterAll(() => sluice.dispose())
  return `ws://127.0.0.1:${wsPort}`
}
