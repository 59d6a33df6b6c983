/**
 * Issuing and revoking credentials at the issuing centre (spec/credentials.md
 * §4): signed with the centre's current log key, recorded in the issued list
 * (./issued.ts); a revocation is a statement signed with the same key, kept
 * with every other revocation (./revocations.ts) and pushed to the members
 * (./relay.ts).
 */
import { randomBytes } from 'node:crypto'
import { signCredential, type Credential, type CredentialRole } from '../../protocol/credential.ts'
import { signRevocation } from '../../protocol/credential-revocation.ts'
import { LedgerError } from '../../protocol/errors.ts'
import { readIssued, recordIssued, type IssuedCredential } from './issued.ts'
import type { RevocationSet } from './revocations.ts'

/** Makes, signs and records one credential. `days` is 1–400. */
export function issueCredential(o: { dir: string; origin: string; seed: Uint8Array; nowMs: number }, holder: string, role: string, days: number): { credential: string; info: Credential } {
  if (!Number.isInteger(days) || days < 1 || days > 400) throw new LedgerError('BAD_REQUEST', '--days is a whole number of days from 1 to 400')
  const iat = Math.floor(o.nowMs / 1000)
  const info: Credential = { v: 1, issuer: o.origin, holder, role: role as CredentialRole, id: randomBytes(16).toString('hex'), iat, exp: iat + days * 86_400 }
  const credential = signCredential(o.seed, info) // checks every field (role, holder) first
  recordIssued(o.dir, info)
  return { credential, info }
}

export interface IssuedView extends IssuedCredential {
  /** When its revocation was made (seconds), if revoked. */
  revoked?: number
}

export interface CredentialDeskOptions {
  dir: string
  origin: string
  /** The log key seed credentials and revocations are signed with now (OwnKeys.currentLogSeed). */
  seed: () => Uint8Array
  revocations: Pick<RevocationSet, 'add' | 'get'>
  /** Sends a new revocation to the members (relay.ts). */
  publish: (statement: string) => void
  now: () => number
}

export class CredentialDesk {
  constructor(private readonly o: CredentialDeskOptions) {}

  issue(holder: string, role: string, days: number): { credential: string; info: Credential } {
    return issueCredential({ dir: this.o.dir, origin: this.o.origin, seed: this.o.seed(), nowMs: this.o.now() }, holder, role, days)
  }

  list(): IssuedView[] {
    return readIssued(this.o.dir).map((c) => {
      const r = this.o.revocations.get(this.o.origin, c.id)
      return r ? { ...c, revoked: r.time } : c
    })
  }

  /** Revokes a credential this centre issued (NOT_FOUND otherwise); revoking twice changes nothing. */
  revoke(id: string): IssuedView {
    const c = readIssued(this.o.dir).find((x) => x.id === id)
    if (!c) throw new LedgerError('NOT_FOUND', `no credential ${id} was issued by this node (cairn credential list)`)
    const before = this.o.revocations.get(this.o.origin, id)
    if (before) return { ...c, revoked: before.time }
    const time = Math.floor(this.o.now() / 1000)
    const statement = signRevocation(this.o.seed(), { v: 1, issuer: this.o.origin, id, exp: c.exp, time })
    if (this.o.revocations.add(statement)) this.o.publish(statement)
    return { ...c, revoked: time }
  }
}
