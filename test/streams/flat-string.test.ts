import { execFileSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'

const root = fileURLToPath(new URL('../..', import.meta.url))

/** Bytes of heap kept per text, 50,000 JSON.stringify results kept, measured in a process of its own after full collections. */
function retainedPerText(flattening: boolean): number {
  const script = `
    import { flatten } from './src/streams/flat-string.ts'
    const objects = Array.from({ length: 50000 }, (_, i) => JSON.parse(JSON.stringify({
      items: [{ qty: 1 + (i % 3), sku: 'SKU-' + (i % 311) }], path: '/products/' + (i % 997),
      price: (i % 10000) / 100, referrer: 'https://example.com/landing' })))
    globalThis.gc(); globalThis.gc()
    const before = process.memoryUsage().heapUsed
    const kept = objects.map((o) => ${flattening ? 'flatten(JSON.stringify(o))' : 'JSON.stringify(o)'})
    globalThis.gc(); globalThis.gc()
    console.log((process.memoryUsage().heapUsed - before) / kept.length)`
  const out = execFileSync(
    process.execPath,
    ['--expose-gc', '--import', 'tsx', '--input-type=module', '-e', script],
    { cwd: root, encoding: 'utf8' },
  )
  return Number(out.trim())
}

describe('flatten', () => {
  it('keeps a JSON.stringify result as one flat string: far fewer bytes kept than the tree it was built as', () => {
    const tree = retainedPerText(false)
    const flat = retainedPerText(true)
    // ~110 characters: about 240 bytes kept as built, about 150 flat.
    expect(flat).toBeLessThan(tree * 0.8)
  }, 60_000)
})
