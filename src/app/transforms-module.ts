import { resolve } from 'node:path'
import { pathToFileURL } from 'node:url'
import type { EventTransform } from '../streams/operators/transform.js'

export interface LoadedTransforms {
  /** run on every valid event before storage */
  readonly transforms: EventTransform[]
  /** per route name, run on each event a route matched before it is queued for that route */
  readonly routeTransforms: Record<string, EventTransform[]>
}

/**
 * Loads TRANSFORMS_MODULE: an ES module whose default export (or `transforms` export) is an array
 * of RxJS operators `(events$) => events$`, or a function returning one; and optionally a `routes`
 * export: `{ [routeName]: operators[] }`. Throws, saying what is wrong, when the module does not
 * load or does not export that, or names a route that is not configured.
 */
export async function loadTransforms(
  path: string,
  routeNames: readonly string[],
): Promise<LoadedTransforms> {
  let module: { default?: unknown; transforms?: unknown; routes?: unknown }
  try {
    module = (await import(pathToFileURL(resolve(path)).href)) as typeof module
  } catch (error) {
    throw new Error(
      `cannot load ${path}: ${error instanceof Error ? error.message : String(error)}`,
      { cause: error },
    )
  }
  const transforms = operators(
    module.transforms ?? module.default ?? [],
    `${path} must export (as default or as "transforms") an array of RxJS operators, or a function that returns one`,
  )
  const routeTransforms: Record<string, EventTransform[]> = {}
  if (module.routes !== undefined) {
    if (module.routes === null || typeof module.routes !== 'object')
      throw new Error(`${path}: "routes" must be an object of route name to operators`)
    for (const [name, steps] of Object.entries(module.routes)) {
      if (!routeNames.includes(name))
        throw new Error(
          `${path}: "routes" names route ${JSON.stringify(name)}, which ROUTES_FILE does not have`,
        )
      routeTransforms[name] = operators(
        steps,
        `${path}: "routes.${name}" must be an array of RxJS operators`,
      )
    }
  }
  return { transforms, routeTransforms }
}

function operators(exported: unknown, problem: string): EventTransform[] {
  const value =
    typeof exported === 'function' && exported.length === 0
      ? (exported as () => unknown)()
      : exported
  if (!Array.isArray(value) || !value.every((step) => typeof step === 'function'))
    throw new Error(problem)
  return value as EventTransform[]
}
