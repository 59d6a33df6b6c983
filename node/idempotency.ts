/**
 * Idempotency keys of POST /records (draft-ietf-httpapi-idempotency-key-header,
 * as Stripe runs it): a request sent again with the same key and the same body
 * gets the first answer again and stores nothing new; with a different body,
 * IDEMPOTENCY_KEY_REUSED (422); while the first is still being answered,
 * CONFLICT (409). Keys are per token and kept in the store, so a restart
 * does not forget them.
 *
 * Exactly once across a crash: a request's records may land in several
 * publishing batches, and the node may die between two. So each record's
 * answer is written in the same atomic batch as the record itself (an item
 * row, Publisher's `alsoWrite`); a retry after a crash answers the records
 * that have an item row from it and publishes only the others. Once every
 * record has its answer, the whole answer is written and the item rows go.
 * An answer with a transient failure in it (CONFLICT, RATE_LIMITED, a 5xx)
 * is not kept: a retry publishes what was left out.
 *
 * Rows, in the store's metadata table ('M'), for token T and key hash H
 * (SHA-256 of the key: any key's bytes, fixed length):
 *   idem/r/T/H    → {fp, at, bytes[, status]}   the request (fp: SHA-256 of its body)
 *   idem/a/T/H    → the answer's JSON body
 *   idem/i/T/H/i  → {id, seq, log}             record i's answer, until the whole answer is kept
 */
import { createHash } from 'node:crypto'
import { fromUtf8, utf8 } from '../protocol/bytes.ts'
import { LedgerError } from '../protocol/errors.ts'
import { keys, prefixEnd } from './storage/keys.ts'
import type { BatchOp, KV } from './storage/kv.ts'
import type { Published } from './publisher.ts'

export const IDEMPOTENCY_LIMITS = {
  /** How long a key is remembered. */
  ttlMs: 24 * 3600_000,
  /** Keys kept per token; beyond it the oldest is forgotten (a `cairn import` of 50M records at 5000 a request uses 10,000). */
  keysPerToken: 10_000,
  /** Bytes of kept answers per token (an answer is ~100 bytes a record); beyond it the oldest is forgotten. */
  bytesPerToken: 256 * 1024 * 1024,
}
/** The draft's key is an sf-string: printable ASCII; bounded so a key is never a payload. */
const KEY_RE = /^[\x20-\x7e]{1,255}$/

interface RequestRow { fp: string; at: number; bytes: number; status?: number }

export type Begun =
  | { replay: true; status: number; body: string }
  | { replay: false; done: Map<number, Published>; itemRows: (i: number) => (p: Published) => BatchOp[]; finish: (status: number, body: string, keep: boolean) => Promise<void>; release: () => void }

const sha256hex = (b: string | Uint8Array) => createHash('sha256').update(b).digest('hex')

export class IdempotencyKeys {
  private readonly busy = new Set<string>()
  /** Per token, its keys (hash → when, answer bytes), oldest first; read from the store at a token's first key. */
  private readonly index = new Map<string, Map<string, { at: number; bytes: number }>>()

  constructor(private readonly kv: KV, private readonly now: () => number, private readonly limits = IDEMPOTENCY_LIMITS) {}

  /** Parses the header value: a bare key, or a quoted sf-string as the draft writes it. */
  static parseHeader(value: string): string {
    const key = /^".*"$/.test(value) ? value.slice(1, -1).replace(/\\(["\\])/g, '$1') : value
    if (!KEY_RE.test(key)) throw new LedgerError('BAD_REQUEST', 'Idempotency-Key is 1..255 printable ASCII characters (a UUID, or what cairn import derives)')
    return key
  }

  async begin(tokenId: string, key: string, body: string): Promise<Begun> {
    const h = sha256hex(key)
    const name = `${tokenId}/${h}`
    if (this.busy.has(name)) throw new LedgerError('CONFLICT', 'a request with this Idempotency-Key is still being answered; retry once it has been')
    const fp = sha256hex(body)
    const tokenKeys = await this.keysOf(tokenId)
    let row = await this.readRow(name)
    if (row && row.at + this.limits.ttlMs <= this.now()) {
      await this.forget(tokenId, [h])
      row = undefined
    }
    if (row && row.fp !== fp) {
      throw new LedgerError('IDEMPOTENCY_KEY_REUSED', 'this Idempotency-Key was used with a different request body; send a new key for a new request (the first request\'s answer stands)')
    }
    if (row?.status !== undefined) {
      const answer = await this.kv.get(keys.meta(`idem/a/${name}`))
      if (answer) return { replay: true, status: row.status, body: fromUtf8(answer) }
    }
    this.busy.add(name)
    try {
      const done = new Map<number, Published>()
      if (row) {
        const prefix = keys.meta(`idem/i/${name}/`)
        for await (const [k, v] of this.kv.iterate({ gte: prefix, lt: prefixEnd(prefix) })) {
          done.set(Number(fromUtf8(k.subarray(prefix.length))), JSON.parse(fromUtf8(v)) as Published)
        }
      } else {
        const at = this.now()
        const evict = this.evictable(tokenId, tokenKeys, at)
        await this.kv.batch([...(await this.forgetOps(tokenId, evict)), { type: 'put', key: keys.meta(`idem/r/${name}`), value: utf8(JSON.stringify({ fp, at, bytes: 0 } satisfies RequestRow)) }], { durable: true })
        for (const e of evict) tokenKeys.delete(e)
        tokenKeys.set(h, { at, bytes: 0 })
      }
      const rowAt = row?.at ?? tokenKeys.get(h)!.at
      return {
        replay: false,
        done,
        itemRows: (i) => (p) => [{ type: 'put', key: keys.meta(`idem/i/${name}/${i}`), value: utf8(JSON.stringify(p)) }],
        finish: async (status, answer, keep) => {
          if (!keep) return
          const bytes = answer.length
          const ops: BatchOp[] = [
            { type: 'put', key: keys.meta(`idem/r/${name}`), value: utf8(JSON.stringify({ fp, at: rowAt, bytes, status } satisfies RequestRow)) },
            { type: 'put', key: keys.meta(`idem/a/${name}`), value: utf8(answer) },
          ]
          // Every item row of this key goes: those read at the start and those written since.
          const prefix = keys.meta(`idem/i/${name}/`)
          for await (const [k] of this.kv.iterate({ gte: prefix, lt: prefixEnd(prefix) })) ops.push({ type: 'del', key: k })
          await this.kv.batch(ops, { durable: true })
          tokenKeys.set(h, { at: rowAt, bytes })
        },
        release: () => { this.busy.delete(name) },
      }
    } catch (e) {
      this.busy.delete(name)
      throw e
    }
  }

  private async readRow(name: string): Promise<RequestRow | undefined> {
    const v = await this.kv.get(keys.meta(`idem/r/${name}`))
    return v ? (JSON.parse(fromUtf8(v)) as RequestRow) : undefined
  }

  private async keysOf(tokenId: string): Promise<Map<string, { at: number; bytes: number }>> {
    let m = this.index.get(tokenId)
    if (m) return m
    const rows: [string, { at: number; bytes: number }][] = []
    const prefix = keys.meta(`idem/r/${tokenId}/`)
    for await (const [k, v] of this.kv.iterate({ gte: prefix, lt: prefixEnd(prefix) })) {
      const r = JSON.parse(fromUtf8(v)) as RequestRow
      rows.push([fromUtf8(k.subarray(prefix.length)), { at: r.at, bytes: r.bytes }])
    }
    m = new Map(rows.sort((a, b) => a[1].at - b[1].at))
    this.index.set(tokenId, m)
    return m
  }

  /** Keys to forget before one more is kept: the expired, then the oldest while over a limit. */
  private evictable(tokenId: string, m: Map<string, { at: number; bytes: number }>, now: number): string[] {
    const out: string[] = []
    let n = m.size + 1
    let bytes = [...m.values()].reduce((a, b) => a + b.bytes, 0)
    for (const [h, k] of m) {
      if (k.at + this.limits.ttlMs > now && n <= this.limits.keysPerToken && bytes <= this.limits.bytesPerToken) break
      if (this.busy.has(`${tokenId}/${h}`)) continue
      out.push(h)
      n--
      bytes -= k.bytes
    }
    return out
  }

  private async forgetOps(tokenId: string, hashes: string[]): Promise<BatchOp[]> {
    const ops: BatchOp[] = []
    for (const h of hashes) {
      const name = `${tokenId}/${h}`
      ops.push({ type: 'del', key: keys.meta(`idem/r/${name}`) }, { type: 'del', key: keys.meta(`idem/a/${name}`) })
      const prefix = keys.meta(`idem/i/${name}/`)
      for await (const [k] of this.kv.iterate({ gte: prefix, lt: prefixEnd(prefix) })) ops.push({ type: 'del', key: k })
    }
    return ops
  }

  private async forget(tokenId: string, hashes: string[]): Promise<void> {
    await this.kv.batch(await this.forgetOps(tokenId, hashes), { durable: true })
    for (const h of hashes) this.index.get(tokenId)?.delete(h)
  }
}
