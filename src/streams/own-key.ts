/**
 * Sets `key` on `target` as an own, enumerable data property, as JSON.parse does for every key.
 * A plain assignment to `__proto__` would set the prototype instead: a key sent as data must stay a
 * key (validation then refuses it by name), never change what the object inherits.
 */
export function setOwnKey(target: Record<string, unknown>, key: string, value: unknown): void {
  if (key === '__proto__')
    Object.defineProperty(target, key, {
      value,
      enumerable: true,
      writable: true,
      configurable: true,
    })
  else target[key] = value
}
