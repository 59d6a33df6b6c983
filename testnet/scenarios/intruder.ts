/**
 * intruder: two kinds of unauthorised writer.
 *
 *  1. An outsider: a real node process with valid keys that is not in the
 *     roster. It dials the members (refused after Noise); then, with its
 *     keys, the harness signs a log of indicators, offers its checkpoint to
 *     every member's public witness endpoint, and runs a peer with the
 *     outsider's identity that announces and serves those entries.
 *  2. A member whose roles (witness only) forbid indicators: its API refuses
 *     to publish one (ROLE_FORBIDDEN); then, its node stopped, the harness
 *     signs an indicator into its log with its real key, gets the checkpoint
 *     cosigned, and serves the entry from a peer with the member's identity.
 *
 * Pass: no member stores anything of theirs (every log's checkpoint body and
 * size unchanged on every member, no outsider log) and the refusals are
 * counted (Prometheus /metrics: refused connections, witness refusals,
 * ROLE_FORBIDDEN sync rejections).
 */
import { join } from 'node:path'
import { LevelKV } from '../../node/storage/kv.ts'
import { Store } from '../../node/storage/store.ts'
import { loadKeys } from '../../node/config.ts'
import { createPeer, type Peer } from '../../node/replication/peer.ts'
import { PROTO_STATUS, PROTO_SYNC, decodeSyncRequest, encodeSyncHeader, encodeGossip, textFrame } from '../../node/replication/messages.ts'
import { publishBodies, waitConverged } from '../launch.ts'
import { sampleIndicator } from '../samples.ts'
import { call } from '../processes.ts'
import { signEntry } from '../../protocol/entry.ts'
import { leafHash, EMPTY_ROOT } from '../../protocol/hash.ts'
import { MerkleTree } from '../../protocol/merkle.ts'
import { signCheckpoint } from '../../protocol/checkpoint.ts'
import { encodeAddCheckpointRequest } from '../../protocol/witness-request.ts'
import { LedgerError } from '../../protocol/errors.ts'
import { Fed, recordFromSample, logs, status, checkpointOf, bodyOf, metrics, metricByLabel, diffCounts, waitFor, sleep, outcome, type Scenario } from './common.ts'

interface ForgedLog { origin: string; note: string; entries: Uint8Array[]; tree: MerkleTree }

/** `real` entries of a log plus `extra` indicators signed with its key, and the signed checkpoint of the whole. */
function forge(origin: string, logSeed: Uint8Array, real: Uint8Array[], extra: number, tag: string): ForgedLog {
  const entries = [...real]
  for (let i = 0; i < extra; i++) {
    entries.push(signEntry(logSeed, recordFromSample(sampleIndicator(tag, i), { log: origin, seq: entries.length, time: Date.now() })))
  }
  const tree = MerkleTree.from(entries.map((e) => leafHash(e)))
  return { origin, entries, tree, note: signCheckpoint({ origin, size: entries.length, root: entries.length ? tree.root() : EMPTY_ROOT }, { name: origin, seed: logSeed }) }
}

/** A peer with a stolen or outsider identity that announces and serves one forged log. */
async function servingPeer(seed: Uint8Array, listen: string, allowed: string[], topic: string, log: ForgedLog, onServe: () => void): Promise<Peer> {
  const peer = await createPeer({ privateKeySeed: seed, listen, allowedPeers: () => new Set(allowed), topic })
  await peer.handle(PROTO_STATUS, () => [textFrame(log.note)])
  await peer.handle(PROTO_SYNC, (req) => {
    const r = decodeSyncRequest(req[0]!)
    if (r.origin !== log.origin || r.to > log.entries.length) throw new LedgerError('NOT_FOUND', 'not here')
    onServe()
    return [encodeSyncHeader({ start: r.start, count: r.end - r.start, proof: log.tree.consistencyProof(r.end, r.to) }), ...log.entries.slice(r.start, r.end)]
  }, { maxFrameBytes: 70_000 })
  await peer.start()
  return peer
}

async function addCheckpoint(url: string, log: ForgedLog, from: number): Promise<number> {
  let old = from
  for (let attempt = 0; attempt < 3; attempt++) {
    const body = encodeAddCheckpointRequest({ oldSize: old, proof: old === 0 ? [] : log.tree.consistencyProof(old, log.entries.length), checkpoint: log.note })
    const r = await fetch(`${url}/witness/add-checkpoint`, { method: 'POST', body })
    const text = await r.text()
    if (r.status !== 409) return r.status
    old = Number(text.trim())
  }
  return 409
}

export const intruder: Scenario = {
  name: 'intruder',
  title: 'an outsider and a member writing a forbidden type',
  loopbackOnly: 'its forged peer runs in the harness on 127.0.0.1',
  async run(ctx) {
    const forged = ctx.quick ? 20 : 1000
    const names = ['i1', 'i2', 'i3', 'i4']
    const federation = 'intruder.cairn'
    const topic = `/cairn/${federation}/checkpoints/1`
    const fed = await Fed.start(ctx.dir, { names, federation, outsiders: ['outsider'], roles: (n) => (n === 'i4' ? ['witness'] : ['publisher', 'witness']) })
    const problems: string[] = []
    const peers: Peer[] = []
    try {
      const honest = [0, 1, 2]
      const [w, out] = [fed.planned[3]!, fed.outsiders[0]!]
      const expected: Record<string, number> = {}
      const firstIds = await Promise.all(honest.map(async (i) => {
        const ids = await publishBodies(fed.proc(i), Array.from({ length: 20 }, (_, j) => sampleIndicator(fed.planned[i]!.name, j)))
        expected[fed.planned[i]!.origin] = 20
        return ids[0]!
      }))
      // The witness-only member may attest: one confirmation in its log.
      await call(fed.proc(3).url, fed.proc(3).operatorToken, 'POST', '/records', { type: 'attestation', target: firstIds[0], opinion: 'confirm' })
      expected[w.origin] = 1
      await waitConverged(fed.procs.map((p) => p!.url), expected, 120_000)
      ctx.log('4 members converged (i4 is witness-only)')

      // Its own API refuses an indicator from the witness-only member.
      const viaApi = await fetch(`${fed.proc(3).url}/records`, {
        method: 'POST', headers: { authorization: `Bearer ${fed.proc(3).operatorToken}`, 'content-type': 'application/json' }, body: JSON.stringify(sampleIndicator('i4', 0)),
      })
      const apiCode = ((await viaApi.json()) as { error?: { code: string } }).error?.code ?? `status ${viaApi.status}`
      if (apiCode !== 'ROLE_FORBIDDEN') problems.push(`i4's API answered ${apiCode} to an indicator, not ROLE_FORBIDDEN`)

      const snapshot = async () => Promise.all(honest.map(async (i) => {
        const rows = await logs(fed.proc(i))
        const bodies = await Promise.all(rows.map(async (r) => `${r.origin} ${r.size} ${bodyOf(await checkpointOf(fed.proc(i).url, r.name))}`))
        return bodies.sort().join('\n')
      }))
      const before = await snapshot()
      const counters = async () => Promise.all(honest.map(async (i) => {
        const m = await metrics(fed.proc(i))
        return { refused: metricByLabel(m, 'cairn_p2p_refused_total', 'reason'), witness: metricByLabel(m, 'cairn_witness_refused_total', 'code'), sync: metricByLabel(m, 'cairn_sync_rejected_total', 'code') }
      }))
      const c0 = await counters()

      // 1. The outsider: a real node process, refused at the connection.
      const outsiderProc = await fed.startOutsider(0)
      await waitFor('every member to refuse the outsider', async () => (await counters()).every((c, k) => (c.refused.inbound_not_allowed ?? 0) > (c0[k]!.refused.inbound_not_allowed ?? 0)), 30_000, 250)
      const ownApi = await fetch(`${outsiderProc.url}/records`, {
        method: 'POST', headers: { authorization: `Bearer ${outsiderProc.operatorToken}`, 'content-type': 'application/json' }, body: JSON.stringify(sampleIndicator('outsider', 0)),
      })
      const ownCode = ((await ownApi.json()) as { error?: { code: string } }).error?.code ?? `status ${ownApi.status}`
      await fed.stopOutsider(0)
      // ... then its keys: a forged log offered to every witness and served from its identity.
      const outKeys = await loadKeys(out.dir)
      const outLog = forge(out.origin, outKeys.logSeed, [], forged, 'outsider')
      const outWitness = await Promise.all(honest.map((i) => addCheckpoint(fed.proc(i).url, outLog, 0)))
      if (outWitness.some((s) => s !== 404)) problems.push(`witnesses answered ${outWitness.join(',')} to the outsider's checkpoint (want 404)`)
      let outServed = 0
      const outPeer = await servingPeer(outKeys.p2pSeed, `/ip4/127.0.0.1/tcp/${out.p2pPort}`, fed.planned.map((p) => p.member.peer_id), topic, outLog, () => outServed++)
      peers.push(outPeer)
      // Its dials complete Noise (the member learns who it is only then) and are closed by the member.
      for (const i of honest) {
        for (const a of fed.planned[i]!.member.addrs) await outPeer.dial(`${a}/p2p/${fed.planned[i]!.member.peer_id}`).catch(() => undefined)
      }
      await outPeer.publish(encodeGossip({ t: 'cp', note: outLog.note })).catch(() => 0)
      await sleep(1000)
      let outConnected = outPeer.connectedPeers().length
      for (const i of honest) if ((await status(fed.proc(i))).peers.some((p) => p.peerId === outKeys.peerId)) outConnected++

      // 2. The witness-only member's key signs an indicator into its own log.
      await fed.stop(3)
      const s = await Store.open(await LevelKV.open(join(w.dir, 'db')))
      const real = await s.entries(w.origin, 0, s.size(w.origin))
      await s.close()
      const wKeys = await loadKeys(w.dir)
      const wLog = forge(w.origin, wKeys.logSeed, real, forged, 'i4-forbidden')
      let wServed = 0
      const wPeer = await servingPeer(wKeys.p2pSeed, `/ip4/127.0.0.1/tcp/${w.p2pPort}`, honest.map((i) => fed.planned[i]!.member.peer_id), topic, wLog, () => wServed++)
      peers.push(wPeer)
      const wWitness = await Promise.all(honest.map((i) => addCheckpoint(fed.proc(i).url, wLog, real.length)))
      await waitFor('every member to refuse the forbidden entries', async () => (await counters()).every((c, k) => (c.sync.ROLE_FORBIDDEN ?? 0) > (c0[k]!.sync.ROLE_FORBIDDEN ?? 0)), 60_000, 250)
        .catch((e) => problems.push((e as Error).message))
      await wPeer.publish(encodeGossip({ t: 'cp', note: wLog.note })).catch(() => 0)
      await sleep(3000) // several status rounds: a store that was going to take the entries would have by now
      const c1 = await counters()
      const after = await snapshot()
      honest.forEach((i, k) => { if (after[k] !== before[k]) problems.push(`${names[i]}'s logs changed:\n${before[k]}\n→\n${after[k]}`) })
      for (const i of honest) {
        const rows = await logs(fed.proc(i))
        if (rows.some((r) => r.origin === out.origin && r.size > 0)) problems.push(`${names[i]} holds entries of the outsider`)
        if (!fed.alive(i)) problems.push(`${names[i]} exited`)
      }
      const d = c1.map((c, k) => ({ refused: diffCounts(c.refused, c0[k]!.refused), witness: diffCounts(c.witness, c0[k]!.witness), sync: diffCounts(c.sync, c0[k]!.sync) }))
      const sum = (f: (x: (typeof d)[number]) => number) => d.reduce((a, x) => a + f(x), 0)
      const figures = {
        forged_entries_per_intruder: forged,
        outsider_own_api: ownCode, member_api: apiCode,
        outsider_witness_answers: outWitness.join(','), outsider_connections_held: outConnected, outsider_ranges_served: outServed,
        refused_connections: sum((x) => x.refused.inbound_not_allowed ?? 0) + sum((x) => x.refused.outbound_not_allowed ?? 0),
        witness_refused_unknown_log: sum((x) => x.witness.UNKNOWN_LOG ?? 0),
        forbidden_member_witness_answers: wWitness.join(','), forbidden_ranges_served: wServed,
        sync_rejected_role_forbidden: sum((x) => x.sync.ROLE_FORBIDDEN ?? 0),
        logs_changed: after.filter((a, k) => a !== before[k]).length,
      }
      if (outConnected > 0) problems.push(`${outConnected} connections between the outsider and members stayed open`)
      if (outServed > 0) problems.push('a member asked the outsider for entries')
      if (figures.witness_refused_unknown_log < honest.length) problems.push('witness refusals of the outsider were not counted')
      return outcome(problems, figures, `nothing stored (${figures.logs_changed} logs changed); ${figures.refused_connections} connections refused, ${figures.witness_refused_unknown_log} witness refusals, ${figures.sync_rejected_role_forbidden} ROLE_FORBIDDEN ranges`)
    } finally {
      for (const p of peers) await p.stop()
      await fed.close()
    }
  },
}
