import { resolve } from 'node:path'
import { pathToFileURL } from 'node:url'
import type { EventTransform } from './streams/operators/transform.js'

/**
 * Loads TRANSFORMS_MODULE: an ES module whose default export (or `transforms` export) is an array
 * of RxJS operators `(events$) => events$`, or a function returning one. Throws, saying what is
 * wrong, when the module does not load or does not export that.
 */
export async function loadTransforms(path: string): Promise<EventTransform[]> {
  let module: { default?: unknown; transforms?: unknown }
  try {
    module = (await import(pathToFileURL(resolve(path)).href)) as typeof module
  } catch (error) {
    throw new Error(`cannot load ${path}: ${error instanceof Error ? error.message : String(error)}`, { cause: error })
  }
  let exported = module.transforms ?? module.default
  if (typeof exported === 'function' && exported.length === 0) exported = (exported as () => unknown)()
  if (!Array.isArray(exported) || !exported.every((step) => typeof step === 'function')) {
    throw new Error(`${path} must export (as default or as "transforms") an array of RxJS operators, or a function that returns one`)
  }
  return exported as EventTransform[]
}
