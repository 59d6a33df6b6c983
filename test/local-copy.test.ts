/**
 * The local copy's format (client/local-copy*.ts, spec/local-copy.md):
 * records written by the writer read back field for field, removals and
 * opinions applied, damage and crash leftovers handled, the PDQ match equal
 * to brute force, an old-format copy rebuilt by sync, and opinions recorded
 * from a real federation's feed.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { mkdtempSync, mkdirSync, readFileSync, writeFileSync, readdirSync, rmSync, existsSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createHash, randomBytes } from 'node:crypto'
import { emptyState, originIndex, Journal, commit, compact, openLocalCopy, loadLocalSet, STATE_FORMAT, OLD_STATE_FORMAT, type LocalState, type CopyRecord } from '../client/local-copy.ts'
import { bruteForce } from '../client/pdq-index.ts'
import { syncLocalCopy } from '../client/sync.ts'
import { LedgerError } from '../protocol/errors.ts'
import { fromHex, sha256, utf8 } from '../protocol/bytes.ts'
import { startCluster, waitFor, converged, type Cluster } from './support/cluster.ts'

const scratch = mkdtempSync(join(tmpdir(), 'cairn-local-copy-test-'))
let dirs = 0
const newDir = () => {
  const d = join(scratch, `copy-${dirs++}`)
  mkdirSync(d, { recursive: true })
  return d
}
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex')

interface Written { id: Uint8Array; log: string; seq: number; alg: string; category: string; value: Uint8Array; quality?: number }

/** A seeded PRNG (xorshift32), so a failing case can be run again. */
function rng(seed: number) {
  let x = seed >>> 0 || 1
  return () => {
    x ^= x << 13
    x ^= x >>> 17
    x ^= x << 5
    return (x >>> 0) / 2 ** 32
  }
}

/** Writes records with the real writer, one journal per batch. */
function writeCopy(dir: string, batches: ((j: Journal, s: LocalState) => void)[]): LocalState {
  const state = emptyState()
  for (const b of batches) {
    const j = new Journal()
    b(j, state)
    commit(dir, state, j)
  }
  return state
}

function add(j: Journal, s: LocalState, w: Written) {
  j.add(w.id, w.alg, w.category, w.value, originIndex(s, w.log), w.seq, w.quality)
}

function sameRecord(r: CopyRecord, w: Written, what: string) {
  assert.equal({ id: r.id, log: r.log, seq: r.seq, alg: r.alg, category: r.category, value: hex(r.value), quality: r.quality },
    { id: hex(w.id), log: w.log, seq: w.seq, alg: w.alg, category: w.category, value: hex(w.value), quality: w.quality }, what)
}

test.after(() => rmSync(scratch, { recursive: true, force: true }))

test('round trip: every field written is read back; removals, latest opinions per centre, attestations before their target; compaction keeps it all', () => {
  const dir = newDir()
  const logs = ['t.cairn/a', 't.cairn/b', 't.cairn/c']
  const recs: Written[] = []
  const algs: [string, number][] = [['md5', 16], ['sha1', 20], ['sha256', 32], ['pdq', 32], ['photodna', 144], ['tmk_pdqf', 0], ['url_sha256', 32]]
  for (let i = 0; i < 70; i++) {
    const [alg, w] = algs[i % algs.length]!
    recs.push({
      id: randomBytes(32), log: logs[i % 3]!, seq: i === 5 ? 2 ** 40 + 7 : i, alg, category: ['A1', 'A2', 'B1', 'B2'][i % 4]!,
      value: randomBytes(w || 1 + (i % 300)), quality: alg === 'pdq' ? 50 + (i % 51) : undefined,
    })
  }
  // Two centres name one value: both records are reported.
  const twin: Written = { ...recs[3]!, id: randomBytes(32), log: 't.cairn/c', seq: 999 }
  const target = recs[0]!
  const att = (j: Journal, s: LocalState, log: string, seq: number, opinion: 'confirm' | 'dispute', on = target.id) => j.attest(randomBytes(32), on, opinion, originIndex(s, log), seq)
  const state = writeCopy(dir, [
    (j, s) => {
      att(j, s, 't.cairn/b', 1, 'dispute') // before its target arrives
      for (const r of recs.slice(0, 40)) add(j, s, r)
    },
    (j, s) => {
      for (const r of recs.slice(40)) add(j, s, r)
      add(j, s, twin)
      att(j, s, 't.cairn/c', 3, 'confirm')
      att(j, s, 't.cairn/b', 9, 'confirm') // b changes its mind: its latest counts
      att(j, s, 't.cairn/a', 4, 'dispute', recs[1]!.id) // on a record revoked below: never shown
      j.remove(recs[1]!.id)
      j.remove(recs[2]!.id)
    },
  ])
  const live = [...recs.filter((r) => r !== recs[1] && r !== recs[2]), twin]
  const check = (what: string) => {
    const copy = openLocalCopy(dir)
    assert.is(copy.size, live.length, what)
    const got = new Map([...copy.records()].map((r) => [r.id, r]))
    assert.is(got.size, live.length)
    for (const w of live) {
      const r = got.get(hex(w.id))
      assert.ok(r, `${what}: record ${hex(w.id).slice(0, 8)} kept`)
      sameRecord(r!, w, what)
      const found = copy.lookup(w.alg, w.value)
      assert.ok(found.some((x) => x.id === hex(w.id)), `${what}: lookup ${w.alg}`)
    }
    for (const gone of [recs[1]!, recs[2]!]) assert.not.ok(copy.lookup(gone.alg, gone.value).some((x) => x.id === hex(gone.id)), `${what}: removed`)
    assert.equal(copy.lookup(twin.alg, twin.value).map((r) => r.log), [recs[3]!.log, 't.cairn/c'].sort(), `${what}: both records of one value`)
    assert.equal(copy.opinions(target.id), { confirmations: ['t.cairn/b', 't.cairn/c'], disputes: [] }, what)
    assert.equal(got.get(hex(target.id))!.confirmations, ['t.cairn/b', 't.cairn/c'])
    assert.equal(copy.opinions(recs[4]!.id), { confirmations: [], disputes: [] })
    assert.equal(copy.lookup('sha256', randomBytes(32)), [])
    return copy
  }
  check('journals')
  compact(dir, state)
  assert.equal(readdirSync(dir).filter((f) => f.endsWith('.bin')).length, 1)
  check('compacted')
  const s = JSON.parse(readFileSync(join(dir, 'state.json'), 'utf8'))
  assert.is(s.format, STATE_FORMAT)
  assert.equal(s.origins, ['t.cairn/b', 't.cairn/a', 't.cairn/c'])
})

test('integrity: a flipped byte, a wrong record count, a v1 magic, a missing file are refused; crash leftovers are ignored', () => {
  const dir = newDir()
  const w: Written = { id: randomBytes(32), log: 't.cairn/a', seq: 0, alg: 'sha256', category: 'A1', value: randomBytes(32) }
  writeCopy(dir, [(j, s) => add(j, s, w)])
  // A crash after writing the next journal but before state.json: the copy is the previous one.
  writeFileSync(join(dir, 'journal-00000002.bin'), 'CAIRNSJ2half')
  writeFileSync(join(dir, 'state.json.tmp'), '{"half')
  assert.is(openLocalCopy(dir).size, 1)
  const state = JSON.parse(readFileSync(join(dir, 'state.json'), 'utf8'))
  const file = join(dir, state.journals[0].file)
  const good = readFileSync(file)
  const corrupt = (why: string, edit: () => void) => {
    edit()
    assert.throws(() => openLocalCopy(dir), (e: unknown) => (e as LedgerError).code === 'STORAGE_CORRUPT', why)
    writeFileSync(file, good)
    writeFileSync(join(dir, 'state.json'), JSON.stringify(state))
  }
  corrupt('flipped byte', () => {
    const b = Buffer.from(good)
    b[b.length - 1]! ^= 1
    writeFileSync(file, b)
  })
  const rewrite = (b: Buffer, records = state.journals[0].records) => {
    writeFileSync(file, b)
    writeFileSync(join(dir, 'state.json'), JSON.stringify({ ...state, journals: [{ ...state.journals[0], sha256: createHash('sha256').update(b).digest('hex'), records }] }))
  }
  corrupt('record count', () => rewrite(good, 2))
  corrupt('old magic', () => rewrite(Buffer.concat([Buffer.from('CAIRNSJ1'), good.subarray(8)])))
  corrupt('unknown log index', () => {
    const b = Buffer.from(good)
    b.writeUInt16BE(7, 8 + 36)
    rewrite(b)
  })
  corrupt('missing file', () => rmSync(file))
  assert.is(openLocalCopy(dir).size, 1)
  assert.throws(() => openLocalCopy(join(scratch, 'none')), (e: unknown) => (e as LedgerError).code === 'NOT_FOUND')
})

test('matchPdq returns exactly the brute-force answer (random, clustered, duplicate and removed values) at d = 0, 10, 31, 63', () => {
  const dir = newDir()
  const random = rng(18)
  const byte = () => Math.floor(random() * 256)
  const recs: Written[] = []
  const flip = (v: Uint8Array, bits: number) => {
    const c = Uint8Array.from(v)
    for (let k = 0; k < bits; k++) {
      const b = Math.floor(random() * 256)
      c[b >> 3]! ^= 1 << (b & 7)
    }
    return c
  }
  const centres = Array.from({ length: 60 }, () => Uint8Array.from({ length: 32 }, byte))
  for (let i = 0; i < 20_000; i++) {
    const value = i % 2 === 0 ? Uint8Array.from({ length: 32 }, byte) : flip(centres[i % centres.length]!, Math.floor(random() * 40))
    recs.push({ id: randomBytes(32), log: `t.cairn/${i % 3}`, seq: i, alg: 'pdq', category: 'A1', value, quality: 90 })
  }
  for (let i = 0; i < 200; i++) recs.push({ ...recs[i * 7]!, id: randomBytes(32), log: 't.cairn/dup', seq: i })
  const removed = new Set(recs.filter((_, i) => i % 97 === 0).map((r) => hex(r.id)))
  writeCopy(dir, [(j, s) => {
    for (const r of recs) add(j, s, r)
  }, (j) => {
    for (const r of recs) if (removed.has(hex(r.id))) j.remove(r.id)
  }])
  const copy = openLocalCopy(dir)
  const live = recs.filter((r) => !removed.has(hex(r.id)))
  const packed = new Uint8Array(live.length * 32)
  live.forEach((r, i) => packed.set(r.value, i * 32))
  const queries = [...centres.slice(0, 20), ...Array.from({ length: 20 }, () => Uint8Array.from({ length: 32 }, byte)), ...live.slice(0, 20).map((r) => flip(r.value, 5))]
  let compared = 0
  for (const d of [0, 10, 31, 63]) {
    for (const q of queries) {
      const want = bruteForce(packed, live.length, q, d).map((m) => `${hex(live[m.index]!.id)}:${m.distance}`).sort()
      const got = copy.matchPdq(q, d).map((m) => `${m.record.id}:${m.distance}`).sort()
      assert.equal(got, want, `d=${d}`)
      compared += want.length
    }
  }
  assert.ok(compared > 100, `the queries found matches (${compared})`)
  // Ordered by distance.
  const m = copy.matchPdq(centres[0]!, 31)
  assert.equal(m.map((x) => x.distance), [...m.map((x) => x.distance)].sort((a, b) => a - b))
})

test('exact PDQ lookups (has, category, lookup) are brute force: duplicates across logs, removed records, one-bit-off and absent values', () => {
  const dir = newDir()
  const random = rng(1818)
  const byte = () => Math.floor(random() * 256)
  const cats = ['A1', 'A2', 'B1', 'B2']
  const distinct = Array.from({ length: 3000 }, () => Uint8Array.from({ length: 32 }, byte))
  // Shared first chunks: values that agree on chunks 0..2 and differ later, so the exact path's bucket filters pass them.
  for (let i = 0; i < 200; i++) {
    const v = Uint8Array.from(distinct[i]!)
    v[4 + (i % 28)]! ^= 1 << (i % 8)
    distinct.push(v)
  }
  const recs: Written[] = []
  const seqs = new Map<string, number>()
  for (let i = 0; i < 6000; i++) {
    // Most values once, some several times, in logs and seqs out of order, with different categories.
    const value = distinct[i < distinct.length ? i : Math.floor(random() * 300)]!
    const log = `t.cairn/${Math.floor(random() * 4)}`
    const seq = (seqs.get(log) ?? 0) + 1 + Math.floor(random() * 3)
    seqs.set(log, seq)
    recs.push({ id: randomBytes(32), log, seq: 10_000 - seq, alg: 'pdq', category: cats[Math.floor(random() * 4)]!, value, quality: 80 })
  }
  for (let i = 0; i < 50; i++) recs.push({ id: randomBytes(32), log: 't.cairn/0', seq: 20_000 + i, alg: 'md5', category: 'A1', value: randomBytes(16) })
  const removed = new Set(recs.filter((r, i) => r.alg === 'pdq' && (i % 11 === 0 || i % 250 === 1)).map((r) => hex(r.id)))
  writeCopy(dir, [(j, s) => {
    for (const r of recs) add(j, s, r)
  }, (j) => {
    for (const r of recs) if (removed.has(hex(r.id))) j.remove(r.id)
  }])
  const live = recs.filter((r) => r.alg === 'pdq' && !removed.has(hex(r.id)))
  // The reference: every live record, grouped by value, by log then seq.
  const byValue = new Map<string, Written[]>()
  for (const r of live) byValue.set(hex(r.value), [...(byValue.get(hex(r.value)) ?? []), r])
  const want = (q: Uint8Array) => (byValue.get(hex(q)) ?? []).sort((a, b) => (a.log < b.log ? -1 : a.log > b.log ? 1 : a.seq - b.seq))
  const removedValues = new Set(recs.filter((r) => removed.has(hex(r.id))).map((r) => hex(r.value)))
  const flip = (v: Uint8Array) => {
    const c = Uint8Array.from(v)
    const b = byte()
    c[b >> 3]! ^= 1 << (b & 7)
    return c
  }
  const queries = [
    ...distinct,
    ...recs.filter((r) => removed.has(hex(r.id))).map((r) => r.value),
    ...distinct.slice(0, 500).map(flip),
    ...Array.from({ length: 300 }, () => Uint8Array.from({ length: 32 }, byte)),
  ]
  let hits = 0
  let several = 0
  let onlyRemoved = 0
  for (const [label, copy] of [['built', openLocalCopy(dir)], ['read from pdq-index.idx', openLocalCopy(dir)], ['loadLocalSet', loadLocalSet(dir)]] as const) {
    for (const q of queries) {
      const w = want(q)
      const what = `${label}: ${hex(q)}`
      assert.is(copy.has('pdq', q), w.length > 0, `${what}: has`)
      assert.is(copy.category('pdq', q), w[0]?.category, `${what}: category`)
      const got = copy.lookup('pdq', q)
      assert.equal(got.map((r) => r.id), w.map((r) => hex(r.id)), `${what}: lookup`)
      assert.equal(got, copy.matchPdq(q, 0).map((m) => m.record), `${what}: lookup is matchPdq at 0`)
      if (w.length > 0) hits++
      if (w.length > 1) several++
      if (w.length === 0 && removedValues.has(hex(q))) onlyRemoved++
    }
    assert.not.ok(copy.has('pdq', new Uint8Array(31)))
    assert.is(copy.category('pdq', new Uint8Array(33)), undefined)
    assert.equal(copy.lookup('pdq', new Uint8Array(0)), [])
  }
  assert.ok(hits > 1000 && several > 100 && onlyRemoved > 10 && hits < 3 * queries.length, `hits ${hits}, with several records ${several}, only removed ${onlyRemoved}`)
})

// ------------------------------------------------------------------ with a federation

let cluster: Cluster | undefined

test('sync records log, seq, quality and opinions; revocations remove; an old-format copy is rebuilt with a warning', async () => {
  cluster = await startCluster(3)
  const [a, b, c] = cluster.nodes as [NonNullable<Cluster['nodes'][0]>, NonNullable<Cluster['nodes'][0]>, NonNullable<Cluster['nodes'][0]>]
  const genesis = join(cluster.dir, 'genesis.json')
  const token = (await a.tokens.grant('provider', 'local-copy test')).token
  const pdq = sha256(utf8('local-copy pdq'))
  const p1 = await c.publisher.submit({ type: 'indicator', alg: 'pdq', value: pdq, category: 'B1', kind: 'known_material', media: 'image', quality: 73 })
  const p2 = await c.publisher.submit({ type: 'indicator', alg: 'sha256', value: sha256(utf8('local-copy sha')), category: 'A2', kind: 'known_material', media: 'image' })
  // a's attestation sorts (origin order) before c's indicator in every feed page.
  await a.publisher.submit({ type: 'attestation', target: fromHex(p1.id), opinion: 'confirm' })
  await b.publisher.submit({ type: 'attestation', target: fromHex(p1.id), opinion: 'dispute', reason: 'wrong_category' })
  await b.publisher.submit({ type: 'attestation', target: fromHex(p2.id), opinion: 'confirm' })
  await c.publisher.submit({ type: 'revocation', target: fromHex(p2.id), reason: 'false_positive' })
  await waitFor('federation converges', () => converged(cluster!.nodes, 2), 60_000)

  // An old-format copy: state.json of format 1 and its files.
  const dir = newDir()
  const oldBase = Buffer.concat([Buffer.from('CAIRNSB1'), randomBytes(32), Buffer.from([3, 1, 0, 32]), randomBytes(32)])
  writeFileSync(join(dir, 'base-00000004.bin'), oldBase)
  writeFileSync(join(dir, 'state.json'), JSON.stringify({
    format: OLD_STATE_FORMAT, trust: 'genesis', keys: {}, logs: { [a.origin]: { size: 1, frontier: [] } }, generation: 4, journals: [],
    base: { file: 'base-00000004.bin', sha256: createHash('sha256').update(oldBase).digest('hex'), records: 1 },
  }))
  assert.throws(() => openLocalCopy(dir), (e: unknown) => (e as LedgerError).code === 'BAD_VERSION' && /cairn sync/.test((e as Error).message))
  const warnings: string[] = []
  const r = await syncLocalCopy({ node: a.url, token, dir, minWitnesses: 2, genesis, warn: (m) => warnings.push(m), limit: 2 })
  assert.is(warnings.length, 1, warnings.join('\n'))
  assert.match(warnings[0]!, /old format cairn-local-set\/1; rebuilding/)
  assert.is(r.opinions, 3)
  assert.not.ok(existsSync(join(dir, 'base-00000004.bin')), 'the old files are gone once the new copy commits')
  assert.is(JSON.parse(readFileSync(join(dir, 'state.json'), 'utf8')).format, STATE_FORMAT)

  const copy = openLocalCopy(dir)
  assert.is(copy.size, 1)
  const [rec] = copy.lookup('pdq', pdq)
  assert.ok(rec)
  assert.equal({ id: rec!.id, log: rec!.log, seq: rec!.seq, category: rec!.category, quality: rec!.quality }, { id: p1.id, log: c.origin, seq: p1.seq, category: 'B1', quality: 73 })
  assert.equal(rec!.confirmations, [a.origin])
  assert.equal(rec!.disputes, [b.origin])
  assert.equal(copy.matchPdq(pdq, 0).map((m) => m.record.id), [p1.id])
  assert.not.ok(copy.has('sha256', sha256(utf8('local-copy sha'))), 'revoked')
  assert.is(loadLocalSet(dir).size, 1)
  // Another run with nothing new: no warning, nothing changes.
  const again: string[] = []
  const r2 = await syncLocalCopy({ node: b.url, token: (await b.tokens.grant('provider', 'x')).token, dir, minWitnesses: 2, genesis, warn: (m) => again.push(m) })
  assert.equal([again, r2.added, r2.opinions], [[], 0, 0])
})

test.after(async () => {
  await cluster?.close()
})

test.run()
