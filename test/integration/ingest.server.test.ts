import { ingestContract } from '../contracts/ingest.contract.js'
import { serverSluice } from '../support/services.js'

// Redis + a ClickHouse server (Debian's 18.16 in CI), both real.
ingestContract('Redis + ClickHouse server', async () => {
  const sluice = await serverSluice()
  return { sluice, dispose: () => sluice.dispose() }
})
