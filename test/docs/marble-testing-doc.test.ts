import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'

const root = fileURLToPath(new URL('../..', import.meta.url))
const page = readFileSync(`${root}/docs/marble-testing.md`, 'utf8')
const examples = [...page.matchAll(/<!-- example: (\S+) -->\n```ts\n([\s\S]*?)\n```/g)].map(
  (m) => [m[1]!, m[2]!] as const,
)

describe('docs/marble-testing.md', () => {
  it('shows the examples the issues ask for', () => {
    expect(examples.map(([file]) => file)).toEqual([
      'docs/examples/batching.test.ts',
      'docs/examples/dedupe.test.ts',
      'docs/examples/retry.test.ts',
      'docs/examples/pipeline.test.ts',
      'docs/examples/transform.test.ts',
      'docs/examples/route.test.ts',
    ])
  })

  it.each(examples)('shows %s exactly as it runs', (file, shown) => {
    expect(shown).toBe(readFileSync(`${root}/${file}`, 'utf8').trimEnd())
  })
})
