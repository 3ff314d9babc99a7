import { eventSource, type Ledger, type TestEvent } from '../../reliability/support/load.js'

/**
 * Events as `eventSource` makes them, with a share of ids sent before mixed in (a client re-sending
 * what it had no answer for, or a replay): those must come back `duplicate`, or `accepted` again
 * when dedupe failed open, and must be stored once either way.
 */
export function mixedSource(ledger: Ledger, prefix: string, type: string, resentShare = 0.1) {
  const fresh = eventSource(prefix, type)
  const sent: TestEvent[] = []
  return (count: number): TestEvent[] => {
    const out = fresh(count)
    const again = sent.length === 0 ? 0 : Math.round(count * resentShare)
    for (let i = 0; i < again; i++) out[i] = sent[Math.floor(Math.random() * sent.length)]!
    // Not the same id twice in one request: the second copy's answer would be about the first.
    const unique = [...new Map(out.map((event) => [event.id, event])).values()]
    for (const event of unique) if (!ledger.events.has(event.id)) sent.push(event)
    return unique
  }
}
