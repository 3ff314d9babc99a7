/** Where `flatten` puts what it computes, so that an optimizing compiler cannot drop the call. */
let _lastNumber = 0

/**
 * Has V8 keep `text` as one flat string. JSON.stringify, and concatenation, return a longer result
 * as a tree of the pieces it was built from (a cons string): for a 150-character text, a few
 * nodes and pieces, 60% more bytes than the characters. Converting a string to a number flattens
 * it first, in place, and the next collection drops the tree. Worth it for a text that is kept a
 * while: it is copied by every young-generation collection it lives through, and its reader
 * (a Buffer write, a hash) would flatten it anyway.
 */
export function flatten(text: string): string {
  _lastNumber = Number(text)
  return text
}
