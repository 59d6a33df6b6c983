/**
 * spec/vectors/rosters/: protocol/roster.ts (and the client's
 * client/roster-follow.ts) against every case: the files are what the
 * generator writes; reading the entries in the order given ends with the
 * stated key ranges; every entry, checkpoint and cosignature probe has the
 * stated outcome. The followed roster, reading the logs one after another in
 * reverse order, and in a few random interleavings of the logs (each log in
 * its own order; entries whose key is not known yet are retried), ends with
 * the same ranges and probe outcomes, for every case: the ranges are a
 * function of the set of records, not of their order (§10.7).
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { fromHex, toHex } from '../protocol/bytes.ts'
import { leafHash } from '../protocol/hash.ts'
import { isLedgerError } from '../protocol/errors.ts'
import { parseVerifierKey } from '../protocol/note.ts'
import { parseGenesis } from '../protocol/genesis.ts'
import { openEntryWithKeys, openCheckpointWithKeys } from '../protocol/log-keys.ts'
import { Roster, cosigners } from '../protocol/roster.ts'
import { FollowedRoster } from '../client/roster-follow.ts'
import { rosterCases } from '../spec/gen/rosters.ts'
import { vectorFolder, assertGenerated } from './helpers.ts'

const dir = new URL('../spec/vectors/rosters', import.meta.url).pathname

interface RosterVector {
  description: string
  genesis: unknown
  entries: { log: string; index: number; what: string; entry: string }[]
  logs: Record<string, {
    keys: { public_key: string; from: number; until: number | null; compromised: boolean }[]
    witness_keys: { vkey: string; public_key: string; from: number; until: number | null }[]
  }>
  probes: { log: string; index: number; key: string; entry: string; valid: boolean; compromised: boolean }[]
  checkpoint_probes: { log: string; size: number; key: string; note: string; valid: boolean; error?: string }[]
  cosignature_probes: { log: string; witness: string; key: string; timestamp: number; note: string; valid: boolean }[]
  equivocation_probes?: { log: string; size: number; key: string; proof: string; freezes: boolean; error?: string }[]
}

const { files, load } = vectorFolder<RosterVector>(dir)

test('the vector files are what the generator produces', () => assertGenerated(dir, files, rosterCases()))

test('the cases named in the brief are there', () => {
  for (const n of ['rotation-pending', 'rotation-applied', 'rotation-confirmation-first', 'rotation-by-another-member', 'compromise-applied',
    'compromise-confirmation-first', 'compromise-by-the-member-itself', 'compromise-after-rotation', 'witness-rotation-applied',
    'fork-resolution-applied', 'fork-resolution-by-the-member-itself', 'fork-resolution-checkpoint-not-by-the-log']) {
    assert.ok(files.includes(`${n}.json`), n)
  }
})

/** Feeds the entries in order, each opened under the key the roster gives its index; compromised content is not fed. */
function replay(v: RosterVector): Roster {
  const r = new Roster(parseGenesis(JSON.stringify(v.genesis), 'vector'))
  for (const e of v.entries) {
    const entry = fromHex(e.entry)
    const opened = openEntryWithKeys(entry, r.logKeys(e.log), e.log, e.index)
    assert.not.ok(opened.compromised, `${e.log}#${e.index}`)
    r.observe(e.log, leafHash(entry), opened.record, opened.signer)
  }
  return r
}

function ranges(r: Roster, v: RosterVector) {
  const out: Record<string, unknown> = {}
  for (const origin of Object.keys(v.logs)) {
    const m = r.member(origin)!
    out[origin] = {
      keys: m.logKeys.map((k) => ({ public_key: toHex(k.publicKey), from: k.from, until: k.until ?? null, compromised: k.compromised === true })),
      witness_keys: m.witnessKeys.map((k) => ({ vkey: k.vkey, public_key: toHex(parseVerifierKey(k.vkey).publicKey), from: k.from, until: k.until ?? null })),
    }
  }
  return out
}

/** A deterministic PRNG (mulberry32), so a failing order can be replayed. */
function prng(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed)
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

type Entry = RosterVector['entries'][number]

/** The logs in reverse order, one after another. */
function reverseOrder(v: RosterVector): Entry[] {
  const logs = [...new Set(v.entries.map((e) => e.log))].reverse()
  return logs.flatMap((log) => v.entries.filter((e) => e.log === log))
}

/** A random interleaving of the logs, each log's entries in their own order. */
function randomOrder(v: RosterVector, seed: number): Entry[] {
  const rand = prng(seed)
  const queues = [...new Set(v.entries.map((e) => e.log))].map((log) => v.entries.filter((e) => e.log === log))
  const out: Entry[] = []
  while (queues.some((q) => q.length)) {
    const left = queues.filter((q) => q.length)
    out.push(left[Math.floor(rand() * left.length)]!.shift()!)
  }
  return out
}

/** A client following the roster reads `order`, retrying entries whose key depends on a change not read yet. */
function follow(v: RosterVector, order: Entry[]): FollowedRoster {
  const f = new FollowedRoster(parseGenesis(JSON.stringify(v.genesis), 'vector'))
  let todo = order
  for (let round = 0; todo.length && round < 8; round++) {
    const later: Entry[] = []
    for (const e of todo) {
      try {
        f.observe(e.log, e.index, fromHex(e.entry))
      } catch (err) {
        if (!isLedgerError(err) || err.code !== 'BAD_SIGNATURE') throw err
        later.push(e) // its key depends on a change not read yet
      }
    }
    todo = later
  }
  assert.is(todo.length, 0, 'every entry read')
  return f
}

/** Every probe's outcome under `r`'s keys. */
function probeOutcomes(r: Roster, v: RosterVector) {
  return v.probes.map((p) => {
    try {
      return openEntryWithKeys(fromHex(p.entry), r.logKeys(p.log), p.log, p.index).compromised ? 'compromised' : 'valid'
    } catch (e) {
      if (!isLedgerError(e)) throw e
      return e.code
    }
  })
}

for (const f of files) {
  test(`rosters/${f}`, () => {
    const v = load(f)
    const r = replay(v)
    assert.equal(ranges(r, v), v.logs, 'key ranges')
    for (const p of v.probes) {
      const what = `probe ${p.log}#${p.index} key ${p.key.slice(0, 8)}`
      try {
        const opened = openEntryWithKeys(fromHex(p.entry), r.logKeys(p.log), p.log, p.index)
        assert.ok(p.valid || p.compromised, `${what}: accepted`)
        assert.is(opened.compromised === true, p.compromised, `${what}: compromised`)
      } catch (e) {
        if (!isLedgerError(e)) throw e
        assert.ok(!p.valid && !p.compromised, `${what}: ${e.code}`)
        assert.is(e.code, 'BAD_SIGNATURE', what)
      }
      const k = r.logKeyAt(p.log, p.index)
      assert.is(k !== undefined && toHex(k.publicKey) === p.key, p.valid, `${what}: logKeyAt`)
    }
    for (const p of v.checkpoint_probes) {
      const what = `checkpoint ${p.log} size ${p.size} key ${p.key.slice(0, 8)}`
      try {
        openCheckpointWithKeys(p.note, r.logKeys(p.log))
        assert.ok(p.valid, `${what}: accepted`)
      } catch (e) {
        if (!isLedgerError(e)) throw e
        assert.not.ok(p.valid, `${what}: ${e.code}`)
        assert.is(e.code, p.error, what)
      }
    }
    for (const p of v.cosignature_probes) {
      const got = cosigners(p.note, r.cosignerKeys(p.log))
      assert.is(got.has(p.witness), p.valid, `cosignature by ${p.witness} key ${p.key.slice(0, 8)} at ${p.timestamp}`)
    }
    for (const p of v.equivocation_probes ?? []) {
      const what = `equivocation ${p.log} size ${p.size} key ${p.key.slice(0, 8)}`
      try {
        assert.is(r.equivocationFreezes(p.log, p.proof), p.freezes, what)
        assert.is(p.error, undefined, `${what}: accepted`)
      } catch (e) {
        if (!isLedgerError(e)) throw e
        assert.is(e.code, p.error, what)
      }
    }
  })

  test(`rosters/${f}: a client following the roster ends with the same ranges in forward, reverse and random orders`, () => {
    const v = load(f)
    const expected = probeOutcomes(replay(v), v)
    const orders: [string, Entry[]][] = [['forward', v.entries], ['reverse', reverseOrder(v)]]
    for (let seed = 1; seed <= 8; seed++) orders.push([`random ${seed}`, randomOrder(v, seed)])
    for (const [name, order] of orders) {
      const r = follow(v, order).roster
      assert.equal(ranges(r, v), v.logs, `${name}: key ranges`)
      assert.equal(probeOutcomes(r, v), expected, `${name}: probes`)
    }
  })
}

test.run()
