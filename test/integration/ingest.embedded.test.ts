import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { loadConfig } from '../../src/app/config.js'
import { createSluice } from '../../src/app/create-sluice.js'
import { ingestContract } from '../contracts/ingest.contract.js'
import { silent } from '../support/services.js'

// The zero-configuration default: in-process dedupe and embedded chDB (one data dir per process).
ingestContract('embedded defaults', async () => {
  const dataDir = await mkdtemp(join(tmpdir(), 'sluice-embedded-'))
  const sluice = await createSluice(
    loadConfig({ DATA_DIR: dataDir, INSERT_BATCH_MAX_WAIT_MS: '5', LOG_LEVEL: 'silent' }),
    { logger: silent },
  )
  return {
    sluice,
    async dispose() {
      await sluice.stop()
      await rm(dataDir, { recursive: true, force: true })
    },
  }
})
