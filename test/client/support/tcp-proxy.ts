import { createServer, connect, type Server, type Socket } from 'node:net'
import type { AddressInfo } from 'node:net'

/**
 * A TCP proxy between the client and Sluice, for network faults no server would produce:
 * `cut()` resets every connection through it (no close frame, no FIN: what a dropped NAT entry or
 * a pulled cable looks like), `stall()` stops moving bytes on every open connection while keeping
 * it open (a half-dead peer). New connections go through normally either way.
 */
export interface TcpProxy {
  readonly port: number
  /** connections opened through it so far */
  readonly connections: number
  cut(): void
  stall(): void
  close(): Promise<void>
}

export async function startTcpProxy(targetPort: number): Promise<TcpProxy> {
  const pairs = new Set<[Socket, Socket]>()
  const stalled: Socket[] = []
  let connections = 0
  const server: Server = createServer((downstream) => {
    connections++
    const upstream = connect(targetPort, '127.0.0.1')
    const pair: [Socket, Socket] = [downstream, upstream]
    pairs.add(pair)
    downstream.pipe(upstream)
    upstream.pipe(downstream)
    const end = () => {
      pairs.delete(pair)
      downstream.destroy()
      upstream.destroy()
    }
    for (const socket of pair) socket.on('error', end).on('close', end)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    port: (server.address() as AddressInfo).port,
    get connections() {
      return connections
    },
    cut() {
      for (const pair of [...pairs]) for (const socket of pair) socket.resetAndDestroy()
    },
    stall() {
      for (const pair of [...pairs]) {
        pairs.delete(pair)
        for (const socket of pair) {
          socket.unpipe()
          socket.pause()
          stalled.push(socket)
        }
      }
    },
    async close() {
      for (const socket of stalled) socket.destroy()
      for (const pair of pairs) for (const socket of pair) socket.destroy()
      await new Promise((resolve) => server.close(resolve))
    },
  }
}
