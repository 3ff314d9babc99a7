import { defer, of } from 'rxjs'
import type { DeadLetter, DeadLetterStore, StoredDeadLetter } from '../streams/routing/ports.js'

/** An in-memory DeadLetterStore; `failWrites` makes writes fail (retriable) while it returns true. */
export function createMemoryDeadLetters(options: { failWrites?: () => boolean } = {}) {
  const rows: StoredDeadLetter[] = []
  let seq = 0
  const inRange = (letter: DeadLetter, route: string, sinceMs = 0, untilMs = Infinity) =>
    letter.route === route && letter.time >= sinceMs && letter.time <= untilMs
  const store: DeadLetterStore & { rows: StoredDeadLetter[]; writes: number } = {
    rows,
    writes: 0,
    write(letters) {
      return defer(() => {
        store.writes++
        if (options.failWrites?.()) throw new Error('ECONNREFUSED')
        for (const letter of letters)
          rows.push({
            ...letter,
            key: `${String(letter.time).padStart(15, '0')}:${String(++seq).padStart(9, '0')}`,
          })
        return of(undefined)
      })
    },
    isRetriable: () => true,
    list: ({ route, sinceMs = 0, limit }) =>
      of(
        rows
          .filter((r) => (route === undefined || r.route === route) && r.time >= sinceMs)
          .reverse()
          .slice(0, limit),
      ),
    page: ({ route, sinceMs, untilMs, error }, limit, after) =>
      of(
        rows
          .filter(
            (r) =>
              inRange(r, route, sinceMs, untilMs) &&
              (error === undefined || r.error === error) &&
              (after === undefined || r.key > after),
          )
          .sort((a, b) => (a.key < b.key ? -1 : 1))
          .slice(0, limit),
      ),
    remove(route, keys) {
      const gone = new Set(keys)
      for (let i = rows.length - 1; i >= 0; i--)
        if (rows[i]!.route === route && gone.has(rows[i]!.key)) rows.splice(i, 1)
      return of(undefined)
    },
  }
  return store
}
