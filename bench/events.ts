/**
 * The events every mode of the bench sends: the same shapes and sizes for Sluice, the per-event
 * baseline and the insert floor. Ids are unique per run; a share of them can repeat earlier ids
 * (the duplicate scenario), with the same content, as a client's retry would.
 */
export interface EventSource {
  /** the event with this sequence number (0-based) of this client */
  event(n: number): Record<string, unknown>
}

const TYPES = ['page_view', 'checkout.completed', 'signup', 'search', 'add_to_cart']

export function eventSource(runId: string, client: number, duplicateRate = 0): EventSource {
  const base = Date.UTC(2026, 10, 26)
  return {
    event(n) {
      // A repeat re-sends one of the last 1,000 ids with the same content.
      const id =
        duplicateRate > 0 && n > 1000 && fraction(n) < duplicateRate
          ? n - 1 - Math.floor(fraction(n * 7 + 3) * 1000)
          : n
      return {
        id: `${runId}-${client}-${id}`,
        type: TYPES[id % TYPES.length],
        timestamp: base + id,
        source: 'bench',
        userId: `u-${id % 5000}`,
        sessionId: `s-${client}-${Math.floor(id / 50)}`,
        properties: {
          path: `/products/${id % 997}`,
          referrer: 'https://example.com/landing',
          price: (id % 10000) / 100,
          items: [{ sku: `SKU-${id % 311}`, qty: 1 + (id % 3) }],
        },
      }
    },
  }
}

/** A deterministic pseudo-random fraction in [0, 1) for n. */
function fraction(n: number): number {
  const x = Math.sin(n * 12.9898) * 43758.5453
  return x - Math.floor(x)
}
