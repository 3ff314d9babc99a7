import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'

// docs/client.md shows its examples exactly as the tests in test/client/examples run them.

const root = fileURLToPath(new URL('../..', import.meta.url))
const page = readFileSync(`${root}/docs/client.md`, 'utf8')
const examples = [...page.matchAll(/<!-- example: (\S+) -->\n```ts\n([\s\S]*?)\n```/g)].map(
  (m) => [m[1]!, m[2]!] as const,
)

describe('docs/client.md', () => {
  it('shows the examples of publishing, subscribing and streaming', () => {
    expect(examples.map(([file]) => file)).toEqual([
      'test/client/examples/publish.test.ts',
      'test/client/examples/subscribe.test.ts',
      'test/client/examples/stream.test.ts',
    ])
  })

  it.each(examples)('shows %s exactly as it runs', (file, shown) => {
    expect(shown).toBe(readFileSync(`${root}/${file}`, 'utf8').trimEnd())
  })
})
