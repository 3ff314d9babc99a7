import { rudderStack } from '../support/sdk-clients.js'
import { segmentFamilySuite } from '../support/sdk-segment-suite.js'

// RudderStack's Node SDK speaks Segment's format (gzip bodies): unchanged but for `dataPlaneUrl`.
segmentFamilySuite(rudderStack)
