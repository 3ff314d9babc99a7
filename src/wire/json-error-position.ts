/**
 * Where a JSON text first goes wrong. V8 names the position for most errors but not all
 * ("Unexpected token '}', "…" is not valid JSON" quotes the whole body instead), so on that rare
 * path we walk the text with a small recognizer and report the index of the first bad character.
 */
export function jsonErrorPosition(text: string, error: unknown): number {
  const message = error instanceof Error ? error.message : ''
  const named = /at position (\d+)/.exec(message)
  if (named) return Number(named[1])
  return firstInvalidIndex(text)
}

export function firstInvalidIndex(text: string): number {
  let i = 0
  const ws = () => {
    while (i < text.length && ' \t\n\r'.includes(text[i]!)) i++
  }
  const fail = (at = i): never => {
    throw new InvalidAt(at)
  }
  const literal = (word: string) => {
    for (const ch of word) {
      if (text[i] !== ch) fail()
      i++
    }
  }
  const string = () => {
    i++ // opening quote
    while (i < text.length && text[i] !== '"') {
      const code = text.charCodeAt(i)
      if (code < 0x20) fail()
      if (text[i] === '\\') {
        i++
        if (text[i] === 'u') {
          for (let k = 1; k <= 4; k++) if (!/[0-9a-fA-F]/.test(text[i + k] ?? '')) fail(i + k)
          i += 4
        } else if (!'"\\/bfnrt'.includes(text[i] ?? 'x')) fail()
      }
      i++
    }
    if (i >= text.length) fail()
    i++
  }
  const number = () => {
    const m = /^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/.exec(text.slice(i, i + 400))
    if (!m || m[0].length === 0) fail()
    i += m![0].length
  }
  const value = (): void => {
    ws()
    const ch = text[i]
    if (ch === '{') {
      i++
      ws()
      if (text[i] === '}') return void i++
      for (;;) {
        ws()
        if (text[i] !== '"') fail()
        string()
        ws()
        if (text[i] !== ':') fail()
        i++
        value()
        ws()
        if (text[i] === ',') i++
        else if (text[i] === '}') return void i++
        else fail()
      }
    }
    if (ch === '[') {
      i++
      ws()
      if (text[i] === ']') return void i++
      for (;;) {
        value()
        ws()
        if (text[i] === ',') i++
        else if (text[i] === ']') return void i++
        else fail()
      }
    }
    if (ch === '"') return string()
    if (ch === 't') return literal('true')
    if (ch === 'f') return literal('false')
    if (ch === 'n') return literal('null')
    return number()
  }
  try {
    value()
    ws()
    return i < text.length ? i : text.length
  } catch (error) {
    // Anything else is nesting deep enough to exhaust the stack: no position worth naming.
    return error instanceof InvalidAt ? Math.min(error.position, text.length) : 0
  }
}

/** The recognizer's way out: the index of the first character that cannot continue the text. */
class InvalidAt extends Error {
  constructor(readonly position: number) {
    super(`invalid JSON at ${position}`)
  }
}
