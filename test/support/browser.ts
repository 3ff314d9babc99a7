import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { chromium, type BrowserContext } from 'playwright-core'

/** Debian's Chromium, installed by scripts/browser.sh. */
export const CHROMIUM = '/usr/bin/chromium'

export interface Browser {
  readonly context: BrowserContext
  /** closes the browser and removes its profile */
  close(): Promise<void>
}

/**
 * Debian's Chromium, headless, with a fresh profile, as the end-to-end tests drive it: `hosts` are
 * names it resolves to 127.0.0.1 (pages of their own origins on loopback ports), and nothing it
 * does reaches beyond loopback. A missing Chromium is an error, never a skip: in CI a skip would
 * hide a machine without a browser.
 */
export async function launchChromium(options: {
  readonly hosts: readonly string[]
  readonly viewport?: { width: number; height: number }
}): Promise<Browser> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(
      process.env.CI === 'true'
        ? `CI: Chromium is missing at ${CHROMIUM}; the CI machine must run \`bash scripts/browser.sh\` (scripts/test.sh does) before the tests`
        : `Chromium is missing at ${CHROMIUM}: run \`bash scripts/browser.sh\` (as root it installs Debian's chromium; otherwise it says what to run)`,
    )
  }
  const userDataDir = mkdtempSync(join(tmpdir(), 'sluice-e2e-chromium-'))
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      // as root, without it Chromium's own connections get refused en masse on a loopback-only network
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      `--host-resolver-rules=${options.hosts.map((host) => `MAP ${host} 127.0.0.1`).join(', ')}`,
      // an http_proxy in the environment must not carry the test's names away
      '--no-proxy-server',
    ],
    ...(options.viewport && { viewport: options.viewport }),
    timeout: 60_000,
  })
  return {
    context,
    async close() {
      await context.close()
      rmSync(userDataDir, { recursive: true, force: true })
    },
  }
}
