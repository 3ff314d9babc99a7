/** What became of one event: a discriminated union carried to the ack, never an exception. */
export interface Issue {
  readonly path: string
  readonly message: string
}

export type Outcome =
  | { readonly status: 'accepted' }
  | { readonly status: 'duplicate'; readonly conflict: boolean }
  | { readonly status: 'rejected'; readonly errors: readonly Issue[] }
  | { readonly status: 'failed'; readonly reason: string }

export type EventStatus = Outcome['status']

/** One per-event result on the wire (API.md §2). */
export interface EventResult {
  readonly index: number
  readonly id?: string
  readonly status: EventStatus
  readonly conflict?: true
  readonly errors?: readonly Issue[]
}

export const ACCEPTED: Outcome = { status: 'accepted' }
export const DUPLICATE: Outcome = { status: 'duplicate', conflict: false }
export const CONFLICT: Outcome = { status: 'duplicate', conflict: true }
export const rejected = (errors: readonly Issue[]): Outcome => ({ status: 'rejected', errors })
export const failed = (reason: string): Outcome => ({ status: 'failed', reason })

export function toResult(index: number, id: string | undefined, outcome: Outcome): EventResult {
  const base =
    id === undefined ? { index, status: outcome.status } : { index, id, status: outcome.status }
  if (outcome.status === 'duplicate' && outcome.conflict) return { ...base, conflict: true }
  if (outcome.status === 'rejected') return { ...base, errors: outcome.errors }
  return base
}

/**
 * The outcome of a later copy of an id, given the outcome of the first copy (API.md §2):
 * duplicate when the first was stored (a conflict when the content differs), failed when it failed —
 * never a duplicate of an event that was not stored.
 */
export function followerOutcome(leader: Outcome, sameContent: boolean): Outcome {
  switch (leader.status) {
    case 'accepted':
      return sameContent ? DUPLICATE : CONFLICT
    case 'duplicate':
      return sameContent && !leader.conflict ? DUPLICATE : CONFLICT
    case 'failed':
      return leader
    case 'rejected':
      return failed('the first copy of this id was rejected')
  }
}

export interface ResultCounts {
  accepted: number
  duplicates: number
  rejected: number
  failed: number
}

export function countResults(results: readonly EventResult[]): ResultCounts {
  const counts = { accepted: 0, duplicates: 0, rejected: 0, failed: 0 }
  for (const r of results) {
    if (r.status === 'duplicate') counts.duplicates++
    else counts[r.status]++
  }
  return counts
}
