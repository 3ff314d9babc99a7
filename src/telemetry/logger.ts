import pino, { type DestinationStream, type Logger } from 'pino'

/**
 * The one root logger; components take children (`logger.child({ component })`). Anything that
 * could carry a credential is redacted wherever it appears in a log object.
 */
export function createLogger(level: string, destination?: DestinationStream): Logger {
  return pino(
    {
      level,
      redact: {
        paths: [
          'headers.authorization',
          'headers["x-api-key"]',
          'req.headers.authorization',
          'req.headers["x-api-key"]',
          'apiKey',
          'apiKeys',
          'config.API_KEYS',
        ],
        censor: '[redacted]',
      },
    },
    destination,
  )
}
