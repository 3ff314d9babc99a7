/**
 * How much memory idle WebSocket connections cost the server: open `count` connections from this
 * (client) process, wait for every welcome, and let the caller read the server's RSS; then close.
 */
import WebSocket from 'ws'

process.once('message', async ({ url, count }: { url: string; count: number }) => {
  const sockets: WebSocket[] = []
  let opened = 0
  // In waves, so that the server's accept queue is not the thing measured.
  for (let wave = 0; wave < count; wave += 500) {
    await Promise.all(
      Array.from({ length: Math.min(500, count - wave) }, () => {
        const socket = new WebSocket(url, { perMessageDeflate: false })
        sockets.push(socket)
        return new Promise<void>((resolve, reject) => {
          socket.once('message', () => (opened++, resolve()))
          socket.once('error', reject)
        })
      }),
    )
  }
  process.send!({ opened })
  process.once('message', async () => {
    await Promise.all(sockets.map((socket) => new Promise<void>((resolve) => (socket.once('close', () => resolve()), socket.close()))))
    process.send!({ closed: true }, () => process.exit(0))
  })
})
