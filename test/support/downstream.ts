import { once } from 'node:events'
import http from 'node:http'
import type { AddressInfo } from 'node:net'

export interface Answer {
  readonly status: number
  readonly headers?: Record<string, string>
  /** answer this late */
  readonly delayMs?: number
}

export interface DownstreamRequest {
  readonly at: number
  readonly route: string
  readonly key: string
  readonly ids: readonly string[]
  readonly status: number
}

/** A destination on 127.0.0.1 (an ephemeral port) that answers as told and records every request. */
export async function startDownstream(
  answer: (ids: readonly string[]) => Answer = () => ({ status: 200 }),
) {
  const requests: DownstreamRequest[] = []
  /** ids delivered (answered 2xx), with how many times */
  const delivered = new Map<string, number>()
  const server = http.createServer((request, response) => {
    let body = ''
    request.setEncoding('utf8')
    request.on('data', (chunk: string) => (body += chunk))
    request.on('end', () => {
      const ids = (JSON.parse(body) as { events: Array<{ id: string }> }).events.map((e) => e.id)
      const { status, headers = {}, delayMs = 0 } = state.answer(ids)
      setTimeout(() => {
        if (response.destroyed) return
        requests.push({
          at: Date.now(),
          route: String(request.headers['x-sluice-route']),
          key: String(request.headers['idempotency-key']),
          ids,
          status,
        })
        if (status >= 200 && status < 300)
          for (const id of ids) delivered.set(id, (delivered.get(id) ?? 0) + 1)
        response.writeHead(status, headers).end()
      }, delayMs)
    })
  })
  const state = { answer }
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`,
    requests,
    delivered,
    answer(next: (ids: readonly string[]) => Answer) {
      state.answer = next
    },
    async close() {
      server.closeAllConnections()
      await new Promise((resolve) => server.close(resolve))
    },
  }
}

export { until } from './wait.js'
