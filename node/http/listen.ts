/**
 * Serving the hono app on node:http: the one listener of a node's API
 * (node/node.ts), with the limits a public server needs against slow and
 * greedy clients (node.json `limits`) — headers within `headers_timeout_s`,
 * the whole request (body included) within `request_timeout_s` (checked
 * every second, so a trickling client is cut off within a second of its
 * limit; answers, however long, are not limited), at most `max_connections`
 * open connections and `connections_per_address` from one client address
 * (an IPv6 /64). A connection over a cap is closed at once and counted.
 */
import { serve, type ServerType } from '@hono/node-server'
import { readFileSync } from 'node:fs'
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https'
import { createSecureContext } from 'node:tls'
import type { Server, ServerOptions } from 'node:http'
import { LedgerError } from '../../protocol/errors.ts'
import type { AddressInfo, Socket } from 'node:net'
import type { NodeFile } from '../config.ts'
import { httpCounters, type MetricsDeps } from '../metrics.ts'
import { addressKey, plainAddress } from './rate-limit.ts'
import { TlsReloader } from './tls-reload.ts'
import type { Logger } from '../logger.ts'

export interface Listening {
  /** http(s)://host:port of the API. */
  url: string
  close(): Promise<void>
}

// Keep idle connections longer than clients do (undici: 4 s), so a client never reuses a socket
// the server is closing at that moment (an ECONNRESET on a busy machine). An idle connection is
// not a request in progress: the header and request timeouts do not apply to it.
const KEEP_ALIVE_MS = 65_000

/** The API's certificate chain and key (PEM), read and checked by loadTls, and where they were read from. */
export interface TlsFiles {
  cert: Buffer
  key: Buffer
  paths: { cert: string; key: string }
}

/**
 * Reads node.json's http.tls files and checks that they parse and belong
 * together, before the node opens anything else: a bad certificate is one
 * BAD_CONFIG line at start, naming the file.
 */
export function loadTls(paths: { cert: string; key: string }): TlsFiles {
  let files: TlsFiles
  try {
    files = { cert: readFileSync(paths.cert), key: readFileSync(paths.key), paths }
  } catch (e) {
    const err = e as NodeJS.ErrnoException
    throw new LedgerError('BAD_CONFIG', `node.json http.tls: cannot read ${err.path ?? 'the certificate or key'} (${err.code ?? err.message})`)
  }
  try {
    createSecureContext({ cert: files.cert, key: files.key })
  } catch (e) {
    throw new LedgerError('BAD_CONFIG', `node.json http.tls: ${paths.cert} and ${paths.key} are not a PEM certificate chain and its private key (${(e as Error).message.split('\n')[0]})`)
  }
  return files
}

export async function listen(
  fetch: (req: Request) => Response | Promise<Response>, host: string, port: number,
  deps: MetricsDeps & { limits: NodeFile['limits']; log?: Pick<Logger, 'info' | 'error'> },
  tls?: TlsFiles,
): Promise<Listening> {
  const { limits } = deps
  const headersMs = limits.headers_timeout_s * 1000
  const serverOptions: ServerOptions = {
    headersTimeout: headersMs,
    requestTimeout: Math.max(headersMs, limits.request_timeout_s * 1000),
    keepAliveTimeout: KEEP_ALIVE_MS,
    connectionsCheckingInterval: 1000,
  }
  const pem = tls
  const scheme = pem ? 'https' : 'http'
  const urlHost = host.includes(':') ? `[${host}]` : host
  let server!: ServerType
  const url = await new Promise<string>((resolve, reject) => {
    server = pem
      ? serve({ fetch, port, hostname: host, createServer: createHttpsServer, serverOptions: { ...serverOptions, cert: pem.cert, key: pem.key } }, (info: AddressInfo) => resolve(`${scheme}://${urlHost}:${info.port}`))
      : serve({ fetch, port, hostname: host, serverOptions }, (info: AddressInfo) => resolve(`${scheme}://${urlHost}:${info.port}`))
    server.once('error', reject)
  })
  const http = server as Server
  http.maxConnections = limits.max_connections
  const refused = httpCounters(deps).connectionsRefused
  http.on('drop', () => refused.inc({ reason: 'max_connections' }))
  const perAddress = new Map<string, number>()
  http.on('connection', (socket: Socket) => {
    const key = addressKey(plainAddress(socket.remoteAddress))
    const n = (perAddress.get(key) ?? 0) + 1
    if (n > limits.connections_per_address) {
      refused.inc({ reason: 'connections_per_address' })
      socket.destroy()
      return
    }
    perAddress.set(key, n)
    socket.once('close', () => {
      const left = (perAddress.get(key) ?? 1) - 1
      if (left <= 0) perAddress.delete(key)
      else perAddress.set(key, left)
    })
  })
  const reloader = pem ? new TlsReloader(server as HttpsServer, pem, deps.log) : undefined
  reloader?.start()
  return {
    url,
    close: () => new Promise<void>((resolve) => {
      reloader?.stop()
      http.close(() => resolve())
      http.closeIdleConnections()
    }),
  }
}
