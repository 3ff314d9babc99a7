import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'

setFlagsFromString('--expose-gc')
const gc = runInNewContext('gc') as () => void

/**
 * Whether the object behind `ref` has been collected after a full GC. A WeakRef's target is kept
 * for the rest of the job that created or read it, so the GC runs on a later macrotask.
 */
export async function collected(ref: WeakRef<object>): Promise<boolean> {
  await new Promise((resolve) => setImmediate(resolve))
  gc()
  return ref.deref() === undefined
}
