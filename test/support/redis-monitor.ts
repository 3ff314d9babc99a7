import { connect } from 'node:net'

/** One command as Redis's MONITOR reports it: `source` is `lua` for a script's own calls, else the client's address. */
export type MonitorListener = (args: string[], source: string) => void

export interface RedisMonitor {
  /** Calls `listener` for every command MONITOR reports from now on. */
  on(listener: MonitorListener): void
  close(): void
}

/**
 * Redis's MONITOR on a plain socket. ioredis's `monitor()` has a race: output that arrives in the
 * same read as MONITOR's own `+OK` is taken for replies to commands it never sent ("Command queue
 * state error", thrown from its socket handler) — and on a Redis that other test files use at the
 * same time, output always follows at once. Resolves once MONITOR has answered, so every command
 * sent after that is reported.
 */
export function monitorRedis(url: string): Promise<RedisMonitor> {
  const { hostname, port } = new URL(url)
  const socket = connect(Number(port || 6379), hostname || '127.0.0.1')
  const listeners: MonitorListener[] = []
  let buffered = ''
  return new Promise((resolve, reject) => {
    let started = false
    socket.once('error', reject)
    socket.on('data', (chunk: Buffer) => {
      buffered += chunk.toString('latin1')
      let end: number
      while ((end = buffered.indexOf('\r\n')) >= 0) {
        const line = buffered.slice(0, end)
        buffered = buffered.slice(end + 2)
        if (!started) {
          if (line !== '+OK') return reject(new Error(`MONITOR answered ${line}`))
          started = true
          socket.off('error', reject)
          socket.on('error', () => {})
          resolve({
            on: (listener) => void listeners.push(listener),
            close: () => socket.destroy(),
          })
          continue
        }
        const parsed = parseMonitorLine(line)
        if (parsed) for (const listener of listeners) listener(parsed.args, parsed.source)
      }
    })
    socket.write('MONITOR\r\n')
  })
}

/** `+1700000000.123456 [0 127.0.0.1:5000] "set" "k" "v"` → the arguments, unescaped, and the source. */
function parseMonitorLine(line: string): { args: string[]; source: string } | undefined {
  const match = /^\+\d+\.\d+ \[\d+ ([^\]]+)\] (.*)$/.exec(line)
  if (!match) return undefined
  const args = [...match[2]!.matchAll(/"((?:[^"\\]|\\.)*)"/g)].map((m) => unescapeArg(m[1]!))
  return { args, source: match[1]! }
}

function unescapeArg(text: string): string {
  return text.replace(/\\(x[0-9a-fA-F]{2}|.)/g, (_all, escaped: string) => {
    if (escaped.startsWith('x') && escaped.length === 3)
      return String.fromCharCode(parseInt(escaped.slice(1), 16))
    return (
      ({ n: '\n', r: '\r', t: '\t', a: '\x07', b: '\b' } as Record<string, string>)[escaped] ??
      escaped
    )
  })
}
