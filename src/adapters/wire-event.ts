import type { AcceptedEvent, Transport } from '../streams/event.js'

/**
 * The inverse of `toWire` (src/streams/event.ts): an accepted event back from the JSON readers get
 * (RFC 3339 times with milliseconds), for stores that keep events in that form (dead letters).
 * The JSON was written by Sluice itself, so it is trusted: only the times are converted.
 */
export function fromWire(wire: Record<string, unknown>): AcceptedEvent {
  const text = (key: string) => (typeof wire[key] === 'string' ? (wire[key] as string) : undefined)
  const time = (key: string) => {
    const value = wire[key]
    return typeof value === 'number' ? value : Date.parse(String(value))
  }
  const source = text('source')
  const userId = text('userId')
  const sessionId = text('sessionId')
  const properties = wire.properties
  return {
    id: String(wire.id),
    type: String(wire.type),
    timestamp: time('timestamp'),
    receivedAt: time('receivedAt'),
    ...(source !== undefined && { source }),
    ...(userId !== undefined && { userId }),
    ...(sessionId !== undefined && { sessionId }),
    ...(properties !== null && typeof properties === 'object' && { properties: properties as Record<string, unknown> }),
    transport: (text('transport') ?? 'rest') as Transport,
  }
}
