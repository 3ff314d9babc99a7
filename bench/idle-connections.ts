/**
 * How much memory idle WebSocket connections cost the server: open `count` connections from this
 * (client) process, wait for every welcome, and let the caller read the server's RSS; then close.
 */
import WebSocket from 'ws'

// A failure is reported to the parent, which otherwise waits for an answer that never comes.
const fail = (error: unknown) =>
  process.send!({ error: error instanceof Error ? error.message : String(error) }, () =>
    process.exit(1),
  )

process.once(
  'message',
  ({ url, count }: { url: string; count: number }) => void open(url, count).catch(fail),
)

async function open(url: string, count: number): Promise<void> {
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
  process.once('message', () => void closeAll(sockets).catch(fail))
}

async function closeAll(sockets: readonly WebSocket[]): Promise<void> {
  await Promise.all(
    sockets.map(
      (socket) =>
        new Promise<void>((resolve) => (socket.once('close', () => resolve()), socket.close())),
    ),
  )
  process.send!({ closed: true }, () => process.exit(0))
}
