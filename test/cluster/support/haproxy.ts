import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

export interface Backend {
  readonly port: number
  readonly wsPort: number
}

export interface Haproxy {
  readonly url: string
  readonly wsUrl: string
  stop(): Promise<void>
}

/*
 * HAProxy in front of Sluice processes, as docs/scaling.md deploys it: TCP mode (WebSocket and
 * REST pass through untouched, TLS would end here or at the instances), round robin, and a
 * health check that asks each instance's GET /ready, so an instance whose Redis or ClickHouse is
 * gone, or that is shutting down, gets no new connections. Both frontends check the HTTP port.
 */
function config(http: number, ws: number, backends: readonly Backend[]): string {
  const servers = (port: (b: Backend) => number) =>
    backends
      .map(
        (b, i) =>
          `    server s${i} 127.0.0.1:${port(b)} check port ${b.port} inter 300 fall 2 rise 1`,
      )
      .join('\n')
  return `global
    maxconn 2000
defaults
    mode tcp
    timeout connect 2s
    timeout client 60s
    timeout server 60s
    retries 3
    option redispatch
frontend http
    bind 127.0.0.1:${http}
    default_backend sluice_http
frontend ws
    bind 127.0.0.1:${ws}
    default_backend sluice_ws
backend sluice_http
    balance roundrobin
    option httpchk GET /ready
${servers((b) => b.port)}
backend sluice_ws
    balance roundrobin
    option httpchk GET /ready
${servers((b) => b.wsPort)}
`
}

/** Starts haproxy in the foreground (its child process is ours to stop) on the two given ports. */
export async function startHaproxy(
  ports: { http: number; ws: number },
  backends: readonly Backend[],
): Promise<Haproxy> {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-haproxy-'))
  const file = join(dir, 'haproxy.cfg')
  writeFileSync(file, config(ports.http, ports.ws, backends))
  const child: ChildProcess = spawn('haproxy', ['-db', '-f', file], {
    stdio: ['ignore', 'ignore', 'pipe'],
  })
  let errors = ''
  child.stderr!.on('data', (chunk: Buffer) => (errors += chunk.toString()))
  const deadline = Date.now() + 10_000
  for (;;) {
    if (child.exitCode !== null) throw new Error(`haproxy exited: ${errors}`)
    const up = await fetch(`http://127.0.0.1:${ports.http}/health`).then(
      (response) => response.ok,
      () => false,
    )
    if (up) break
    if (Date.now() > deadline) throw new Error(`haproxy not forwarding within 10 s: ${errors}`)
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  return {
    url: `http://127.0.0.1:${ports.http}`,
    wsUrl: `ws://127.0.0.1:${ports.ws}`,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return
      child.kill('SIGTERM')
      await once(child, 'exit')
    },
  }
}
