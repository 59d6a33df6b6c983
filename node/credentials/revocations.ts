/**
 * Revocation statements of credentials, from every issuer (spec/credentials.md
 * §5): verified before they are kept, kept in <dir>/credential-revocations.jsonl
 * (one statement a line), looked up by issuer and credential id before a
 * credential is accepted. A statement whose credential has expired is no
 * longer needed: it is dropped when the node starts. A bad statement (bad
 * signature, unknown issuer, compromised key, oversized, malformed) is
 * refused, counted by code, and never stored.
 */
import { appendFileSync, closeSync, existsSync, fsyncSync, openSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { replaceFileSync } from '../../client/durable-file.ts'
import { CREDENTIAL_CLOCK_SKEW_S, type IssuerLookup } from '../../protocol/credential.ts'
import { verifyRevocation, type CredentialRevocation } from '../../protocol/credential-revocation.ts'
import { LedgerError, isLedgerError } from '../../protocol/errors.ts'

/** Statements kept at most (each under 512 bytes). */
export const MAX_REVOCATIONS = 100_000

export interface RevocationStats {
  stored: number
  /** New statements taken in since start (made here or received). */
  added: number
  /** Statements refused, by error code. */
  rejected: Record<string, number>
}

const key = (issuer: string, id: string) => `${issuer} ${id}`

export class RevocationSet {
  private readonly byKey = new Map<string, { text: string; r: CredentialRevocation }>()
  readonly stats: RevocationStats = { stored: 0, added: 0, rejected: {} }
  private readonly path: string

  private constructor(dir: string, private readonly issuers: IssuerLookup, private readonly nowS: () => number) {
    this.path = join(dir, 'credential-revocations.jsonl')
  }

  /** Reads the file back, keeping the statements that still verify and whose credential has not expired. */
  static open(dir: string, issuers: IssuerLookup, nowS: () => number): RevocationSet {
    const set = new RevocationSet(dir, issuers, nowS)
    if (!existsSync(set.path)) return set
    const lines = readFileSync(set.path, 'utf8').split('\n').filter(Boolean)
    for (const line of lines) {
      try {
        set.take(line)
      } catch {
        // expired, or no longer verifiable (its issuer left): not kept
      }
    }
    if (set.byKey.size !== lines.length) {
      replaceFileSync(set.path, set.texts().map((t) => t + '\n').join(''), 0o600)
    }
    set.stats.stored = set.byKey.size
    return set
  }

  /** Verifies and keeps one statement in memory; 'known' when held already. Throws what verification throws. */
  private take(text: string): { r: CredentialRevocation; fresh: boolean } {
    const r = verifyRevocation(text, this.issuers)
    if (r.exp + CREDENTIAL_CLOCK_SKEW_S < this.nowS()) throw new LedgerError('CREDENTIAL_EXPIRED', `the revoked credential ${r.id} has expired: the statement is not needed`)
    const k = key(r.issuer, r.id)
    if (this.byKey.has(k)) return { r, fresh: false }
    if (this.byKey.size >= MAX_REVOCATIONS) throw new LedgerError('TOO_LARGE', `this node keeps at most ${MAX_REVOCATIONS} credential revocations`)
    this.byKey.set(k, { text, r })
    return { r, fresh: true }
  }

  /**
   * Takes in a statement (made here, or from a peer): returns true when it
   * is new and now stored durably, false when held already. A bad one is
   * counted and thrown. A statement about an expired credential is not
   * stored (false).
   */
  add(text: string): boolean {
    let taken
    try {
      taken = this.take(text)
    } catch (e) {
      const code = isLedgerError(e) ? e.code : 'BAD_CREDENTIAL'
      if (code === 'CREDENTIAL_EXPIRED') return false
      this.stats.rejected[code] = (this.stats.rejected[code] ?? 0) + 1
      throw e
    }
    if (!taken.fresh) return false
    appendFileSync(this.path, text + '\n', { mode: 0o600 })
    const fd = openSync(this.path, 'r')
    try {
      fsyncSync(fd)
    } finally {
      closeSync(fd)
    }
    this.stats.added++
    this.stats.stored = this.byKey.size
    return true
  }

  has(issuer: string, id: string): boolean {
    return this.byKey.has(key(issuer, id))
  }

  /** The statement revoking `id` of `issuer`, if any. */
  get(issuer: string, id: string): CredentialRevocation | undefined {
    return this.byKey.get(key(issuer, id))?.r
  }

  texts(): string[] {
    return [...this.byKey.values()].map((x) => x.text)
  }
}
