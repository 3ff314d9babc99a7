import { ApiError } from './errors.js'

/**
 * The array a batch envelope carries (REST's `events`, the SDKs' `batch`), as API.md §3 and §9 ask:
 * an array, not empty (`400 invalid_batch`), of at most `max` items (`400 batch_too_large`).
 */
export function batchArray(value: unknown, field: string, noun: string, max: number): unknown[] {
  if (!Array.isArray(value))
    throw new ApiError(400, 'invalid_batch', `"${field}" must be an array of ${noun}s`, {
      issues: [{ path: field, message: 'expected an array' }],
    })
  if (value.length === 0)
    throw new ApiError(400, 'invalid_batch', `"${field}" must hold at least one ${noun}`, {
      issues: [{ path: field, message: 'empty' }],
    })
  if (value.length > max)
    throw new ApiError(
      400,
      'batch_too_large',
      `a batch holds at most ${max} ${noun}s; this one has ${value.length}`,
    )
  return value
}
