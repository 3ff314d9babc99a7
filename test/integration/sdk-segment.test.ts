import { classicSegment, segmentNode } from '../support/sdk-clients.js'
import { segmentFamilySuite } from '../support/sdk-segment-suite.js'

// Segment's Node SDKs, the current one and the classic one, sending to Sluice unchanged but for `host`.
segmentFamilySuite(segmentNode)
segmentFamilySuite(classicSegment)
