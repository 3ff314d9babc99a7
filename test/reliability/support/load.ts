import WebSocket from 'ws'
import { sleep } from '../../support/wait.js'

export { sleep }

/*
 * Load clients that behave as API.md tells a client to: keep what was sent until a result comes,
 * honour Retry-After on 503, re-send what failed or got no answer. A ledger records every event sent
 * and every result received, per id, so a test can compare what clients were told with what
 * ClickHouse holds.
 */

export type Status = 'accepted' | 'duplicate' | 'rejected' | 'failed'
export interface Result {
  readonly index: number
  readonly id: string
  readonly status: Status
  readonly conflict?: boolean
}
export interface TestEvent {
  readonly id: string
  readonly type: string
  readonly properties?: Record<string, unknown>
}

/** Events with ids `<prefix>-<n>`, numbered across every call, so each id is new. */
export function eventSource(prefix: string, type: string) {
  let n = 0
  return (count: number): TestEvent[] =>
    Array.from({ length: count }, () => ({
      id: `${prefix}-${n}`,
      type,
      properties: { n: n++, pad: 'x'.repeat(32) },
    }))
}

export class Ledger {
  /** every event sent at least once, by id */
  readonly events = new Map<string, TestEvent>()
  /** when each event was first sent (Date.now()) */
  readonly sentAt = new Map<string, number>()
  /** every result received for an id, in order, with who answered */
  readonly answers = new Map<string, Array<{ status: Status; via: string }>>()
  readonly counts = {
    requests: 0,
    frames: 0,
    overloaded: 0,
    storageUnavailable: 0,
    retryAfterMissing: 0,
    networkErrors: 0,
  }
  /** anything a client did not expect: statuses outside the contract, error frames, broken acks */
  readonly unexpected: string[] = []

  sent(events: readonly TestEvent[]): void {
    const now = Date.now()
    for (const event of events) {
      if (this.events.has(event.id)) continue
      this.events.set(event.id, event)
      this.sentAt.set(event.id, now)
    }
  }

  record(results: readonly Result[], via: string, sent: readonly TestEvent[]): void {
    if (results.length !== sent.length)
      this.unexpected.push(`${via}: ${results.length} results for ${sent.length} events`)
    results.forEach((result, i) => {
      if (result.index !== i || result.id !== sent[i]?.id)
        this.unexpected.push(`${via}: result ${i} is ${JSON.stringify(result)} for ${sent[i]?.id}`)
      const list = this.answers.get(result.id) ?? []
      list.push({ status: result.status, via })
      this.answers.set(result.id, list)
    })
  }

  last(id: string): Status | undefined {
    return this.answers.get(id)?.at(-1)?.status
  }

  /** ids sent whose last result is `failed`, or that got no result at all: a client sends these again */
  unsettled(): string[] {
    return [...this.events.keys()].filter((id) => {
      const last = this.last(id)
      return last === undefined || last === 'failed'
    })
  }

  /** ids that got `status` at least once */
  ever(status: Status): string[] {
    return [...this.answers]
      .filter(([, list]) => list.some((a) => a.status === status))
      .map(([id]) => id)
  }

  /** who answered `accepted` for an id */
  acceptedBy(id: string): string[] {
    return (this.answers.get(id) ?? []).filter((a) => a.status === 'accepted').map((a) => a.via)
  }
}

export interface Answered {
  readonly status: number
  readonly retryAfter: string | null
  readonly body: any
}

export async function post(
  url: string,
  path: string,
  body: unknown,
  headers: Record<string, string> = {},
): Promise<Answered> {
  const response = await fetch(`${url}${path}`, {
    method: 'POST',
    body: JSON.stringify(body),
    headers: { 'content-type': 'application/json', ...headers },
  })
  const text = await response.text()
  let parsed: unknown
  try {
    parsed = JSON.parse(text)
  } catch {
    parsed = text
  }
  return { status: response.status, retryAfter: response.headers.get('retry-after'), body: parsed }
}

export interface RestWorkerOptions {
  readonly url: string
  readonly ledger: Ledger
  readonly next: () => TestEvent[]
  readonly running: () => boolean
  readonly via: string
  /** POST /v1/events with one event instead of /v1/events/batch */
  readonly single?: boolean
  /** pause between requests (a steady load, not a flood) */
  readonly pauseMs?: number
}

/**
 * Posts batches (or single events) while `running()`. A 503 `overloaded` took nothing: the same
 * events are sent again after Retry-After. Stops at a network error (the server is gone): what it
 * sent last stays without a result in the ledger, for the test to re-send.
 */
export async function restWorker(options: RestWorkerOptions): Promise<void> {
  const { url, ledger, next, running, via, single = false, pauseMs = 0 } = options
  while (running()) {
    const events = next()
    ledger.sent(events)
    for (;;) {
      let answer: Answered
      try {
        answer = single
          ? await post(url, '/v1/events', events[0])
          : await post(url, '/v1/events/batch', { events })
      } catch {
        ledger.counts.networkErrors++
        return
      }
      ledger.counts.requests++
      if (answer.status === 503) {
        if (answer.retryAfter === null || !/^\d+$/.test(answer.retryAfter))
          ledger.counts.retryAfterMissing++
        const code = answer.body?.error?.code
        if (code === 'overloaded') {
          ledger.counts.overloaded++
          if (!running()) break
          await sleep(Number(answer.retryAfter ?? 1) * 1000)
          continue
        }
        if (code === 'storage_unavailable' && single) {
          ledger.counts.storageUnavailable++
          ledger.record([{ index: 0, id: events[0]!.id, status: 'failed' }], via, events)
          break
        }
      }
      if (single && answer.status === 202) ledger.record([answer.body as Result], via, events)
      else if (!single && answer.status === 200)
        ledger.record((answer.body as { results: Result[] }).results, via, events)
      else
        ledger.unexpected.push(
          `${via}: ${answer.status} ${JSON.stringify(answer.body).slice(0, 300)}`,
        )
      break
    }
    if (pauseMs > 0) await sleep(pauseMs)
  }
}

export interface WsWorkerOptions {
  readonly url: string
  readonly ledger: Ledger
  readonly next: () => TestEvent[]
  readonly running: () => boolean
  readonly via: string
  /** publish frames sent and not yet acked, at most */
  readonly window: number
  /** one frame every this many ms while the window has room */
  readonly intervalMs: number
  /** once `running()` is false, how long to wait for the acks still due */
  readonly settleTimeoutMs?: number
}

/**
 * One WebSocket connection publishing frames while `running()`, at most `window` unacked. Resolves
 * once every frame sent is acked after `running()` turned false, or when the server closes the
 * connection (shutdown, crash): frames without an ack stay without a result in the ledger.
 */
export function wsWorker(options: WsWorkerOptions): Promise<{ closeCode: number | undefined }> {
  const { url, ledger, next, running, via, window, intervalMs, settleTimeoutMs = 60_000 } = options
  const outstanding = new Map<number, TestEvent[]>()
  let seq = 0
  return new Promise((resolve) => {
    const ws = new WebSocket(url)
    let timer: NodeJS.Timeout | undefined
    let stoppedAt: number | undefined
    const finish = (closeCode: number | undefined) => {
      clearInterval(timer)
      resolve({ closeCode })
    }
    ws.on('error', () => ledger.counts.networkErrors++)
    ws.on('close', (code) => finish(code))
    ws.on('message', (data) => {
      const message = JSON.parse(data.toString()) as {
        op: string
        seq?: number
        ref?: string
        results?: Result[]
      }
      if (message.op === 'welcome') return
      if (
        message.op !== 'ack' ||
        message.seq === undefined ||
        !outstanding.has(message.seq) ||
        message.ref !== String(message.seq)
      ) {
        ledger.unexpected.push(`${via}: ${JSON.stringify(message).slice(0, 300)}`)
        return
      }
      ledger.record(message.results!, via, outstanding.get(message.seq)!)
      outstanding.delete(message.seq)
    })
    ws.once('open', () => {
      timer = setInterval(() => {
        if (ws.readyState !== WebSocket.OPEN) return
        if (running()) {
          if (outstanding.size >= window) return
          const events = next()
          ledger.sent(events)
          outstanding.set(++seq, events)
          ledger.counts.frames++
          ws.send(JSON.stringify({ op: 'publish', ref: String(seq), events }))
          return
        }
        stoppedAt ??= Date.now()
        if (outstanding.size === 0 || Date.now() - stoppedAt > settleTimeoutMs) {
          if (outstanding.size > 0)
            ledger.unexpected.push(`${via}: ${outstanding.size} frames never acked`)
          ws.close(1000)
        }
      }, intervalMs)
    })
  })
}

/**
 * Sends `ids` again (their events as first sent), in batches of 100 (under any admission bound the
 * tests set), until each is answered `accepted` or `duplicate`; a `failed` one, or a batch answered
 * 503, is sent again after `pauseMs`. Returns the ids still unsettled at the deadline.
 */
export async function resendUntilSettled(
  url: string,
  ledger: Ledger,
  ids: readonly string[],
  via: string,
  deadlineMs = 30_000,
  pauseMs = 250,
): Promise<string[]> {
  const deadline = Date.now() + deadlineMs
  let pending = [...ids]
  while (pending.length > 0 && Date.now() < deadline) {
    for (let i = 0; i < pending.length; i += 100) {
      const events = pending.slice(i, i + 100).map((id) => ledger.events.get(id)!)
      const answer = await post(url, '/v1/events/batch', { events })
      if (answer.status === 200)
        ledger.record((answer.body as { results: Result[] }).results, via, events)
      else if (answer.status !== 503)
        ledger.unexpected.push(
          `${via}: ${answer.status} ${JSON.stringify(answer.body).slice(0, 300)}`,
        )
    }
    pending = pending.filter(
      (id) => ledger.last(id) !== 'accepted' && ledger.last(id) !== 'duplicate',
    )
    if (pending.length > 0) await sleep(pauseMs)
  }
  return pending
}
