/**
 * Which records an NCMEC deleted entry revokes: every indicator in this
 * centre's own log whose ref is `ncmec:<id>` and that is still current —
 * those this centre imported from that entry, in this run or an earlier one.
 * Never a record of another log, never one found by value: a deleted entry
 * names no value, and the same hash imported from another source must stay.
 *
 * The own log's refs are read once, at the first deleted entry, through the
 * tiles API (client/own-log-refs.ts), with a token that may read tiles (the
 * auditor or oversight role; `--auditor-token`, else the operator token,
 * which nodes that keep tiles to auditors refuse). Records this run
 * publishes and revokes are added as their results come back, so a file
 * that adds and later deletes an entry needs nothing else.
 */
import { LedgerError } from '../../protocol/errors.ts'
import { api, type Endpoint } from '../../client/http.ts'
import { readLogRefs, type LogRefs } from '../../client/own-log-refs.ts'

export class RevocationTargets {
  private loaded?: Promise<LogRefs>
  private readonly importedNow = new Map<string, Set<string>>()
  private readonly revokedNow = new Set<string>()

  constructor(private readonly operator: Endpoint, private readonly reader: Endpoint) {}

  /** A record this run published with `ref`. */
  noteImported(ref: string, id: string): void {
    let ids = this.importedNow.get(ref)
    if (!ids) this.importedNow.set(ref, (ids = new Set()))
    ids.add(id)
  }

  /** A record this run revoked. */
  noteRevoked(id: string): void {
    this.revokedNow.add(id)
  }

  private async index(): Promise<LogRefs> {
    this.loaded ??= (async () => {
      const { origin } = await api<{ origin: string }>(this.operator, 'GET', '/status')
      try {
        return await readLogRefs(this.reader, origin)
      } catch (e) {
        if (e instanceof LedgerError && (e.code === 'FORBIDDEN' || e.code === 'UNAUTHORIZED')) {
          throw new LedgerError(e.code, `finding the records a deleted entry revokes means reading this centre's own log through GET /logs/<name>/tile/entries (auditor or oversight role): give --auditor-token <token> (cairn token grant --role auditor) [${e.message}]`)
        }
        throw e
      }
    })()
    return this.loaded
  }

  /** The ids (hex) to revoke for `ref`, or the reason there are none. */
  async targets(ref: string): Promise<{ ids: string[] } | { error: string }> {
    let refs: LogRefs
    try {
      refs = await this.index()
    } catch (e) {
      return { error: e instanceof LedgerError ? `${e.code}: ${e.message}` : (e as Error).message }
    }
    const ids = new Set([...(refs.live.get(ref) ?? []), ...(this.importedNow.get(ref) ?? [])])
    for (const id of this.revokedNow) ids.delete(id)
    if (!ids.size) return { error: `no current record with ref ${ref} in ${refs.origin}'s log (${refs.size} entries read): this centre never imported that entry, or it is already revoked` }
    return { ids: [...ids].sort() }
  }
}
