/**
 * API bearer tokens. `grant` returns the token once; the store keeps only its
 * SHA-256, with the holder's name and role, so a copy of the store cannot be
 * used to call the API. Revoked tokens stay listed (who had access, when).
 */
import { randomBytes } from 'node:crypto'
import { existsSync, readFileSync, writeFileSync, chmodSync } from 'node:fs'
import { join } from 'node:path'
import { sha256, toHex, utf8, fromUtf8 } from '../protocol/bytes.ts'
import { LedgerError } from '../protocol/errors.ts'
import { keys, P } from './storage/keys.ts'
import type { KV } from './storage/kv.ts'

/** `metrics` may read GET /metrics and nothing else (a Prometheus scraper's token). */
export const ROLES = ['provider', 'auditor', 'oversight', 'operator', 'metrics'] as const
export type ApiRole = (typeof ROLES)[number]

export interface TokenInfo {
  /** First 16 hex digits of the token hash: how a token is named in lists and the access log. */
  id: string
  name: string
  role: ApiRole
  created: number
  revoked?: number
  /** For a credential (node/credentials/): the member that issued it; absent for this node's own tokens. */
  issuer?: string
}

const TOKEN_PREFIX = 'cairn_'

export class TokenStore {
  /** Token hash (hex) → holder, for tokens seen; apart from unknown ones, so a flood of made-up tokens cannot push real ones out. */
  private readonly cache = new Map<string, TokenInfo>()
  private readonly unknown = new Set<string>()

  constructor(private readonly kv: KV, private readonly now: () => number) {}

  async grant(role: ApiRole, name: string): Promise<{ token: string; info: TokenInfo }> {
    if (!ROLES.includes(role)) throw new LedgerError('BAD_REQUEST', `role must be one of ${ROLES.join(', ')}`)
    if (!/^[A-Za-z0-9 ._@-]{1,64}$/.test(name)) throw new LedgerError('BAD_REQUEST', 'a token holder name is 1–64 letters, digits, spaces or ._@-')
    const token = TOKEN_PREFIX + randomBytes(24).toString('base64url')
    const hash = sha256(utf8(token))
    const info: TokenInfo = { id: toHex(hash).slice(0, 16), name, role, created: this.now() }
    await this.kv.batch([{ type: 'put', key: keys.token(hash), value: utf8(JSON.stringify(info)) }], { durable: true })
    this.unknown.delete(toHex(hash))
    return { token, info }
  }

  /** The token's holder, or undefined for an unknown or revoked token. */
  async check(token: string): Promise<TokenInfo | undefined> {
    if (!token.startsWith(TOKEN_PREFIX) || token.length > 100) return undefined
    const hash = sha256(utf8(token))
    const h = toHex(hash)
    let info = this.cache.get(h)
    if (info === undefined) {
      if (this.unknown.has(h)) return undefined
      const v = await this.kv.get(keys.token(hash))
      if (!v) {
        if (this.unknown.size >= 10_000) this.unknown.clear()
        this.unknown.add(h)
        return undefined
      }
      info = JSON.parse(fromUtf8(v)) as TokenInfo
      if (this.cache.size >= 10_000) this.cache.clear()
      this.cache.set(h, info)
    }
    return info.revoked ? undefined : info
  }

  /** The holder of a valid token this store has already looked up; undefined otherwise (no read). */
  known(token: string): TokenInfo | undefined {
    if (!token.startsWith(TOKEN_PREFIX) || token.length > 100) return undefined
    const info = this.cache.get(toHex(sha256(utf8(token))))
    return info && !info.revoked ? info : undefined
  }

  /** Revokes by token id (16 hex digits) or by the token itself. */
  async revoke(idOrToken: string): Promise<TokenInfo> {
    for await (const [k, v] of this.kv.iterate({ gte: new Uint8Array([P.token]), lt: new Uint8Array([P.token + 1]) })) {
      const info = JSON.parse(fromUtf8(v)) as TokenInfo
      const hash = toHex(k.subarray(1))
      if (info.id === idOrToken || hash === toHex(sha256(utf8(idOrToken)))) {
        if (!info.revoked) {
          info.revoked = this.now()
          await this.kv.batch([{ type: 'put', key: k, value: utf8(JSON.stringify(info)) }], { durable: true })
        }
        this.cache.clear()
        this.unknown.clear()
        return info
      }
    }
    throw new LedgerError('NOT_FOUND', `no token with id ${idOrToken}`)
  }

  async list(): Promise<TokenInfo[]> {
    const out: TokenInfo[] = []
    for await (const [, v] of this.kv.iterate({ gte: new Uint8Array([P.token]), lt: new Uint8Array([P.token + 1]) })) out.push(JSON.parse(fromUtf8(v)))
    return out.sort((a, b) => a.created - b.created)
  }
}

/** The operator token file for the local CLI (<dir>/operator.token, 0600): kept while it still works, else granted anew. */
export async function ensureOperatorToken(dir: string, tokens: TokenStore): Promise<string> {
  const path = join(dir, 'operator.token')
  if (existsSync(path)) {
    const t = readFileSync(path, 'utf8').trim()
    if (await tokens.check(t)) return t
  }
  const { token } = await tokens.grant('operator', 'local-operator')
  writeFileSync(path, token + '\n', { mode: 0o600 })
  chmodSync(path, 0o600)
  return token
}
