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
import type { Server, ServerOptions } from 'node:http'
import type { AddressInfo, Socket } from 'node:net'
import type { NodeFile } from '../config.ts'
import { httpCounters, type MetricsDeps } from '../metrics.ts'
import { addressKey, plainAddress } from './rate-limit.ts'

export interface Listening {
  /** http://host:port of the API. */
  url: string
  close(): Promise<void>
}

// Keep idle connections longer than clients do (undici: 4 s), so a client never reuses a socket
// the server is closing at that moment (an ECONNRESET on a busy machine). An idle connection is
// not a request in progress: the header and request timeouts do not apply to it.
const KEEP_ALIVE_MS = 65_000

export async function listen(
  fetch: (req: Request) => Response | Promise<Response>, host: string, port: number,
  deps: MetricsDeps & { limits: NodeFile['limits'] },
): Promise<Listening> {
  const { limits } = deps
  const headersMs = limits.headers_timeout_s * 1000
  const serverOptions: ServerOptions = {
    headersTimeout: headersMs,
    requestTimeout: Math.max(headersMs, limits.request_timeout_s * 1000),
    keepAliveTimeout: KEEP_ALIVE_MS,
    connectionsCheckingInterval: 1000,
  }
  let server!: ServerType
  const url = await new Promise<string>((resolve, reject) => {
    server = serve({ fetch, port, hostname: host, serverOptions }, (info: AddressInfo) => resolve(`http://${host}:${info.port}`))
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
  return {
    url,
    close: () => new Promise<void>((resolve) => {
      http.close(() => resolve())
      http.closeIdleConnections()
    }),
  }
}
