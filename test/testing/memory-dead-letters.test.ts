import { deadLetterStoreContract } from '../contracts/dead-letter-store.contract.js'
import { memoryDeadLetters } from '../streams/routing/fakes.js'

// The fake that router tests use keeps the contract too.
const store = memoryDeadLetters()
deadLetterStoreContract('memory dead letters (test fake)', () => store, {
  failingStore: () => ({
    ...memoryDeadLetters({ failWrites: () => true }),
    isRetriable: () => false,
  }),
})
