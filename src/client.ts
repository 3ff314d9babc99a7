/**
 * sluice/client: the WebSocket client of API.md §10, for Node 20+ (on `ws`) and browsers (the
 * global WebSocket). It loads nothing but its own files (and `ws`, in Node, only when there is no
 * global WebSocket). See docs/client.md.
 */
export { createClient } from './client/client.js'
export type { ClientStats, SluiceClient } from './client/sluice-client.js'
export type { ClientOptions } from './client/options.js'
export type { BackoffOptions } from './client/backoff.js'
export type { ClientEvent, PublishResult } from './client/publication.js'
export type { AcceptedEvent, Issue } from './client/protocol.js'
export type { Subscription } from './client/subscriptions.js'
export type { WebSocketConstructor, WebSocketLike } from './client/web-socket.js'
export { uuidv7 } from './client/uuidv7.js'
