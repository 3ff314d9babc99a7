// A TRANSFORMS_MODULE with the bugs user code really has, for the process-level tests (issue 12.1, 12.9):
//  - `leak.*` events are retained forever, 1 MiB of heap each (a cache with no bound; an array, as a repeated string would be a few shared nodes): the heap runs out;
//  - `escape.exception` throws from a timer the pipeline never sees (an uncaughtException);
//  - `escape.rejection` drops a rejected promise (an unhandledRejection);
//  - `block.main` loops for a minute on the main thread (an accidental busy loop).
import { tap } from 'rxjs'

const retained = []

export default [
  tap((event) => {
    if (event.type.startsWith('leak.')) retained.push(new Array(1 << 17).fill(event.id))
    if (event.type === 'escape.exception')
      setImmediate(() => {
        throw new Error(`escaped from a transform while handling ${event.id}`)
      })
    if (event.type === 'block.main') for (const end = Date.now() + 60_000; Date.now() < end;);
    if (event.type === 'escape.rejection')
      void Promise.reject(new Error(`rejected in a transform while handling ${event.id}`))
  }),
]
