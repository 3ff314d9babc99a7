import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { processStats, resetPeak, type ProcessStats } from './process-stats.js'

export interface ServerProcess {
  readonly child: ChildProcess
  readonly httpUrl: string
  readonly wsUrl: string | undefined
  stats(): ProcessStats
  resetPeak(): void
  stop(): Promise<number | null>
}

/**
 * Starts a server process for the bench (Sluice from dist/, or the baseline) and waits for the line
 * that says where it listens: `listening … http :<port>[, ws :<port>]`.
 */
export async function startServer(
  script: string,
  env: Record<string, string>,
): Promise<ServerProcess> {
  const child = spawn(
    process.execPath,
    [
      ...(process.env.BENCH_NODE_FLAGS ?? '').split(' ').filter(Boolean),
      ...(script.endsWith('.js') ? [] : ['--import', 'tsx']),
      script,
    ],
    {
      env: { ...process.env, PORT: '0', WS_PORT: '0', LOG_LEVEL: 'info', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  )
  let output = ''
  const collect = (chunk: Buffer) => (output += chunk.toString())
  child.stdout.on('data', collect)
  child.stderr.on('data', collect)
  const ports = await new Promise<{ http: number; ws?: number }>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`server did not start within 60 s:\n${output}`)),
      60_000,
    )
    const look = () => {
      const match = /listening.*?http :(\d+)(?:, ws :(\d+))?/.exec(output)
      if (match) {
        clearTimeout(timer)
        resolve({ http: Number(match[1]), ...(match[2] && { ws: Number(match[2]) }) })
      }
    }
    child.stdout.on('data', look)
    child.stderr.on('data', look)
    child.once('exit', (code) => reject(new Error(`server exited ${code}:\n${output}`)))
  })
  return {
    child,
    httpUrl: `http://127.0.0.1:${ports.http}`,
    wsUrl: ports.ws === undefined ? undefined : `ws://127.0.0.1:${ports.ws}`,
    stats: () => processStats(child.pid!),
    resetPeak: () => resetPeak(child.pid!),
    async stop() {
      if (child.exitCode !== null) return child.exitCode
      child.kill('SIGTERM')
      const [code] = (await once(child, 'exit')) as [number | null]
      return code
    },
  }
}
