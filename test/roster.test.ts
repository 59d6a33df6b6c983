/**
 * Roster changes by vote: a fifth centre joins by a 3-of-4 vote and its log
 * replicates; a removed member's new entries are refused.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { startCluster, waitFor, type Cluster } from './support/cluster.ts'
import { parseVerifierKey } from '../protocol/note.ts'
import { sha256, utf8, fromHex } from '../protocol/bytes.ts'
import type { CairnNode } from '../node/node.ts'
import type { RecordBody } from '../node/publisher.ts'
import { rejects } from './helpers.ts'

const indicator = (tag: string): RecordBody => ({ type: 'indicator', alg: 'sha256', value: sha256(utf8(tag)), category: 'B1', kind: 'known_material', media: 'image' })

let cluster: Cluster
let newcomer: CairnNode | undefined

test.after(async () => {
  await newcomer?.stop()
  await cluster?.close()
})

test('a fifth centre joins by a 3-of-4 vote and its log replicates', async () => {
  cluster = await startCluster(4, { outsiders: ['c5'], threshold: 3 })
  const [a, b, c] = cluster.nodes as CairnNode[]
  await a!.publisher.submit(indicator('before-join'))
  const m = cluster.outsiders[0]!.member
  const proposal = await a!.publisher.submit({
    type: 'roster', change: 'add_member', member: m.name, origin: m.origin,
    key: parseVerifierKey(m.vkey).publicKey, witness_key: parseVerifierKey(m.witness_vkey).publicKey,
    peer_id: m.peer_id, roles: ['publisher', 'witness'],
  } as RecordBody)
  // Two votes are not enough (proposer + one confirmation = 2 of the 3 needed).
  await b!.publisher.submit({ type: 'attestation', target: fromHex(proposal.id), opinion: 'confirm' } as RecordBody)
  await waitFor('c sees the proposal with 2 votes', () => c!.roster.proposalStatus().some((p) => p.id === proposal.id && p.confirmations.length === 2), 20_000)
  assert.not.ok(c!.roster.member(m.origin), 'not applied at 2 of 3')
  await c!.publisher.submit({ type: 'attestation', target: fromHex(proposal.id), opinion: 'confirm' } as RecordBody)
  await waitFor('every member applied the change', () => cluster.nodes.every((n) => n.roster.member(m.origin)?.active === true), 30_000)

  newcomer = await cluster.startOutsider(0)
  await waitFor('the newcomer synced every log and sees itself as a member', () =>
    newcomer!.roster.member(m.origin)?.active === true && cluster.nodes.every((n) => newcomer!.store.size(n.origin) === n.store.size(n.origin)), 60_000)
  await newcomer.publisher.submit(indicator('from-c5'))
  await waitFor('the newcomer\'s log replicates to every member', () => cluster.nodes.every((n) => n.store.size(m.origin) === 1), 30_000)
})

test('a removed member\'s new entries are refused', async () => {
  const [a, b, c, d] = cluster.nodes as CairnNode[]
  const removed = d!
  await removed.publisher.submit(indicator('d-before'))
  await waitFor('d-before replicated', () => a!.store.size(removed.origin) === 1, 30_000)
  const p = await a!.publisher.submit({ type: 'roster', change: 'remove_member', member: removed.name } as RecordBody)
  for (const n of [b!, c!]) await n.publisher.submit({ type: 'attestation', target: fromHex(p.id), opinion: 'confirm' } as RecordBody)
  await waitFor('removal applied on a, b, c', () => [a!, b!, c!].every((n) => n.roster.member(removed.origin)?.active === false), 30_000)
  // The removed node may still write to its own log, but nobody accepts it.
  await removed.publisher.submit(indicator('d-after')).catch(() => undefined)
  await new Promise((r) => setTimeout(r, 3000))
  for (const n of [a!, b!, c!]) assert.is(n.store.size(removed.origin), 1, `${n.origin} kept only the entry from before the removal`)
  await rejects(async () => a!.roster.checkWriter(removed.origin, 'indicator'), 'UNKNOWN_LOG')
})

test.run()
