import { execFile } from 'node:child_process'
import { mkdtempSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, relative } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { promisify } from 'node:util'
import { describe, expect, it } from 'vitest'

const root = fileURLToPath(new URL('..', import.meta.url))
const recorder = fileURLToPath(new URL('./fixtures/import-graph/register.mjs', import.meta.url))
const SERVER_PACKAGES = [
  'hono',
  '@hono/node-server',
  '@hono/zod-openapi',
  '@hono/swagger-ui',
  'ws',
  'ioredis',
  'pino',
  'prom-client',
  '@clickhouse/client',
  'chdb',
]

/** Every module a fresh Node process resolves while importing `entry` (src through tsx), as paths from the repository root. */
async function importGraph(entry: string): Promise<string[]> {
  const file = join(mkdtempSync(join(tmpdir(), 'sluice-imports-')), 'resolved.txt')
  await promisify(execFile)(
    process.execPath,
    [
      '--import',
      'tsx',
      '--import',
      recorder,
      '--input-type=module',
      '-e',
      `await import(${JSON.stringify(pathToFileURL(join(root, entry)).href)})`,
    ],
    {
      cwd: root,
      env: { ...process.env, IMPORT_GRAPH_FILE: file },
    },
  )
  const urls = readFileSync(file, 'utf8').split('\n').filter(Boolean)
  return [
    ...new Set(
      urls.map((url) => (url.startsWith('file:') ? relative(root, fileURLToPath(url)) : url)),
    ),
  ]
}

/** The packages of node_modules among those modules. */
const packagesIn = (modules: readonly string[]) =>
  [
    ...new Set(
      modules.flatMap((path) => /(?:^|\/)node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(path)?.[1] ?? []),
    ),
  ].sort()

describe('package entries', () => {
  it('sluice loads the pipeline without any server framework or client library', async () => {
    const modules = await importGraph('src/index.ts')
    if (process.env.PRINT_IMPORT_GRAPH) console.log(modules.join('\n'))
    expect(modules).toContain('src/streams/pipeline.ts')
    expect(packagesIn(modules).filter((name) => SERVER_PACKAGES.includes(name))).toEqual([])
  })

  it('sluice/testing loads no server framework or client library either', async () => {
    const modules = await importGraph('src/testing.ts')
    expect(modules).toContain('src/testing/fake-route-outbox.ts')
    expect(packagesIn(modules).filter((name) => SERVER_PACKAGES.includes(name))).toEqual([])
  })

  // Browsers load it too: its own files only; in Node 20 (no global WebSocket) `ws`, and only once it connects.
  it('sluice/client loads nothing but its own files, and ws only when it connects in Node without a global WebSocket', async () => {
    const modules = await importGraph('src/client.ts')
    expect(modules).toContain('src/client/client.ts')
    expect(
      modules.filter((path) => path.startsWith('src/') && !/^src\/client(\/|\.ts$)/.test(path)),
    ).toEqual([])
    expect(packagesIn(modules)).toEqual([])
  })

  // The same recorder sees them when they are loaded: the tests above can fail.
  it('sluice/server loads the server framework and the client libraries', async () => {
    const packages = packagesIn(await importGraph('src/server.ts'))
    for (const name of ['hono', 'ws', 'ioredis', 'pino', 'prom-client', '@clickhouse/client'])
      expect(packages).toContain(name)
  })
})
