import { z } from 'zod'
import { apiKeyProblem } from '../wire/api-keys.js'

const int = (min: number, max = Number.MAX_SAFE_INTEGER) =>
  z
    .string()
    .trim()
    .regex(/^\d+$/, 'must be a whole number')
    .transform(Number)
    .pipe(z.number().int().min(min).max(max))
const bool = z.enum(['true', 'false', '1', '0']).transform((v) => v === 'true' || v === '1')
const url = (protocols: string[]) =>
  z
    .string()
    .trim()
    .refine(
      (value) => URL.canParse(value) && protocols.includes(new URL(value).protocol),
      `must be a URL (${protocols.join(' or ')})`,
    )
const list = z
  .string()
  .transform((v) =>
    v
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean),
  )
  .pipe(z.array(z.string()).min(1, 'must name at least one value'))

/** The environment of API.md §6 (and the knobs its issues add). Every variable is optional. */
const EnvSchema = z.object({
  // 0 asks the OS for a free port (tests); the start-up log says which one.
  PORT: int(0, 65535).default(3001),
  WS_PORT: int(0, 65535).default(8080),
  HOST: z.string().trim().min(1).default('0.0.0.0'),
  REDIS_URL: url(['redis:', 'rediss:']).optional(),
  // Seeds of a Redis Cluster (API.md §11): host:port, comma-separated.
  REDIS_CLUSTER_NODES: list
    .pipe(
      z.array(
        z
          .string()
          .regex(/^[^\s:,]+:\d{1,5}$/, 'must be host:port entries')
          .refine((node) => !(Number(node.split(':').pop()) > 65535), 'port out of range'),
      ),
    )
    .optional(),
  // A cluster of the ClickHouse server's remote_servers (API.md §11).
  CLICKHOUSE_CLUSTER: z
    .string()
    .regex(/^[A-Za-z_][A-Za-z0-9_]{0,63}$/, 'must be a plain identifier')
    .optional(),
  CLICKHOUSE_URL: url(['http:', 'https:']).optional(),
  CLICKHOUSE_DATABASE: z
    .string()
    .regex(/^[A-Za-z_][A-Za-z0-9_]{0,63}$/, 'must be a plain identifier')
    .default('default'),
  DATA_DIR: z.string().trim().min(1).default('./data'),
  BATCH_MAX_EVENTS: int(1, 100_000).default(1000),
  INSERT_BATCH_MAX_ROWS: int(1, 1_000_000).default(10_000),
  INSERT_BATCH_MAX_WAIT_MS: int(1, 60_000).default(20),
  INSERT_CONCURRENCY: int(1, 64).default(4),
  INSERT_RETRY_INITIAL_MS: int(1).default(100),
  INSERT_RETRY_MAX_MS: int(1).default(5000),
  INSERT_RETRY_BUDGET_MS: int(0).default(20_000),
  MAX_INFLIGHT_EVENTS: int(10).default(100_000),
  MAX_INFLIGHT_BYTES: int(1024 * 1024).default(256 * 1024 * 1024),
  MAX_BODY_BYTES: int(1024).default(5 * 1024 * 1024),
  DEDUPE_TTL_SECONDS: int(1).default(3600),
  DEDUPE_RESERVATION_SECONDS: int(1).optional(),
  DEDUPE_MAX_ENTRIES: int(1).default(1_000_000),
  DEDUPE_ON_ERROR: z.enum(['open', 'reject']).default('open'),
  ROUTES_FILE: z.string().trim().min(1).optional(),
  TRANSFORMS_MODULE: z.string().trim().min(1).optional(),
  ROUTE_QUEUE_MAX_EVENTS: int(1).default(10_000),
  ROUTE_BREAKER_FAILURES: int(1).default(5),
  ROUTE_BREAKER_COOLDOWN_MS: int(1).default(10_000),
  ROUTE_CONSUMER: z
    .string()
    .trim()
    .regex(/^[A-Za-z0-9._:-]{1,128}$/, 'must be 1-128 of A-Z a-z 0-9 . _ : -')
    .optional(),
  ROUTE_CLAIM_IDLE_MS: int(1000).default(60_000),
  ROUTE_POLL_MS: int(10).default(1000),
  ROUTE_TRANSFORM_CONCURRENCY: int(1).default(256),
  API_KEYS: list.optional(),
  CORS_ORIGINS: list.optional(),
  // Where browsers reach Sluice when a proxy in front changes the scheme or host (API.md §9's settings).
  PUBLIC_URL: url(['http:', 'https:']).optional(),
  METRICS_REQUIRE_KEY: bool.default(false),
  DOCS_PERSIST_AUTHORIZATION: bool.default(false),
  HTTP_HEADERS_TIMEOUT_MS: int(1).default(10_000),
  HTTP_REQUEST_TIMEOUT_MS: int(1).default(30_000),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  SHUTDOWN_TIMEOUT_MS: int(0).default(10_000),
  MAX_WS_CONNECTIONS: int(1).default(10_000),
  WS_MAX_FRAME_BYTES: int(1024).default(1024 * 1024),
  WS_MAX_EVENTS_PER_FRAME: int(1).default(1000),
  WS_MAX_INFLIGHT_PER_CONNECTION: int(1).default(10_000),
  WS_PING_INTERVAL_MS: int(100).default(30_000),
  WS_PER_MESSAGE_DEFLATE: bool.default(false),
  WS_SUBSCRIBER_MAX_BUFFERED_BYTES: int(1024).default(4 * 1024 * 1024),
  WS_SUBSCRIBERS_MAX_BUFFERED_BYTES: int(1024).default(256 * 1024 * 1024),
  WS_MAX_SUBSCRIPTION_PATTERNS: int(1).default(100),
})

export type Env = z.infer<typeof EnvSchema>

export interface Config extends Env {
  /** how long a claim stays reserved without a commit: longer than any commit can take (the retry budget) */
  readonly dedupeReservationSeconds: number
}

export class ConfigError extends Error {
  constructor(readonly problems: ReadonlyArray<{ variable: string; message: string }>) {
    super(problems.map((p) => `${p.variable}: ${p.message}`).join('; '))
  }
}

/** Parses the environment; throws ConfigError naming each bad variable. Empty values count as unset. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const present = Object.fromEntries(
    Object.entries(env).filter(([, value]) => value !== undefined && value !== ''),
  )
  const parsed = EnvSchema.safeParse(present)
  if (!parsed.success) {
    throw new ConfigError(
      parsed.error.issues.map((issue) => ({
        variable: String(issue.path[0] ?? '?'),
        message: issue.message,
      })),
    )
  }
  const config = parsed.data
  const problems: Array<{ variable: string; message: string }> = []
  if (config.INSERT_RETRY_MAX_MS < config.INSERT_RETRY_INITIAL_MS)
    problems.push({
      variable: 'INSERT_RETRY_MAX_MS',
      message: 'must be at least INSERT_RETRY_INITIAL_MS',
    })
  const minimumReservation = Math.ceil(config.INSERT_RETRY_BUDGET_MS / 1000) + 30
  const reservation = config.DEDUPE_RESERVATION_SECONDS ?? minimumReservation
  // A frame is submitted whole: one larger than either bound could never be taken.
  if (config.WS_MAX_EVENTS_PER_FRAME > config.WS_MAX_INFLIGHT_PER_CONNECTION)
    problems.push({
      variable: 'WS_MAX_EVENTS_PER_FRAME',
      message: 'must not exceed WS_MAX_INFLIGHT_PER_CONNECTION',
    })
  if (config.WS_MAX_EVENTS_PER_FRAME > config.MAX_INFLIGHT_EVENTS)
    problems.push({
      variable: 'WS_MAX_EVENTS_PER_FRAME',
      message: 'must not exceed MAX_INFLIGHT_EVENTS',
    })
  // Node refuses a server whose head bound is longer than its whole-request bound.
  if (config.HTTP_HEADERS_TIMEOUT_MS > config.HTTP_REQUEST_TIMEOUT_MS)
    problems.push({
      variable: 'HTTP_HEADERS_TIMEOUT_MS',
      message: 'must not exceed HTTP_REQUEST_TIMEOUT_MS',
    })
  for (const entry of config.API_KEYS ?? []) {
    const problem = apiKeyProblem(entry)
    if (problem) problems.push({ variable: 'API_KEYS', message: problem })
  }
  if (config.REDIS_CLUSTER_NODES && config.REDIS_URL)
    problems.push({
      variable: 'REDIS_CLUSTER_NODES',
      message: 'is instead of REDIS_URL: set one of them',
    })
  if (config.CLICKHOUSE_CLUSTER && !config.CLICKHOUSE_URL)
    problems.push({
      variable: 'CLICKHOUSE_CLUSTER',
      message: 'needs CLICKHOUSE_URL (a server of the cluster; the embedded engine has none)',
    })
  if (reservation * 1000 <= config.INSERT_RETRY_BUDGET_MS)
    problems.push({
      variable: 'DEDUPE_RESERVATION_SECONDS',
      message: 'must be longer than INSERT_RETRY_BUDGET_MS',
    })
  if (problems.length > 0) throw new ConfigError(problems)
  return { ...config, dedupeReservationSeconds: reservation }
}
