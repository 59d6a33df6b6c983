/** Structured logs (pino, JSON lines on stderr): one logger per node, tagged with its origin. */
import pino, { type Logger } from 'pino'

export type { Logger }

export function createLogger(origin: string, level = process.env.CAIRN_LOG_LEVEL ?? 'info'): Logger {
  return pino({ level, base: { node: origin } }, pino.destination(2))
}
