/**
 * Accepts credentials issued by any member (spec/credentials.md §3): a bearer
 * string `cairn1.…` is verified offline against the roster this node holds
 * (protocol/credential.ts) and looked up in the revocations it holds. A
 * verified credential is cached (the signature is checked once), but expiry
 * and revocation are checked on every request, and the cache is emptied
 * whenever a roster change applies (a compromise, a member removed).
 */
import { CREDENTIAL_PREFIX, verifyCredential, type Credential, type IssuerLookup } from '../../protocol/credential.ts'
import { LedgerError, isLedgerError } from '../../protocol/errors.ts'
import type { Roster } from '../roster.ts'
import type { TokenInfo } from '../tokens.ts'
import type { RevocationSet } from './revocations.ts'

export interface CredentialStats {
  /** Requests authenticated by a credential (from the cache or newly verified). */
  accepted: number
  /** Credentials refused, by error code. */
  rejected: Record<string, number>
}

const MAX_CACHED = 10_000

export const isCredential = (token: string) => token.startsWith(CREDENTIAL_PREFIX)

/** The roster as protocol/credential.ts reads it: each member's activity and log keys. */
export function rosterIssuers(roster: Pick<Roster, 'member'>): IssuerLookup {
  return (origin) => {
    const m = roster.member(origin)
    return m && { active: m.active, keys: m.logKeys }
  }
}

export class CredentialVerifier {
  readonly stats: CredentialStats = { accepted: 0, rejected: {} }
  private readonly cache = new Map<string, Credential>()
  private readonly issuers: IssuerLookup

  constructor(roster: Pick<Roster, 'member' | 'onChange'>, private readonly revocations: Pick<RevocationSet, 'has'>, private readonly nowMs: () => number) {
    this.issuers = rosterIssuers(roster)
    roster.onChange(() => this.cache.clear())
  }

  private info(c: Credential): TokenInfo {
    return { id: c.id.slice(0, 16), name: c.holder, role: c.role, created: c.iat * 1000, issuer: c.issuer }
  }

  /** Throws CREDENTIAL_EXPIRED or CREDENTIAL_REVOKED for a credential verified before. */
  private current(c: Credential): TokenInfo {
    if (Math.floor(this.nowMs() / 1000) >= c.exp) throw new LedgerError('CREDENTIAL_EXPIRED', `the credential expired at ${new Date(c.exp * 1000).toISOString()}`)
    if (this.revocations.has(c.issuer, c.id)) throw new LedgerError('CREDENTIAL_REVOKED', `the credential was revoked by ${c.issuer}`)
    return this.info(c)
  }

  /** The holder of a credential verified before and still valid; undefined otherwise (no signature check). */
  known(token: string): TokenInfo | undefined {
    const c = this.cache.get(token)
    if (!c) return undefined
    try {
      return this.current(c)
    } catch {
      return undefined
    }
  }

  /** Verifies a credential: the holder, or a LedgerError saying why not (counted). */
  checkOrThrow(token: string): TokenInfo {
    try {
      let c = this.cache.get(token)
      if (!c) {
        c = verifyCredential(token, this.issuers, Math.floor(this.nowMs() / 1000))
        if (this.cache.size >= MAX_CACHED) this.cache.clear()
        this.cache.set(token, c)
      }
      const info = this.current(c)
      this.stats.accepted++
      return info
    } catch (e) {
      const code = isLedgerError(e) ? e.code : 'BAD_CREDENTIAL'
      this.stats.rejected[code] = (this.stats.rejected[code] ?? 0) + 1
      throw e
    }
  }
}
