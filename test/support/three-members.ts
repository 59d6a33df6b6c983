/**
 * A federation of three members (a, b, c; threshold 2) with keys from fixed
 * seeds, for tests that feed the roster records by hand: key rotations,
 * compromises, fork resolutions.
 */
import { generateKeyPair } from '../../protocol/ed25519.ts'
import { witnessVerifierKey } from '../../protocol/cosignature.ts'
import { verifierKey } from '../../protocol/note.ts'
import { sha256, utf8 } from '../../protocol/bytes.ts'
import type { Genesis } from '../../protocol/genesis.ts'

export function threeMembers(federation: string) {
  const names = ['a', 'b', 'c'] as const
  const kp = (s: string) => generateKeyPair(sha256(utf8(s)))
  const log = Object.fromEntries(names.map((n) => [n, kp(`${n}/log`)]))
  const wit = Object.fromEntries(names.map((n) => [n, kp(`${n}/witness`)]))
  const origin = (n: string) => `${federation}/${n}`
  const genesis: Genesis = {
    federation, threshold: 2,
    members: names.map((n) => ({
      name: n, origin: origin(n), vkey: verifierKey(origin(n), log[n]!.publicKey), witness_vkey: witnessVerifierKey(origin(n), wit[n]!.publicKey),
      peer_id: `peer${n}`, roles: ['publisher', 'witness'] as ('publisher' | 'witness')[], addrs: [],
    })),
  }
  const T = 1_767_225_600_000
  const header = (n: string, seq: number) => ({ v: 1 as const, log: origin(n), seq, time: T + seq * 1000 })
  return { names, kp, log, wit, origin, genesis, T, header, next: kp('a/log-2') }
}
