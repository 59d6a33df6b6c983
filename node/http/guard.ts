/**
 * Who is calling and how often: bearer-token authentication, the rate limits
 * (one token bucket per token, one per client address for requests without
 * a valid token) and the access log.
 *
 * A request with a valid token is charged to its token, never to its address
 * (the holder is known and accountable, and many callers may share one
 * address). Every other request — public, without a token, or with a bad one —
 * is charged to its address; a failed authentication (a bad token, or none on
 * a route that needs one) costs `auth_failure_cost` credits, so an address
 * that keeps failing slows down to a trickle. An empty bucket is 429
 * RATE_LIMITED with Retry-After. While an address is limited its requests are
 * refused before the token is looked up, unless the token is one already
 * known to be valid.
 *
 * Every request with a valid token is written to the access log, and so is
 * every 401 (who: the client address, never the token); 429s are not (they
 * did nothing): they are counted in the metrics and summed up in the node log.
 */
import { ServerResponse, type IncomingMessage } from 'node:http'
import type { Context, MiddlewareHandler } from 'hono'
import type { TokenInfo, TokenStore } from '../tokens.ts'
import type { CredentialVerifier } from '../credentials/verifier.ts'
import { CREDENTIAL_PREFIX } from '../../protocol/credential.ts'
import type { AccessLog, AccessRow } from '../access-log.ts'
import type { Logger } from '../logger.ts'
import { httpCounters, type MetricsDeps } from '../metrics.ts'
import { errorBody } from './errors.ts'
import { RateLimiter, addressKey, plainAddress, type BucketSpec } from './rate-limit.ts'
import { clientAddress, type TrustedProxies } from './client-address.ts'
import type { Env } from './request.ts'

/** The rate limits (node.json `limits`, node/config.ts). */
export interface RateLimits {
  token: BucketSpec
  address: BucketSpec
  auth_failure_cost: number
}

/** What authentication, the limits and the access log use. */
export interface GuardDeps extends MetricsDeps {
  now: () => number
  tokens: Pick<TokenStore, 'check' | 'known'>
  /** Credentials issued by any member (node/credentials/); without it only this node's tokens count. */
  credentials?: Pick<CredentialVerifier, 'checkOrThrow' | 'known'>
  accessLog: Pick<AccessLog, 'append' | 'onWriteError' | 'rows' | 'stats'>
  /** Input refused, by error code (the sync stats' table): a bad token counts as UNAUTHORIZED. */
  rejected: Record<string, number>
  limits: RateLimits
  /** Proxies whose X-Forwarded-For is believed (node.json http.trusted_proxies); none: the socket's address counts. */
  trustedProxies?: TrustedProxies
  log: Logger
}

/** The role access-log rows of failed authentications carry; their `name` is the client address. */
export const UNAUTHENTICATED = 'unauthenticated'

const BEARER = /^Bearer ([A-Za-z0-9_-]{1,100}|cairn1\.[A-Za-z0-9_-]{1,700}\.[A-Za-z0-9_-]{86})$/
const LIMIT_LOG_EVERY_MS = 60_000

export function guard(deps: GuardDeps): MiddlewareHandler<Env> {
  const byToken = new RateLimiter(deps.limits.token)
  const byAddress = new RateLimiter(deps.limits.address)
  const counters = httpCounters(deps)
  const failureCost = deps.limits.auth_failure_cost
  // Refusals since the last log line about them, by scope: one warn line a minute at most.
  const refused = { token: new Map<string, number>(), address: new Map<string, number>() }
  let refusedLoggedAt = 0

  const limited = (c: Context<Env>, scope: 'token' | 'address', key: string, wait: number) => {
    counters.rateLimited.inc({ scope })
    refused[scope].set(key, (refused[scope].get(key) ?? 0) + 1)
    if (performance.now() - refusedLoggedAt >= LIMIT_LOG_EVERY_MS) {
      refusedLoggedAt = performance.now()
      const top = (m: Map<string, number>) => Object.fromEntries([...m].sort((a, b) => b[1] - a[1]).slice(0, 10))
      deps.log.warn({ by_token: top(refused.token), by_address: top(refused.address) }, 'rate limits refused requests (429) since the last such line; by token id and by address, the 10 most refused')
      refused.token.clear()
      refused.address.clear()
    }
    c.header('Retry-After', String(wait))
    const what = scope === 'token' ? 'with this token' : 'from this address without a valid token'
    return c.json(errorBody('RATE_LIMITED', `too many requests ${what}; retry in ${wait} s`, c.get('requestId')), 429)
  }

  const failed = (address: string, reason: 'bad_token' | 'missing_token') => {
    byAddress.charge(addressKey(address), failureCost - 1)
    counters.authFailures.inc({ reason })
  }

  return async (c, next) => {
    const incoming = (c.env as { incoming?: IncomingMessage } | undefined)?.incoming
    const address = clientAddress(plainAddress(incoming?.socket?.remoteAddress), c.req.header('x-forwarded-for'), deps.trustedProxies)
    const akey = addressKey(address)
    const h = c.req.header('authorization')
    let who: TokenInfo | undefined
    if (h !== undefined) {
      const m = BEARER.exec(h)
      const bearer = m?.[1]
      const credential = bearer !== undefined && bearer.startsWith(CREDENTIAL_PREFIX) ? deps.credentials : undefined
      let why = 'unknown, malformed or revoked token'
      who = bearer === undefined ? undefined : credential ? credential.known(bearer) : deps.tokens.known(bearer)
      if (!who) {
        const wait = byAddress.take(akey)
        if (wait) return limited(c, 'address', akey, wait)
        if (credential) {
          try {
            who = credential.checkOrThrow(bearer!)
          } catch (e) {
            why = `credential refused: ${(e as Error).message}`
          }
        } else who = bearer === undefined ? undefined : await deps.tokens.check(bearer)
        if (who) byAddress.refund(akey)
      }
      if (!who) {
        deps.rejected.UNAUTHORIZED = (deps.rejected.UNAUTHORIZED ?? 0) + 1
        failed(address, 'bad_token')
        c.res = c.json(errorBody('UNAUTHORIZED', why, c.get('requestId')), 401)
        writeRow(c, deps, failedRow(c, deps, address))
        return c.res
      }
      const wait = byToken.take(who.id)
      if (wait) return limited(c, 'token', who.id, wait)
      c.set('who', who)
    } else {
      const wait = byAddress.take(akey)
      if (wait) return limited(c, 'address', akey, wait)
    }
    await next()
    if (who) {
      writeRow(c, deps, {
        time: deps.now(), token: who.id, name: who.name, role: who.role, ...(who.issuer ? { issuer: who.issuer } : {}),
        method: c.req.method, path: pathAndQuery(c), status: c.res.status,
      })
    } else if (c.res.status === 401) {
      // A route that needs a token, called without one.
      failed(address, 'missing_token')
      writeRow(c, deps, failedRow(c, deps, address))
    }
  }
}

type Row = Omit<AccessRow, 'seq' | 'prev' | 'bytes'>

const pathAndQuery = (c: Context) => c.req.path + (new URL(c.req.url).search ?? '')

function failedRow(c: Context<Env>, deps: GuardDeps, address: string): Row {
  return { time: deps.now(), token: '', name: address, role: UNAUTHENTICATED, method: c.req.method, path: pathAndQuery(c), status: c.res.status }
}

/**
 * The row is written when the body has been sent (or the client went away),
 * with the bytes sent. The app is served by @hono/node-server only
 * (./server.ts), which passes node:http's response.
 */
function writeRow(c: Context, deps: GuardDeps, row: Row): void {
  const outgoing = (c.env as { outgoing?: ServerResponse } | undefined)?.outgoing
  if (outgoing instanceof ServerResponse) countSent(outgoing, (bytes) => deps.accessLog.append({ ...row, bytes }))
  else deps.accessLog.append({ ...row, bytes: 0 })
}

const byteLength = (chunk: unknown, encoding?: unknown): number =>
  typeof chunk === 'string' ? Buffer.byteLength(chunk, typeof encoding === 'string' ? (encoding as BufferEncoding) : 'utf8') : (chunk as Uint8Array | undefined)?.byteLength ?? 0

/**
 * Counts the body bytes node:http is given for one response and calls `done`
 * once when the response is closed (sent, or the client went away). No
 * stream in between: most answers are one string, sent in one write.
 */
function countSent(res: ServerResponse, done: (bytes: number) => void): void {
  let bytes = 0
  const write = res.write
  const end = res.end
  res.write = function (this: ServerResponse, chunk: unknown, ...rest: unknown[]) {
    bytes += byteLength(chunk, rest[0])
    return (write as (...a: unknown[]) => boolean).call(this, chunk, ...rest)
  } as ServerResponse['write']
  res.end = function (this: ServerResponse, chunk?: unknown, ...rest: unknown[]) {
    if (typeof chunk !== 'function') bytes += byteLength(chunk, rest[0])
    return (end as (...a: unknown[]) => ServerResponse).call(this, chunk, ...rest)
  } as ServerResponse['end']
  res.once('close', () => done(bytes))
}
