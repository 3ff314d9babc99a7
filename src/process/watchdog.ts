import { Worker } from 'node:worker_threads'

/** What the watchdog thread is started with. */
export interface WatchdogData {
  /** `[0]` is incremented by the main thread while it runs */
  readonly beats: Int32Array
  readonly stallMs: number
  readonly pollMs: number
}

export type WatchdogMessage = { readonly type: 'stopping'; readonly withinMs: number }

export interface WatchdogOptions {
  /**
   * How long the main thread may not run before the process is killed. Measured: under a flood of
   * 8 clients posting 1,000-event batches to embedded chDB for 30 s, the longest block of the main
   * thread was 444 ms (tsx) and 728 ms (dist/), by event-loop delay; 10 s is over 13 times that.
   * A fatal-signal handler is caught by its signal mask within a second, not by this.
   */
  readonly stallMs?: number
  /** how often the watchdog looks; a fatal-signal handler is seen within two polls */
  readonly pollMs?: number
  /** the watchdog thread failed (it could not start): the process runs on unwatched */
  readonly onError?: (error: unknown) => void
}

export interface Watchdog {
  /** a shutdown began: the process is killed if it still runs `withinMs` from now */
  stopping(withinMs: number): void
  close(): Promise<void>
}

/**
 * Starts a watchdog thread that kills the process when a fatal signal leaves it hanging (embedded
 * chDB's handler), when the main thread stops running, or when a shutdown overruns its deadline
 * (see watchdog-worker.ts). Neither the thread nor the heartbeat keeps the process alive.
 *
 * Why a thread rather than a supervising parent process: the process keeps one pid (what a
 * container runtime, systemd or a test signals and measures is Sluice itself), there is no
 * second process to orphan when someone sends SIGKILL, and nothing changes for server mode.
 */
export function startWatchdog(options: WatchdogOptions = {}): Watchdog {
  const { stallMs = 10_000, pollMs = 500, onError } = options
  const beats = new Int32Array(new SharedArrayBuffer(4))
  const heartbeat = setInterval(
    function beat() {
      Atomics.add(beats, 0, 1)
    },
    Math.max(10, Math.floor(pollMs / 2)),
  )
  heartbeat.unref()
  const data: WatchdogData = { beats, stallMs, pollMs }
  const [entry, how] = workerEntry()
  const worker = new Worker(entry, { ...how, workerData: data, name: 'sluice-watchdog' })
  worker.unref()
  worker.on('error', (error) => onError?.(error))
  return {
    stopping(withinMs) {
      worker.postMessage({ type: 'stopping', withinMs } satisfies WatchdogMessage)
    },
    async close() {
      clearInterval(heartbeat)
      await worker.terminate()
    },
  }
}

/**
 * The sibling file, run as this one runs: `.js` from dist/ as it is; `.ts` under tsx through a
 * bootstrap that registers tsx in the thread first (Node 20 does not run `--import` preloads in
 * workers: the `.ts` file alone fails with ERR_UNKNOWN_FILE_EXTENSION).
 */
function workerEntry(): [string | URL, { eval?: boolean }] {
  if (!import.meta.url.endsWith('.ts'))
    return [new URL('./watchdog-worker.js', import.meta.url), {}]
  const file = JSON.stringify(new URL('./watchdog-worker.ts', import.meta.url).href)
  return [
    `import('tsx/esm/api').then(({ register }) => (register(), import(${file})))`,
    { eval: true },
  ]
}
