/**
 * Every attestation the store holds, read from its reference table ('R'
 * target ‖ id → type, keys.ts): attestations are few beside indicators, so
 * the provider's opinion index (node/provider/opinions.ts) starts from this
 * instead of reading every entry of every log.
 */
import type { Store } from './store.ts'
import { P } from './keys.ts'
import { TYPE_CODES } from './codes.ts'

/** (target, attestation id) of every attestation stored, in key order. */
export async function* storedAttestations(store: Store): AsyncIterable<{ target: Uint8Array; id: Uint8Array }> {
  for await (const [k, v] of store.kv.iterate({ gte: new Uint8Array([P.ref]), lt: new Uint8Array([P.ref + 1]) })) {
    if (v[0] !== TYPE_CODES.attestation || k.length !== 65) continue
    yield { target: k.slice(1, 33), id: k.slice(33) }
  }
}
