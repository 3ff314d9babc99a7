import { hash } from 'node:crypto'
import type { z } from 'zod'
import { v7 as uuidv7 } from 'uuid'
import { EventSchema, forbiddenKeyPaths, parseRfc3339, type AcceptedEvent, type Transport } from './event.js'
import type { Issue } from './outcome.js'

export type Normalized =
  | { readonly ok: true; readonly event: AcceptedEvent; readonly fingerprint: string }
  | { readonly ok: false; readonly errors: readonly Issue[] }

export interface NormalizeContext {
  readonly transport: Transport
  readonly receivedAt: number
  /** Assigns ids to events sent without one (UUIDv7 by default). */
  readonly newId?: () => string
}

/** Validates one raw event against API.md §1 and turns it into the event as it will be stored. */
export function normalize(raw: unknown, context: NormalizeContext): Normalized {
  const parsed = EventSchema.safeParse(raw)
  const forbidden = isObject(raw) && isObject(raw.properties) ? forbiddenKeyPaths(raw.properties) : []
  if (!parsed.success || forbidden.length > 0) {
    const errors: Issue[] = parsed.success ? [] : parsed.error.issues.flatMap(toIssues)
    for (const path of forbidden) errors.push({ path, message: 'key is not allowed (__proto__, constructor, prototype)' })
    return { ok: false, errors }
  }
  const input = parsed.data
  const sentTimestamp = input.timestamp === undefined ? undefined : typeof input.timestamp === 'number' ? input.timestamp : parseRfc3339(input.timestamp)!
  const event: AcceptedEvent = {
    id: input.id ?? (context.newId ?? uuidv7)(),
    type: input.type,
    timestamp: sentTimestamp ?? context.receivedAt,
    receivedAt: context.receivedAt,
    ...(input.source !== undefined && { source: input.source }),
    ...(input.userId !== undefined && { userId: input.userId }),
    ...(input.sessionId !== undefined && { sessionId: input.sessionId }),
    ...(input.properties !== undefined && { properties: input.properties }),
    transport: context.transport,
  }
  return { ok: true, event, fingerprint: fingerprint(event, sentTimestamp) }
}

/**
 * A digest of what the client said about the event: a re-send of the same event has the same one
 * even when its default timestamp (receive time) or transport differ, and key order does not matter.
 */
export function fingerprint(event: AcceptedEvent, sentTimestamp: number | undefined): string {
  const content = [event.id, event.type, sentTimestamp ?? null, event.source ?? null, event.userId ?? null, event.sessionId ?? null, event.properties ?? null]
  return hash('sha1', canonicalJson(content), 'base64url')
}

/**
 * JSON with object keys sorted at every depth, so equal content gives equal text. Hot path (once
 * per event): string concatenation, and a sort only where the keys are not in order already.
 */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null'
  if (Array.isArray(value)) {
    let out = '['
    for (let i = 0; i < value.length; i++) out += (i === 0 ? '' : ',') + canonicalJson(value[i])
    return `${out}]`
  }
  const keys = Object.keys(value)
  if (!inOrder(keys)) keys.sort()
  let out = '{'
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i]!
    const child = (value as Record<string, unknown>)[key]
    if (child === undefined) continue
    out += `${out.length === 1 ? '' : ','}${JSON.stringify(key)}:${canonicalJson(child)}`
  }
  return `${out}}`
}

function inOrder(keys: string[]): boolean {
  for (let i = 1; i < keys.length; i++) if (keys[i - 1]! > keys[i]!) return false
  return true
}

/** Zod's issues as API.md's: dotted paths, and one issue per unknown key with the key as its path. */
function toIssues(issue: z.core.$ZodIssue): Issue[] {
  const path = issue.path.join('.')
  if (issue.code === 'unrecognized_keys') {
    return issue.keys.map((key) => ({ path: path === '' ? key : `${path}.${key}`, message: `unknown key ${JSON.stringify(key)}` }))
  }
  return [{ path, message: issue.message }]
}

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value)
}
