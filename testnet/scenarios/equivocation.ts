/**
 * equivocation: a member forks its log. Its real node is stopped; with its
 * log key the harness extends the real tree by one different entry on each
 * side (fork A, fork B: same size, different roots), signs both checkpoints,
 * and hands fork A to one half of the honest members and fork B to the other
 * through the public witness endpoint (c2sp tlog-witness add-checkpoint).
 * A peer holding the member's libp2p identity serves each half the entries of
 * its fork (status + range sync), as an equivocating member would.
 *
 * Pass: every honest node freezes the log (GET /logs shows frozen: true)
 * and holds an equivocation proof that verifies with the log's key alone.
 * Reports the time from the submission to the first and to the last honest
 * node frozen.
 */
import { join } from 'node:path'
import { LevelKV } from '../../node/storage/kv.ts'
import { Store } from '../../node/storage/store.ts'
import { loadKeys } from '../../node/config.ts'
import { createPeer, type Peer } from '../../node/replication/peer.ts'
import { PROTO_STATUS, PROTO_SYNC, decodeSyncRequest, encodeSyncHeader, textFrame } from '../../node/replication/messages.ts'
import { publishBodies, waitConverged } from '../launch.ts'
import { sampleIndicator } from '../samples.ts'
import { signEntry } from '../../protocol/entry.ts'
import { leafHash } from '../../protocol/hash.ts'
import { MerkleTree } from '../../protocol/merkle.ts'
import { signCheckpoint } from '../../protocol/checkpoint.ts'
import { encodeAddCheckpointRequest } from '../../protocol/witness-request.ts'
import { verifyEquivocationProof } from '../../protocol/equivocation.ts'
import { sha256, utf8, toHex } from '../../protocol/bytes.ts'
import { LedgerError } from '../../protocol/errors.ts'
import { Fed, recordFromSample, logs, waitFor, seconds, outcome, type Scenario } from './common.ts'

interface Fork { note: string; entries: Uint8Array[]; tree: MerkleTree }

export const equivocation: Scenario = {
  name: 'equivocation',
  title: 'a member signs two trees of one size',
  loopbackOnly: 'its forged peer runs in the harness on 127.0.0.1',
  async run(ctx) {
    const records = ctx.quick ? 50 : 2000
    const names = ['e1', 'e2', 'e3', 'e4', 'e5']
    const federation = 'equivocation.cairn'
    const fed = await Fed.start(ctx.dir, { names, federation })
    const problems: string[] = []
    let evil: Peer | undefined
    try {
      const honest = [0, 1, 2, 3]
      const halves = [[0, 1], [2, 3]]
      const v = fed.planned[4]!
      const expected: Record<string, number> = {}
      await Promise.all(fed.planned.map(async (p, i) => {
        const n = i === 4 ? records : 20
        await publishBodies(fed.proc(i), Array.from({ length: n }, (_, j) => sampleIndicator(p.name, j)))
        expected[p.origin] = n
      }))
      await waitConverged(fed.procs.map((p) => p!.url), expected, 120_000)
      ctx.log(`5 nodes converged; ${v.name} (${records} entries) is stopped and forks its log`)

      // The victim's real tree, from its own store.
      await fed.stop(4)
      const store = await Store.open(await LevelKV.open(join(v.dir, 'db')))
      const size = store.size(v.origin)
      const real = await store.entries(v.origin, 0, size)
      await store.close()
      const keys = await loadKeys(v.dir)
      const fork = (tag: string): Fork => {
        const record = recordFromSample({ ...sampleIndicator(`fork-${tag}`, 0), alg: 'sha256', value: toHex(sha256(utf8(`fork-${tag}`))) }, { log: v.origin, seq: size, time: Date.now() })
        const entries = [...real, signEntry(keys.logSeed, record)]
        const tree = MerkleTree.from(entries.map((e) => leafHash(e)))
        return { entries, tree, note: signCheckpoint({ origin: v.origin, size: size + 1, root: tree.root() }, { name: v.origin, seed: keys.logSeed }) }
      }
      const forks = [fork('a'), fork('b')]
      const peerIds = fed.planned.map((p) => p.member.peer_id)
      const forkOf = (remote: string) => forks[halves[1]!.some((i) => peerIds[i] === remote) ? 1 : 0]!

      // The equivocator's peer: the member's identity, at its address, a different fork per half.
      let served = 0
      evil = await createPeer({
        privateKeySeed: keys.p2pSeed,
        listen: `/ip4/127.0.0.1/tcp/${v.p2pPort}`,
        allowedPeers: () => new Set(honest.map((i) => peerIds[i]!)),
        topic: `/cairn/${federation}/checkpoints/1`,
      })
      await evil.handle(PROTO_STATUS, (_req, remote) => [textFrame(forkOf(remote).note)])
      await evil.handle(PROTO_SYNC, (req, remote) => {
        const r = decodeSyncRequest(req[0]!)
        const f = forkOf(remote)
        if (r.origin !== v.origin || r.to > f.entries.length) throw new LedgerError('NOT_FOUND', 'not here')
        served++
        return [encodeSyncHeader({ start: r.start, count: r.end - r.start, proof: f.tree.consistencyProof(r.end, r.to) }), ...f.entries.slice(r.start, r.end)]
      }, { maxFrameBytes: 70_000 })

      // Submit: fork A to one half, fork B to the other, through the public witness endpoint.
      const submit = async (i: number, f: Fork): Promise<number> => {
        let old = size
        for (let attempt = 0; attempt < 3; attempt++) {
          const body = encodeAddCheckpointRequest({ oldSize: old, proof: old === 0 ? [] : f.tree.consistencyProof(old, size + 1), checkpoint: f.note })
          const r = await fetch(`${fed.proc(i).url}/witness/add-checkpoint`, { method: 'POST', body })
          const text = await r.text()
          if (r.status !== 409) return r.status
          old = Number(text.trim()) // the witness's latest cosigned size
        }
        return 409
      }
      const t0 = Date.now()
      await evil.start()
      const statuses = await Promise.all(halves.flatMap((half, h) => half.map((i) => submit(i, forks[h]!))))
      const cosigned = statuses.filter((s) => s === 200).length
      ctx.log(`forks submitted: witness answers ${statuses.join(', ')}`)

      const frozenAt = new Map<number, number>()
      await waitFor('every honest node to freeze the log', async () => {
        await Promise.all(honest.map(async (i) => {
          if (frozenAt.has(i)) return
          const row = (await logs(fed.proc(i))).find((l) => l.origin === v.origin)
          if (row?.frozen) frozenAt.set(i, Date.now() - t0)
        }))
        return frozenAt.size === honest.length
      }, ctx.quick ? 60_000 : 120_000, 50).catch((e) => problems.push((e as Error).message))
      const times = [...frozenAt.values()]
      ctx.log(`frozen on ${frozenAt.size}/4 honest nodes after ${times.map((t) => seconds(t)).join(', ')} s`)
      await evil.stop()
      evil = undefined

      // White-box: each honest node holds a proof that verifies with the log key alone.
      let proofs = 0
      let sizes: number[] = []
      for (const i of honest) {
        await fed.stop(i)
        const s = await Store.open(await LevelKV.open(join(fed.planned[i]!.dir, 'db')))
        try {
          const proof = s.frozenProof(v.origin)
          sizes.push(s.size(v.origin))
          if (!proof) { problems.push(`${names[i]} holds no equivocation proof`); continue }
          const verified = verifyEquivocationProof(proof, v.member.vkey)
          if (verified.origin !== v.origin) problems.push(`${names[i]}'s proof is about ${verified.origin}`)
          else proofs++
        } catch (e) {
          problems.push(`${names[i]}'s proof does not verify: ${(e as Error).message}`)
        } finally {
          await s.close()
        }
      }
      sizes = sizes.map((x) => x - size)
      const figures = {
        honest_nodes: 4, forked_size: size + 1, witness_cosigned_forks: cosigned, sync_ranges_served_by_equivocator: served,
        frozen_nodes: frozenAt.size, proofs_verified: proofs,
        detect_first_s: times.length ? seconds(Math.min(...times)) : -1, detect_all_s: times.length === 4 ? seconds(Math.max(...times)) : -1,
        fork_entries_kept: sizes.join(','),
      }
      return outcome(problems, figures, `frozen on ${frozenAt.size}/4 honest nodes, ${proofs} proofs verify; detected in ${figures.detect_first_s} s (first) / ${figures.detect_all_s} s (all)`)
    } finally {
      await evil?.stop()
      await fed.close()
    }
  },
}
