import {
  catchError,
  defer,
  filter,
  finalize,
  from,
  map,
  mergeMap,
  of,
  ReplaySubject,
  share,
  tap,
  type Observable,
  type OperatorFunction,
} from 'rxjs'
import type { ClaimedBatch, Envelope, SettleWatcher } from '../envelope.js'
import { CONFLICT, DUPLICATE, failed, followerOutcome, type Outcome } from '../outcome.js'
import type { Claim, ClaimReceipt, ClaimStatus, DedupeStore } from '../ports.js'
import type { PipelineTelemetry } from '../telemetry.js'

export interface DedupeOptions {
  readonly store: DedupeStore
  /** batches whose claims may be in flight at once */
  readonly concurrency: number
  /** what to do when the store cannot be reached: let events through (the table engine still collapses replays) or fail them */
  readonly onStoreError?: 'open' | 'reject'
  readonly telemetry?: PipelineTelemetry
}

/**
 * Drops duplicates from each batch in two steps:
 *
 * 1. in-process: a later copy of an id that is already on its way (in this batch, or in one still
 *    being committed) does not go on; it follows the first copy and settles from its outcome —
 *    `duplicate` if it was stored, `failed` if it failed (API.md §2);
 * 2. across processes and time: the rest are claimed in the store in ONE round trip per batch.
 *    Ids seen before settle `duplicate` (with `conflict` when the content differs); ids reserved
 *    by a commit still in progress elsewhere settle `failed`, so the client sends them again.
 *    The fresh ones go on with the store's receipt, which `commit` hands back to confirm or release.
 *
 * The ids on their way belong to one subscription: a chain the supervisor resubscribes starts with
 * none, so a re-send is never parked behind a first copy that died with the old chain.
 *
 * ```
 * store knows b
 * source: --[a,b,a]--------[a,c]--|
 * dedupe: ----[a]------------[c]--|   b settled duplicate; both later a's follow the first a
 * ```
 *
 * @example
 * batches$.pipe(dedupe({ store, concurrency: 4 }))
 */
export function dedupe(options: DedupeOptions): OperatorFunction<Envelope[], ClaimedBatch> {
  const { store, concurrency, onStoreError = 'open', telemetry = {} } = options

  function claimed(leaders: Leader[], receipt: ClaimReceipt): ClaimedBatch {
    const fresh: Envelope[] = []
    let duplicates = 0
    for (let i = 0; i < leaders.length; i++) {
      const envelope = leaders[i]!
      const status = receipt.statuses[i]
      if (status === 'new') fresh.push(envelope)
      else {
        if (status !== 'pending') duplicates++
        envelope.settle(OUTCOME_OF[status ?? 'pending'])
      }
    }
    if (duplicates > 0) telemetry.duplicatesFound?.(duplicates)
    return { envelopes: fresh, receipts: [receipt] }
  }

  return (source) =>
    defer(() => {
      // The ids on their way, and the later copies that follow the first (only ids that have any).
      const onTheirWay = new Set<string>()
      const followers = new Map<string, Envelope[]>()
      // One for every first copy: an envelope that can be watched costs no object of its own here.
      const watcher: SettleWatcher = {
        settled(first, outcome) {
          const id = idOf(first)
          onTheirWay.delete(id)
          const waiting = followers.get(id)
          if (waiting === undefined) return
          followers.delete(id)
          for (const follower of waiting)
            follower.settle(followerOutcome(outcome, follower.fingerprint === first.fingerprint))
        },
      }

      function track(batch: Envelope[]): Leader[] {
        const leaders: Leader[] = []
        for (const envelope of batch) {
          const id = idOf(envelope)
          if (onTheirWay.has(id)) {
            const waiting = followers.get(id)
            if (waiting === undefined) followers.set(id, [envelope])
            else waiting.push(envelope)
            continue
          }
          onTheirWay.add(id)
          // The store reads a claim's id and fingerprint: an envelope without its own id is wrapped too.
          if (envelope.watch === undefined || envelope.id === undefined)
            leaders.push(new Watched(envelope, id, watcher))
          else {
            envelope.watch(watcher)
            leaders.push(envelope as Leader)
          }
        }
        return leaders
      }

      return source.pipe(
        map(track),
        filter((leaders) => leaders.length > 0),
        mergeMap(
          (leaders) =>
            // An envelope is its own claim (its id and fingerprint): no second object per event.
            claimOnce(leaders).pipe(
              map((receipt) => claimed(leaders, receipt)),
              catchError((error: unknown) => {
                telemetry.dedupeStoreFailed?.('claim', error, onStoreError)
                if (onStoreError === 'open')
                  return of<ClaimedBatch>({ envelopes: leaders, receipts: [] })
                for (const envelope of leaders)
                  envelope.settle(failed('the dedupe store is unavailable'))
                return of<ClaimedBatch>({ envelopes: [], receipts: [] })
              }),
            ),
          concurrency,
        ),
        filter((batch) => batch.envelopes.length > 0),
      )
    })

  /**
   * One claim round trip. Unsubscribed before its answer (the chain torn down), the claim is not
   * cancelled, since the store may take it anyway: its answer is awaited and its reservations
   * released, so they do not block the ids until they expire.
   */
  function claimOnce(claims: readonly Claim[]): Observable<ClaimReceipt> {
    let answered = false
    const answer$ = defer(() => store.claim(claims)).pipe(
      share({
        connector: () => new ReplaySubject<ClaimReceipt>(1),
        resetOnError: false,
        resetOnComplete: false,
        resetOnRefCountZero: false,
      }),
    )
    return answer$.pipe(
      tap({ next: () => (answered = true), error: () => (answered = true) }),
      finalize(() => {
        if (answered) return
        answer$.subscribe({
          next: (receipt) =>
            from(store.release([receipt])).subscribe({
              error: (error: unknown) => telemetry.dedupeStoreFailed?.('release', error, 'ignored'),
            }),
          error: () => {},
        })
      }),
    )
  }
}

const OUTCOME_OF: Record<Exclude<ClaimStatus, 'new'>, Outcome> = {
  duplicate: DUPLICATE,
  conflict: CONFLICT,
  pending: failed('this id is being committed by another request; send it again later'),
}

const idOf = (envelope: Envelope): string => envelope.id ?? envelope.event.id

/** The first copy of an id on its way, as claimed: its own id and fingerprint. */
type Leader = Envelope & Claim

/** An envelope that cannot be watched (see `Envelope.watch`), wrapped so that it can. */
class Watched implements Leader {
  constructor(
    private readonly first: Envelope,
    readonly id: string,
    private readonly watcher: SettleWatcher,
  ) {}

  get event() {
    return this.first.event
  }

  get fields() {
    return this.first.fields
  }

  get fingerprint() {
    return this.first.fingerprint
  }

  get propertiesText() {
    return this.first.propertiesText
  }

  committed(): void {
    this.first.committed?.()
  }

  settle(outcome: Outcome): void {
    this.first.settle(outcome)
    this.watcher.settled(this.first, outcome)
  }
}
