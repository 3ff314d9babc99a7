/** The WebSocket transport (API.md §4): `createWsGateway(options, { pipeline, logger, telemetry })`. */
export {
  createWsGateway,
  type WsGateway,
  type WsGatewayDeps,
  type WsGatewayStats,
} from './ws-gateway.js'
export {
  resolveWsOptions,
  WS_DEFAULTS,
  type ResolvedWsOptions,
  type WsGatewayOptions,
} from './ws-options.js'
export type { WsErrorCode, WsTelemetry } from './ws-telemetry.js'
