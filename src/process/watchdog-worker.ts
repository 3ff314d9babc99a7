import { readdirSync, readFileSync, writeSync } from 'node:fs'
import { parentPort, workerData } from 'node:worker_threads'
import type { WatchdogData, WatchdogMessage } from './watchdog.js'

/*
 * The watchdog's thread: its own event loop, so it keeps running while the main thread is stuck.
 * It ends the process with SIGKILL — the one signal no handler can delay — when:
 *  - a thread has been inside a fatal-signal handler for two polls in a row (embedded chDB's handler
 *    sleeps ~303 s before it lets the process die; see abort-signal.ts);
 *  - the main thread has not beaten for `stallMs` (stuck anywhere, e.g. in that handler on a system
 *    without /proc);
 *  - a shutdown began and its deadline passed (SIGTERM always ends the process).
 */

const { beats, stallMs, pollMs } = workerData as WatchdogData

// Signal numbers as bits of /proc/<pid>/task/<tid>/status `SigBlk` (bit n-1 for signal n).
const bit = (signal: number) => 1n << BigInt(signal - 1)
const SIGILL = 4,
  SIGABRT = 6,
  SIGBUS = 7,
  SIGFPE = 8,
  SIGSEGV = 11,
  SIGTERM = 15
const FATAL = bit(SIGILL) | bit(SIGABRT) | bit(SIGBUS) | bit(SIGFPE) | bit(SIGSEGV)

/**
 * Threads that are inside ClickHouse's fatal-signal handler. While it runs, the kernel blocks the
 * handler's `sa_mask` on that thread: every fatal signal, but not SIGTERM. Threads that block every
 * signal (Node's and V8's helpers) block SIGTERM too; a running thread blocks none of the fatal ones.
 */
function threadsInFatalHandler(): Set<string> {
  const found = new Set<string>()
  let tids: string[]
  try {
    tids = readdirSync('/proc/self/task')
  } catch {
    return found // no /proc (macOS): the heartbeat alone watches
  }
  for (const tid of tids) {
    try {
      const match = /^SigBlk:\s*([0-9a-f]+)$/m.exec(
        readFileSync(`/proc/self/task/${tid}/status`, 'utf8'),
      )
      if (!match) continue
      const blocked = BigInt(`0x${match[1]}`)
      if ((blocked & FATAL) === FATAL && (blocked & bit(SIGTERM)) === 0n) found.add(tid)
    } catch {
      // the thread ended between the listing and the read
    }
  }
  return found
}

function kill(reason: string, details: Record<string, unknown>): never {
  // One line like the root logger's (pino, level 60 = fatal), written synchronously: nothing after it runs.
  const line = JSON.stringify({
    level: 60,
    time: Date.now(),
    pid: process.pid,
    component: 'watchdog',
    ...details,
    msg: `watchdog: ${reason}; killing the process (SIGKILL)`,
  })
  try {
    writeSync(1, `${line}\n`)
  } catch {
    // stdout closed: kill anyway
  }
  process.kill(process.pid, 'SIGKILL')
  throw new Error('unreachable: SIGKILL was sent')
}

let lastCount = Atomics.load(beats, 0)
let lastChange = Date.now()
let lastTick = Date.now()
let deadline = Infinity
let suspects = new Set<string>()

parentPort!.on('message', (message: WatchdogMessage) => {
  if (message.type === 'stopping') deadline = Math.min(deadline, Date.now() + message.withinMs)
})

setInterval(function watch() {
  const now = Date.now()
  // A tick this late means the whole process was paused (SIGSTOP, a frozen VM, CPU starvation), not
  // the main thread alone: restart the stall clock rather than blame the main thread.
  if (now - lastTick > stallMs / 2) lastChange = now
  lastTick = now
  const count = Atomics.load(beats, 0)
  if (count !== lastCount) {
    lastCount = count
    lastChange = now
  }
  const inHandler = threadsInFatalHandler()
  const stuck = [...inHandler].filter((tid) => suspects.has(tid))
  suspects = inHandler
  if (stuck.length > 0)
    kill('a thread is inside a fatal-signal handler', {
      threads: stuck,
      mainThread: stuck.includes(String(process.pid)),
    })
  if (now - lastChange > stallMs)
    kill(`the main thread has not run for ${now - lastChange} ms`, { stallMs })
  if (now > deadline) kill('shutdown did not finish by its deadline', {})
}, pollMs)
