/**
 * The settings analytics.js (`@segment/analytics-next`) loads from `<cdnURL>/v1/projects/<writeKey>/settings`
 * at start, shaped as Segment's CDN answers them. Its `Segment.io` integration is what sends the
 * events: `apiHost` (host and path, no scheme) and `protocol` point it at this server, and it puts
 * `apiKey` into every message as `writeKey`. No other integration is listed, so the page loads
 * nothing else; `metrics.sampleRate: 0` keeps the SDK's own telemetry from going to Segment.
 */
export function segmentSettings(writeKey: string, apiHost: string, protocol: string) {
  return {
    integrations: {
      'Segment.io': {
        apiKey: writeKey,
        apiHost,
        protocol,
        unbundledIntegrations: [],
        addBundledMetadata: true,
        maybeBundledConfigIds: {},
        versionSettings: { componentTypes: [] },
      },
    },
    plan: {
      track: { __default: { enabled: true, integrations: {} } },
      identify: { __default: { enabled: true } },
      group: { __default: { enabled: true } },
    },
    edgeFunction: {},
    analyticsNextEnabled: true,
    middlewareSettings: {},
    enabledMiddleware: {},
    metrics: { sampleRate: 0 },
    legacyVideoPluginsEnabled: false,
    remotePlugins: [],
  }
}
