import { once } from 'node:events'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { launch, type Instance } from './instance.js'

export interface Exit {
  readonly code: number | null
  readonly signal: NodeJS.Signals | null
  /** from the call to `exited()` (or the given start) to the 'exit' event */
  readonly ms: number
}

export interface EmbeddedInstance extends Instance {
  /** resolves when the process ends, or with `undefined` after `timeoutMs` (it is then still running) */
  exited(timeoutMs: number, since?: number): Promise<Exit | undefined>
  /** SIGKILL if still running, then remove the data directory */
  dispose(): Promise<void>
}

/**
 * `src/main.ts` with embedded chDB in a fresh data directory. CLICKHOUSE_URL is set empty (read as
 * unset) so that a CLICKHOUSE_URL in the test runner's environment cannot switch it to server mode.
 */
export async function launchEmbedded(env: Record<string, string> = {}): Promise<EmbeddedInstance> {
  const dataDir = await mkdtemp(join(tmpdir(), 'sluice-embedded-'))
  let instance: Instance
  try {
    instance = await launch({ CLICKHOUSE_URL: '', DATA_DIR: dataDir, ...env })
  } catch (error) {
    await rm(dataDir, { recursive: true, force: true })
    throw error
  }
  const ended = once(instance.child, 'exit') as Promise<[number | null, NodeJS.Signals | null]>
  return Object.assign(instance, {
    async exited(timeoutMs: number, since = Date.now()) {
      let timer: NodeJS.Timeout | undefined
      const timeout = new Promise<undefined>(
        (resolve) => (timer = setTimeout(() => resolve(undefined), timeoutMs)),
      )
      const result = await Promise.race([
        ended.then(([code, signal]) => ({ code, signal, ms: Date.now() - since })),
        timeout,
      ])
      clearTimeout(timer)
      return result
    },
    async dispose() {
      if (instance.alive) await instance.stop('SIGKILL')
      await rm(dataDir, { recursive: true, force: true })
    },
  })
}

/** An exit that a supervisor treats as a failure: a non-zero code, or death by a signal. */
export function failed(exit: Exit | undefined): boolean {
  return exit !== undefined && (exit.signal !== null || (exit.code !== null && exit.code !== 0))
}
