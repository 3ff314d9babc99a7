/**
 * A client's value as it may appear in an error message: a short, escaped prefix of a string, a
 * number or literal as is, and only the kind of anything else. Messages quote what the client sent
 * so that a mistake is easy to find, but never the whole of it: a value may be megabytes long or
 * nested thousands deep, and serializing it could cost more than the request or overflow the stack.
 */
export function quote(value: unknown, maxChars = 64): string {
  switch (typeof value) {
    case 'string':
      return JSON.stringify(value.length > maxChars ? `${value.slice(0, maxChars)}…` : value)
    case 'number':
    case 'boolean':
      return String(value)
    case 'undefined':
      return 'nothing'
    default:
      if (value === null) return 'null'
      return Array.isArray(value) ? 'an array' : 'an object'
  }
}

/** A list of a client's strings (unknown keys, say) for a message: the first few, quoted, and how many more. */
export function quoteList(values: readonly string[], maxItems = 5): string {
  const shown = values.slice(0, maxItems).map((value) => quote(value))
  return values.length > maxItems
    ? `${shown.join(', ')} and ${values.length - maxItems} more`
    : shown.join(', ')
}
