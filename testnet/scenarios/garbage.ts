/**
 * garbage: a hostile peer and a hostile HTTP client send malformed,
 * truncated, oversized, non-canonical and replayed input (garbage-inputs.ts)
 * to three honest nodes:
 *
 *   HTTP      bad JSON, invalid records, bad/missing/wrong-role tokens, bad
 *             tile paths and proof indexes, bad cursors, oversized bodies,
 *             malformed / wrongly signed / replayed add-checkpoint bodies
 *   gossip    from a member's stolen libp2p identity: random and truncated
 *             CBOR, unsorted keys, non-shortest lengths, unknown types,
 *             forged checkpoints and equivocation proofs, oversized messages,
 *             replayed old checkpoints
 *   requests  /cairn/sync/1, /cairn/witness/1, /cairn/status/1 with bad
 *             bodies, oversized frames, too many frames, cut streams
 *   responses the same peer answers the honest nodes' status and sync
 *             requests with garbage (bad notes, invalid UTF-8, too many
 *             frames, bad headers, wrong counts, forged entries, bad proofs,
 *             oversized frames, error trailers)
 *
 * Pass: no node exits; every log's checkpoint on every node is unchanged;
 * every HTTP request gets a 4xx with a JSON LedgerError code (the witness
 * endpoint: its c2sp status, counted by code in /metrics) and the node counts
 * it; every gossip message is counted under a LedgerError code in /metrics
 * (replays: valid but old, counted in cairn_sync_checkpoints_stale_total,
 * nothing changes); every libp2p request fails
 * with a LedgerError code or is counted by the node; every bad response is
 * counted by the node that received it.
 */
import { join } from 'node:path'
import { LevelKV } from '../../node/storage/kv.ts'
import { Store } from '../../node/storage/store.ts'
import { loadKeys } from '../../node/config.ts'
import { createPeer, type Peer } from '../../node/replication/peer.ts'
import { PROTO_STATUS, PROTO_SYNC, PROTO_WITNESS, decodeSyncRequest, decodeWitnessResponse, encodeSyncHeader, encodeGossip, textFrame } from '../../node/replication/messages.ts'
import { httpStatus } from '../../node/http/errors.ts'
import { publishBodies, grantToken, waitConverged } from '../launch.ts'
import { sampleIndicator } from '../samples.ts'
import { signCheckpoint } from '../../protocol/checkpoint.ts'
import { decodeEntry, encodeEntry, signEntry } from '../../protocol/entry.ts'
import { ERROR_CODES, LedgerError, isLedgerError, type ErrorCode } from '../../protocol/errors.ts'
import { Fed, recordFromSample, logs, checkpointOf, metrics, metricSum, metricByLabel, diffCounts, sumValues, prng, seconds, sleep, waitFor, outcome, type Scenario } from './common.ts'
import { httpCase, bigHttpCase, gossipCase, syncRequestCase, witnessRequestCase, statusRequestCase, type Target, type HttpCase, type RequestCase } from './garbage-inputs.ts'

const tally = (m: Record<string, number>, k: string, n = 1) => { m[k] = (m[k] ?? 0) + n }

/** Runs `jobs` with at most `limit` at a time. */
async function pool<T>(jobs: (() => Promise<T>)[], limit: number): Promise<T[]> {
  const out: T[] = new Array(jobs.length)
  let next = 0
  await Promise.all(Array.from({ length: Math.min(limit, jobs.length) }, async () => {
    while (next < jobs.length) {
      const i = next++
      out[i] = await jobs[i]!()
    }
  }))
  return out
}

export const garbage: Scenario = {
  name: 'garbage',
  title: 'malformed, truncated, oversized, non-canonical and replayed input',
  loopbackOnly: 'its forged peer runs in the harness on 127.0.0.1',
  async run(ctx) {
    const total = ctx.quick ? 2000 : 100_000
    const n = { http: Math.round(total * 0.8), gossip: Math.round(total * 0.08), sync: Math.round(total * 0.06), witness: Math.round(total * 0.03), status: Math.round(total * 0.03) }
    const big = ctx.quick ? 4 : 60
    const responseWindowMs = ctx.quick ? 5000 : 20_000
    const seed = Number(process.env.CAIRN_SCENARIO_SEED ?? Date.now() % 1e9)
    const rand = prng(seed)
    const names = ['g1', 'g2', 'g3', 'g4']
    const federation = 'garbage.cairn'
    const fed = await Fed.start(ctx.dir, { names, federation })
    const problems: string[] = []
    const figures: Record<string, number | string | boolean> = { seed }
    let evil: Peer | undefined
    try {
      const honest = [0, 1, 2]
      const m4 = fed.planned[3]!
      const publishAll = (tag: string) => Promise.all(fed.planned.map((p, i) => publishBodies(fed.proc(i), Array.from({ length: 30 }, (_, j) => sampleIndicator(`${p.name}-${tag}`, j)))))
      await publishAll('a')
      await waitConverged(fed.procs.map((p) => p!.url), Object.fromEntries(fed.planned.map((p) => [p.origin, 30])), 120_000)
      const oldNotes = await Promise.all(fed.planned.map((p) => checkpointOf(fed.proc(0).url, p.name)))
      await publishAll('b')
      await waitConverged(fed.procs.map((p) => p!.url), Object.fromEntries(fed.planned.map((p) => [p.origin, 60])), 120_000)
      const target: Target = {
        logs: await Promise.all(fed.planned.map(async (p, i) => ({ name: p.name, origin: p.origin, size: 60, note: (await checkpointOf(fed.proc(0).url, p.name))!, oldNote: oldNotes[i]! }))),
        operator: '', provider: '', auditor: '',
      }
      const tokens = await Promise.all(honest.map(async (i) => ({ operator: fed.proc(i).operatorToken, provider: await grantToken(fed.proc(i), 'provider', 'garbage'), auditor: await grantToken(fed.proc(i), 'auditor', 'garbage') })))
      ctx.log(`4 nodes converged at 60 entries per log; ${m4.name} is stopped and its identity turns hostile (seed ${seed})`)

      // The stolen identity: g4's keys, at g4's address.
      await fed.stop(3)
      const m4Store = await Store.open(await LevelKV.open(join(m4.dir, 'db')))
      await m4Store.close()
      const m4Keys = await loadKeys(m4.dir)
      // Entries g4's real key signs at seqs 60..64: each opens fine; only the tree cannot match the made-up root below.
      const m4Next = Array.from({ length: 5 }, (_, j) => signEntry(m4Keys.logSeed, recordFromSample(sampleIndicator('g4-next', j), { log: m4.origin, seq: 60 + j, time: Date.now() })))
      const snapshot = () => Promise.all(honest.map(async (i) => (await Promise.all(fed.planned.map(async (p) => `${p.name}: ${await checkpointOf(fed.proc(i).url, p.name)}`))).join('\n')))
      const before = await snapshot()
      const peerIds = honest.map((i) => fed.planned[i]!.member.peer_id)

      let statusMode = 'quiet'
      let syncMode = 'quiet'
      const served: Record<string, number> = {}
      const ahead = signCheckpoint({ origin: m4.origin, size: 65, root: new Uint8Array(32).fill(7) }, { name: m4.origin, seed: m4Keys.logSeed })
      evil = await createPeer({ privateKeySeed: m4Keys.p2pSeed, listen: `/ip4/127.0.0.1/tcp/${m4.p2pPort}`, allowedPeers: () => new Set(peerIds), topic: `/cairn/${federation}/checkpoints/1`, maxGossipBytes: 1024 * 1024 })
      const servedTo = honest.map(() => ({ status: 0, sync: 0 }))
      const who = (remote: string) => servedTo[peerIds.indexOf(remote)] ?? { status: 0, sync: 0 }
      await evil.handle(PROTO_STATUS, (_req, remote) => {
        if (statusMode === 'quiet') return []
        const mode = (['garbage_note', 'invalid_utf8', 'too_many_frames'] as const)[Math.floor(rand() * 3)]!
        tally(served, `status_${mode}`)
        who(remote).status++
        if (mode === 'garbage_note') return [textFrame(`not a note ${served.status_garbage_note}`), textFrame(ahead)]
        if (mode === 'invalid_utf8') return [Uint8Array.of(0xff, 0xfe, 0xfd), textFrame(ahead)]
        return Array.from({ length: 1001 }, () => textFrame(ahead))
      })
      await evil.handle(PROTO_SYNC, (req, remote) => {
        const r = decodeSyncRequest(req[0]!)
        if (syncMode === 'quiet') throw new LedgerError('NOT_FOUND', 'nothing here')
        const modes = ['garbage_header', 'wrong_count', 'short', 'forged_entry', 'bad_proof', 'oversized_frame', 'error_trailer'] as const
        const mode = modes[Math.floor(rand() * modes.length)]!
        tally(served, `sync_${mode}`)
        who(remote).sync++
        const count = r.end - r.start
        const entries = m4Next.slice(r.start - 60, r.end - 60)
        const header = encodeSyncHeader({ start: r.start, count, proof: [] })
        switch (mode) {
          case 'garbage_header': return [Uint8Array.of(0xa1, 0x61), ...entries]
          case 'wrong_count': return [encodeSyncHeader({ start: r.start, count: count + 1, proof: [] }), ...entries]
          case 'short': return [header, ...entries.slice(1)]
          case 'forged_entry': {
            const { recordBytes, signature } = decodeEntry(entries[0]!)
            const sig = new Uint8Array(signature)
            sig[9] ^= 1
            return [header, encodeEntry(recordBytes, sig), ...entries.slice(1)]
          }
          case 'bad_proof': return [encodeSyncHeader({ start: r.start, count, proof: [new Uint8Array(32).fill(1)] }), ...entries]
          case 'oversized_frame': return [header, new Uint8Array(100_000)]
          default: throw new LedgerError('STORAGE_CORRUPT', 'pretending to be broken')
        }
      }, { maxFrameBytes: 300_000 })
      await evil.start()
      await waitFor('the hostile peer to be connected and subscribed', () => peerIds.every((p) => evil!.topicPeers().includes(p)), 60_000, 200)

      const metricsOf = () => Promise.all(honest.map(async (i) => metrics(fed.proc(i))))

      // ------------------------------------------------------------ HTTP
      const m0 = await metricsOf()
      const httpCases: { node: number; c: HttpCase }[] = []
      for (let i = 0; i < n.http; i++) {
        const node = i % honest.length
        const t = { ...target, ...tokens[node]! }
        httpCases.push({ node, c: i < big ? bigHttpCase(t, i) : httpCase(t, i, rand) })
      }
      const httpCodes: Record<string, number> = {}
      const httpBad: Record<string, number> = {}
      const sentTo = [0, 0, 0]
      const tHttp = Date.now()
      await pool(httpCases.map(({ node, c }) => async () => {
        sentTo[node]!++
        let status = 0
        let body = ''
        let type = ''
        try {
          const r = await fetch(fed.proc(honest[node]!).url + c.path, { method: c.method, headers: c.headers, body: c.body as BodyInit | undefined })
          status = r.status
          type = r.headers.get('content-type') ?? ''
          body = await r.text()
        } catch (e) {
          tally(httpBad, `${c.kind}: client error ${(e as Error).message}`)
          return
        }
        if (status < 400 || status >= 500) { tally(httpBad, `${c.kind}: status ${status} ${body.slice(0, 120)}`); return }
        if (type.includes('json')) {
          const code = (JSON.parse(body) as { error?: { code?: string } }).error?.code
          if (!code || !(ERROR_CODES as readonly string[]).includes(code)) { tally(httpBad, `${c.kind}: no LedgerError code in ${body.slice(0, 120)}`); return }
          if (httpStatus(code as ErrorCode) !== status) tally(httpBad, `${c.kind}: ${code} with status ${status}`)
          tally(httpCodes, code)
        } else if (c.witness && [400, 403, 404, 409, 422].includes(status)) {
          tally(httpCodes, `witness ${status}`)
        } else tally(httpBad, `${c.kind}: ${status} ${type} ${body.slice(0, 80)}`)
      }), 32)
      const httpMs = Date.now() - tHttp
      const m1 = await metricsOf()
      const httpCounted = honest.map((_, k) => metricSum(m1[k]!, 'cairn_http_requests_total', 'status="4') - metricSum(m0[k]!, 'cairn_http_requests_total', 'status="4'))
      honest.forEach((_, k) => { if (httpCounted[k]! !== sentTo[k]) problems.push(`${names[k]} counted ${httpCounted[k]} refused HTTP requests of the ${sentTo[k]} sent`) })
      for (const [k, v] of Object.entries(httpBad)) problems.push(`HTTP ${v}× ${k}`)
      const witnessText = sumValues(Object.fromEntries(Object.entries(httpCodes).filter(([k]) => k.startsWith('witness '))))
      const witnessCounted = honest.reduce((a, _, k) => a + sumValues(diffCounts(metricByLabel(m1[k]!, 'cairn_witness_refused_total', 'code'), metricByLabel(m0[k]!, 'cairn_witness_refused_total', 'code'))), 0)
      if (witnessCounted < witnessText) problems.push(`witness refusals counted ${witnessCounted} < ${witnessText} answered`)
      ctx.log(`HTTP: ${n.http} requests in ${seconds(httpMs)} s; codes ${JSON.stringify(httpCodes)}`)
      Object.assign(figures, { http_requests: n.http, http_s: seconds(httpMs), http_refused_with_code: sumValues(httpCodes), http_counted_by_nodes: httpCounted.reduce((a, b) => a + b, 0), http_codes: JSON.stringify(httpCodes) })

      // ------------------------------------------------------------ gossip
      // Sent kind by kind, each batch in rounds that wait until every node has the last one (gossipsub
      // drops what overflows a peer's outbound queue: a flooding attacker loses its own messages), then
      // until the node's counters settle; so every kind's count can be checked on its own.
      const stale = (m: Map<string, number>) => metricSum(m, 'cairn_sync_checkpoints_stale_total')
      const rejected = (m: Map<string, number>) => metricSum(m, 'cairn_sync_rejected_total') + metricSum(m, 'cairn_p2p_gossip_messages_total', 'too_large') + metricSum(m, 'cairn_p2p_refused_total', 'gossip_not_allowed')
      const arrivedOf = (m: Map<string, number>) => metricSum(m, 'cairn_p2p_gossip_messages_total', 'received') + metricSum(m, 'cairn_p2p_gossip_messages_total', 'too_large')
      const g0 = await metricsOf()
      const byKind = new Map<string, ReturnType<typeof gossipCase>[]>()
      for (let i = 0; i < n.gossip; i++) {
        const g = gossipCase(target, i, rand)
        byKind.set(g.kind, [...(byKind.get(g.kind) ?? []), g])
      }
      const tGossip = Date.now()
      const gossipKinds: Record<string, string> = {}
      let invalidGossip = 0
      let replays = 0
      let sentSoFar = 0
      const gossipCounted = [0, 0, 0]
      for (const [kind, list] of byKind) {
        const before = await metricsOf()
        const replay = list[0]!.replay === true
        for (let start = 0; start < list.length; start += 500) {
          for (const g of list.slice(start, start + 500)) await evil!.publish(g.data).catch(() => 0)
          sentSoFar += Math.min(500, list.length - start)
          let last = ''
          let still = 0
          await waitFor('the nodes to receive a round of gossip', async () => {
            const a = (await metricsOf()).map((m, k) => arrivedOf(m) - arrivedOf(g0[k]!))
            still = a.join() === last ? still + 1 : 0
            last = a.join()
            return a.every((x) => x >= sentSoFar) || still >= 10
          }, 120_000, 200).catch(() => undefined)
        }
        let last = ''
        let still = 0
        let counted: number[] = []
        await waitFor('the counters to settle', async () => {
          counted = (await metricsOf()).map((m, k) => replay ? stale(m) - stale(before[k]!) : rejected(m) - rejected(before[k]!))
          still = counted.join() === last ? still + 1 : 0
          last = counted.join()
          return still >= 4
        }, 60_000, 250).catch(() => undefined)
        if (replay) replays += list.length
        else invalidGossip += list.length
        if (!replay) counted.forEach((c, k) => { gossipCounted[k]! += c })
        gossipKinds[kind] = `${list.length} sent, counted ${counted.join('/')}`
        counted.forEach((c, k) => { if (c !== list.length) problems.push(`gossip ${kind}: ${names[k]} counted ${c} of ${list.length}${replay ? ' as stale' : ''}`) })
      }
      const gossipMs = Date.now() - tGossip
      const g1 = await metricsOf()
      const gossipCodes = diffCounts(metricByLabel(g1[0]!, 'cairn_sync_rejected_total', 'code'), metricByLabel(g0[0]!, 'cairn_sync_rejected_total', 'code'))
      ctx.log(`gossip: ${n.gossip} messages in ${seconds(gossipMs)} s; counted per node ${gossipCounted.join(', ')} of ${invalidGossip} invalid; by kind ${JSON.stringify(gossipKinds)}`)
      Object.assign(figures, { gossip_messages: n.gossip, gossip_invalid: invalidGossip, gossip_replays: replays, gossip_s: seconds(gossipMs), gossip_counted_per_node: gossipCounted.join(','), gossip_kinds: JSON.stringify(gossipKinds), gossip_codes: JSON.stringify(gossipCodes) })

      // ------------------------------------------------------------ requests
      const r0 = await metricsOf()
      const reqOutcomes: Record<string, number> = {}
      const reqBad: Record<string, number> = {}
      const requests: { proto: string; c: RequestCase; node: number }[] = []
      for (let i = 0; i < n.sync; i++) requests.push({ proto: PROTO_SYNC, c: syncRequestCase(target, i, rand), node: i % 3 })
      for (let i = 0; i < n.witness; i++) requests.push({ proto: PROTO_WITNESS, c: witnessRequestCase(target, i, rand), node: i % 3 })
      for (let i = 0; i < n.status; i++) requests.push({ proto: PROTO_STATUS, c: statusRequestCase(target, i, rand), node: i % 3 })
      const tReq = Date.now()
      await pool(requests.map(({ proto, c, node }) => async () => {
        const name = proto.split('/')[2]
        const source = c.cut
          ? (async function* () { yield* c.frames; await sleep(50); throw new Error('cut by the sender') })()
          : c.frames
        try {
          const frames = await evil!.requestAll(peerIds[node]!, proto, source, { maxFrameBytes: 300_000, timeoutMs: 10_000, maxResponseFrames: 10 })
          if (proto === PROTO_WITNESS && frames.length === 1) {
            const w = decodeWitnessResponse(frames[0]!)
            if (w.status >= 400 && w.status < 500) { tally(reqOutcomes, `${name} ${w.status}`); return }
          }
          tally(reqBad, `${name} ${c.kind}: answered ${frames.length} frames`)
        } catch (e) {
          if (c.cut && !isLedgerError(e)) { tally(reqOutcomes, `${name} cut`); return }
          if (!isLedgerError(e)) { tally(reqBad, `${name} ${c.kind}: ${(e as Error).message}`); return }
          const cause = (e as LedgerError).cause
          const code = isLedgerError(cause) ? cause.code : (e as LedgerError).code
          tally(reqOutcomes, `${name} ${code}`)
        }
      }), 12)
      const reqMs = Date.now() - tReq
      const r1 = await metricsOf()
      const servedDelta = honest.map((_, k) => metricSum(r1[k]!, 'cairn_p2p_requests_total', 'outcome="served"') - metricSum(r0[k]!, 'cairn_p2p_requests_total', 'outcome="served"'))
      const sentPerNode = [0, 1, 2].map((k) => requests.filter((r) => r.node === k).length)
      honest.forEach((_, k) => { if (servedDelta[k]! < sentPerNode[k]!) problems.push(`${names[k]} counted ${servedDelta[k]} of the ${sentPerNode[k]} hostile requests it got`) })
      for (const [k, v] of Object.entries(reqBad)) problems.push(`libp2p ${v}× ${k}`)
      const unanswered = sumValues(Object.fromEntries(Object.entries(reqOutcomes).filter(([k]) => k.endsWith('PEER_UNREACHABLE') || k.endsWith(' cut'))))
      ctx.log(`requests: ${requests.length} in ${seconds(reqMs)} s; outcomes ${JSON.stringify(reqOutcomes)}`)
      Object.assign(figures, { p2p_requests: requests.length, p2p_requests_s: seconds(reqMs), p2p_answered_with_code: requests.length - unanswered - sumValues(reqBad), p2p_reset_or_cut: unanswered, p2p_outcomes: JSON.stringify(reqOutcomes) })

      // ------------------------------------------------------------ bad responses
      const b0 = await metricsOf()
      statusMode = 'garbage'
      syncMode = 'garbage'
      await evil.publish(encodeGossip({ t: 'cp', note: ahead })) // a valid checkpoint ahead of everyone: they will sync from us
      await sleep(responseWindowMs)
      statusMode = 'quiet'
      syncMode = 'quiet'
      await sleep(3000)
      const b1 = await metricsOf()
      let respServed = 0
      let respCounted = 0
      honest.forEach((_, k) => {
        const codes = diffCounts(metricByLabel(b1[k]!, 'cairn_sync_rejected_total', 'code'), metricByLabel(b0[k]!, 'cairn_sync_rejected_total', 'code'))
        const frames = diffCounts(metricByLabel(b1[k]!, 'cairn_p2p_bad_frames_total', 'reason'), metricByLabel(b0[k]!, 'cairn_p2p_bad_frames_total', 'reason'))
        // A bad status response carries one bad frame (a non-note: MALFORMED_NOTE; invalid UTF-8: BAD_FIELD) or too many frames (over_budget).
        const statusCounted = (codes.MALFORMED_NOTE ?? 0) + (codes.BAD_FIELD ?? 0) + (frames.over_budget ?? 0)
        // Every bad sync response is one failed range, counted by its code (an oversized frame also as a bad frame).
        const syncCounted = sumValues(codes) - (codes.MALFORMED_NOTE ?? 0) - (codes.BAD_FIELD ?? 0)
        respServed += servedTo[k]!.status + servedTo[k]!.sync
        respCounted += Math.min(statusCounted, servedTo[k]!.status) + Math.min(syncCounted, servedTo[k]!.sync)
        if (statusCounted < servedTo[k]!.status) problems.push(`${names[k]} counted ${statusCounted} of the ${servedTo[k]!.status} bad status responses it got (${JSON.stringify(codes)}, frames ${JSON.stringify(frames)})`)
        if (syncCounted < servedTo[k]!.sync) problems.push(`${names[k]} counted ${syncCounted} of the ${servedTo[k]!.sync} bad sync responses it got (${JSON.stringify(codes)})`)
        ctx.log(`responses to ${names[k]}: ${servedTo[k]!.status} status, ${servedTo[k]!.sync} sync; counted ${JSON.stringify(codes)} frames ${JSON.stringify(frames)}`)
      })
      const syncServed = sumValues(Object.fromEntries(Object.entries(served).filter(([k]) => k.startsWith('sync_'))))
      const statusServed = sumValues(Object.fromEntries(Object.entries(served).filter(([k]) => k.startsWith('status_'))))
      Object.assign(figures, { bad_responses_served: respServed, bad_responses_counted: respCounted, bad_responses: JSON.stringify(served) })

      // ------------------------------------------------------------ nothing changed, nobody died
      await evil.stop()
      evil = undefined
      const after = await snapshot()
      let changed = 0
      honest.forEach((i, k) => { if (after[k] !== before[k]) { changed++; problems.push(`${names[i]}'s checkpoints changed`) } })
      let alive = 0
      for (const i of honest) if (fed.alive(i)) alive++; else problems.push(`${names[i]} exited; see ${fed.planned[i]!.dir}/node.log`)
      for (const i of honest) {
        const rows = await logs(fed.proc(i))
        if (rows.some((r) => !fed.planned.some((p) => p.origin === r.origin))) problems.push(`${names[i]} registered a log that is not a member's`)
      }
      const sent = n.http + n.gossip + requests.length
      Object.assign(figures, { messages_sent: sent + syncServed + statusServed, nodes_alive: `${alive}/3`, checkpoints_changed: changed })
      return outcome(problems, figures, `${sent + syncServed + statusServed} hostile messages (${n.http} HTTP, ${n.gossip} gossip, ${requests.length} requests, ${syncServed + statusServed} responses); ${alive}/3 alive, ${changed} checkpoints changed`)
    } finally {
      await evil?.stop()
      await fed.close()
    }
  },
}
