/**
 * `cairn sync` end to end against a real 3-node federation: first sync,
 * resumption, revocations seen through another node, trust on first use,
 * refusal of tampered or inconsistent feeds (local copy untouched), crash
 * leftovers, compaction, the CLI, and lookup speed of the loaded copy.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { mkdtempSync, mkdirSync, readdirSync, readFileSync, writeFileSync, rmSync, existsSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createHash, randomBytes } from 'node:crypto'
import { execFile } from 'node:child_process'
import { startCluster, waitFor, converged, type Cluster } from './support/cluster.ts'
import { sha256, utf8, fromHex, toHex, concat, toBase64, fromBase64 } from '../protocol/bytes.ts'
import { signCheckpoint } from '../protocol/checkpoint.ts'
import { LedgerError } from '../protocol/errors.ts'
import { loadKeys } from '../node/config.ts'
import { syncLocalCopy, type SyncOptions } from '../client/sync.ts'
import { loadLocalSet, STATE_FORMAT } from '../client/local-copy.ts'
import type { CairnNode } from '../node/node.ts'
import type { RecordBody } from '../node/publisher.ts'

let cluster: Cluster
let nodes: CairnNode[]
let genesis = ''
const providerToken = new Map<CairnNode, string>()
const scratch = mkdtempSync(join(tmpdir(), 'cairn-sync-test-'))
let dirs = 0
const newDir = () => join(scratch, `copy-${dirs++}`)

/** Every value published, by record id. */
const published = new Map<string, { alg: string; value: Uint8Array; category: string }>()
const revoked = new Set<string>()

function bytes(tag: string, n: number): Uint8Array {
  let out: Uint8Array = new Uint8Array(0)
  for (let i = 0; out.length < n; i++) out = concat(out, sha256(utf8(`${tag}/${i}`)))
  return out.slice(0, n)
}

function body(tag: string, i: number): RecordBody {
  switch (i % 6) {
    case 0: return { type: 'indicator', alg: 'sha256', value: bytes(tag, 32), category: 'A1', kind: 'known_material', media: 'image' }
    case 1: return { type: 'indicator', alg: 'md5', value: bytes(tag, 16), category: 'A2', kind: 'known_material', media: 'video' }
    case 2: return { type: 'indicator', alg: 'pdq', value: bytes(tag, 32), category: 'B1', kind: 'new_material', media: 'image', quality: 77 }
    case 3: return { type: 'indicator', alg: 'photodna', value: bytes(tag, 144), category: 'B2', kind: 'known_material', media: 'image' }
    case 4: return { type: 'indicator', alg: 'tmk_pdqf', value: bytes(tag, 100 + i), category: 'A1', kind: 'known_material', media: 'video' }
    default: return { type: 'indicator', alg: 'sha1', value: bytes(tag, 20), category: 'A2', kind: 'known_material', media: 'image' }
  }
}

async function publish(node: CairnNode, tag: string, n: number): Promise<string[]> {
  const bodies = Array.from({ length: n }, (_, i) => body(`${tag}-${i}`, i))
  const res = await Promise.all(bodies.map((b) => node.publisher.submit(b)))
  res.forEach((p, i) => {
    const b = bodies[i] as { alg: string; value: Uint8Array; category: string }
    published.set(p.id, { alg: b.alg, value: b.value, category: b.category })
  })
  return res.map((p) => p.id)
}

async function revoke(node: CairnNode, id: string) {
  await node.publisher.submit({ type: 'revocation', target: fromHex(id), reason: 'legal_order' })
  revoked.add(id)
}

const settled = () => waitFor('federation converges', () => converged(nodes, 2), 60_000)

function opts(node: CairnNode, dir: string, extra: Partial<SyncOptions> = {}): SyncOptions {
  return { node: node.url, token: providerToken.get(node)!, dir, minWitnesses: 2, genesis, warn: () => undefined, ...extra }
}

/** The local copy must hold exactly the published, non-revoked values. */
function assertCopyMatches(dir: string) {
  const set = loadLocalSet(dir)
  const live = [...published.entries()].filter(([id]) => !revoked.has(id))
  assert.is(set.size, live.length)
  for (const [id, v] of published) {
    assert.is(set.has(v.alg, v.value), !revoked.has(id), `${v.alg} ${toHex(v.value).slice(0, 16)}… ${revoked.has(id) ? 'revoked' : 'live'}`)
    if (!revoked.has(id)) assert.is(set.category(v.alg, v.value), v.category)
  }
  assert.not.ok(set.has('sha256', randomBytes(32)))
  assert.not.ok(set.has('sha256', randomBytes(31)))
  assert.not.ok(set.has('nope', randomBytes(32)))
  return set
}

/** File name → SHA-256 of everything in the copy's directory. */
function fingerprint(dir: string): Record<string, string> {
  const out: Record<string, string> = {}
  for (const f of readdirSync(dir).sort()) out[f] = createHash('sha256').update(readFileSync(join(dir, f))).digest('hex')
  return out
}

type Page = { logs: Record<string, unknown>[]; more: boolean; next: string; items: unknown[] }

/** A fetch that rewrites /feed pages. */
function tamper(edit: (page: Page) => void): typeof fetch {
  return async (input, init) => {
    const res = await fetch(input, init)
    if (!String(input).includes('/feed?')) return res
    const page = (await res.json()) as Page
    edit(page)
    return new Response(JSON.stringify(page), { status: 200, headers: { 'content-type': 'application/json' } })
  }
}

async function refused(o: SyncOptions, code: string, what: string) {
  const before = fingerprint(o.dir)
  try {
    await syncLocalCopy(o)
    assert.unreachable(`${what}: the tampered feed was accepted`)
  } catch (e) {
    assert.instance(e, LedgerError, `${what}: ${String(e)}`)
    assert.is((e as LedgerError).code, code, `${what}: ${(e as Error).message}`)
    assert.match((e as Error).message, /refusing|not|no /, what)
  }
  assert.equal(fingerprint(o.dir), before, `${what}: the local copy changed`)
}

test.before(async () => {
  cluster = await startCluster(3)
  nodes = cluster.nodes
  genesis = join(cluster.dir, 'genesis.json')
  for (const n of nodes) providerToken.set(n, (await n.tokens.grant('provider', 'sync test')).token)
  await publish(nodes[0]!, 'a', 24)
  const bIds = await publish(nodes[1]!, 'b', 9)
  await revoke(nodes[1]!, bIds[2]!)
  await nodes[2]!.publisher.submit({ type: 'attestation', target: fromHex(bIds[0]!), opinion: 'confirm' })
  await settled()
})

test.after(async () => {
  await cluster?.close()
  rmSync(scratch, { recursive: true, force: true })
})

let main = ''

test('first sync (small pages, commits along the way) builds a verified copy of exactly the current set', async () => {
  main = newDir()
  const progress: number[] = []
  const warnings: string[] = []
  const r = await syncLocalCopy(opts(nodes[0]!, main, { limit: 5, commitEvery: 4, onProgress: (p) => progress.push(p.done), warn: (m) => warnings.push(m) }))
  assert.equal(warnings, [])
  assert.is(r.added, 33)
  assert.is(r.removed, 1)
  assert.ok(r.pages >= 7)
  assert.ok(progress.length === r.pages && progress[progress.length - 1] === r.entries)
  assert.equal(progress, [...progress].sort((x, y) => x - y))
  assertCopyMatches(main)
  const state = JSON.parse(readFileSync(join(main, 'state.json'), 'utf8'))
  assert.is(state.format, STATE_FORMAT)
  assert.is(state.trust, 'genesis')
  for (const n of nodes) assert.is(state.logs[n.origin].checkpoint.size, n.store.size(n.origin))
  assert.is(loadLocalSet(main).cursor, r.cursor)
  assert.not.ok(existsSync(join(main, 'lock')))
})

test('resuming with nothing new: one page, no changes, same set', async () => {
  const r = await syncLocalCopy(opts(nodes[2]!, main))
  assert.equal([r.added, r.removed, r.entries, r.pages], [0, 0, 0, 1])
  assertCopyMatches(main)
})

test('a revocation on another node reaches the copy through a third node; new indicators arrive', async () => {
  const [a, b, c] = nodes as [CairnNode, CairnNode, CairnNode]
  const bLive = [...published.keys()].find((id) => !revoked.has(id) && published.get(id)!.alg === 'md5')!
  // The md5 one may be in a's or b's log; revoke it on its own log.
  const owner = (await b.store.locate(fromHex(bLive)))!.origin === a.origin ? a : b
  await revoke(owner, bLive)
  await publish(c, 'c', 7)
  await settled()
  const r = await syncLocalCopy(opts(c, main, { limit: 4 }))
  assert.is(r.removed, 1)
  assert.is(r.added, 7)
  assertCopyMatches(main)
  assert.not.ok(loadLocalSet(main).has('md5', published.get(bLive)!.value))
})

test('without --genesis: trust on first use, with a warning, keys pinned for later runs', async () => {
  const dir = newDir()
  const warnings: string[] = []
  await syncLocalCopy(opts(nodes[1]!, dir, { genesis: undefined, warn: (m) => warnings.push(m) }))
  assert.is(warnings.length, 1)
  assert.match(warnings[0]!, /trust/)
  assertCopyMatches(dir)
  const state = JSON.parse(readFileSync(join(dir, 'state.json'), 'utf8'))
  assert.is(state.trust, 'tofu')
  assert.is(Object.keys(state.keys).length, 3)
  const again: string[] = []
  await syncLocalCopy(opts(nodes[0]!, dir, { genesis: undefined, warn: (m) => again.push(m) }))
  assert.equal(again, [])
  // A genesis that contradicts the pinned keys is refused.
  const g = JSON.parse(readFileSync(genesis, 'utf8'))
  ;[g.members[0].vkey, g.members[1].vkey] = [g.members[1].vkey, g.members[0].vkey]
  const swapped = join(scratch, 'swapped-genesis.json')
  writeFileSync(swapped, JSON.stringify(g))
  try {
    await syncLocalCopy(opts(nodes[0]!, dir, { genesis: swapped }))
    assert.unreachable()
  } catch (e) {
    assert.is((e as LedgerError).code, 'BAD_CONFIG')
  }
})

test('tampered or inconsistent feeds are refused with a clear error and the local copy untouched', async () => {
  const a = nodes[0]!
  await publish(a, 'late', 6)
  await settled()
  const keys = await loadKeys(cluster.planned[0]!.dir)
  const mine = (p: Page) => p.logs.find((l) => l.origin === a.origin)! as Record<string, unknown> & { checkpoint: string; entries: string[]; proof: string[]; verified_proof?: string[]; from: number; to: number; size: number }
  const prevSize = JSON.parse(readFileSync(join(main, 'state.json'), 'utf8')).logs[a.origin].checkpoint.size as number
  const base = (edit: (p: Page) => void, extra: Partial<SyncOptions> = {}) => opts(a, main, { fetch: tamper(edit), ...extra })

  await refused(base((p) => {
    const l = mine(p)
    const [body, sigs] = l.checkpoint.split('\n\n')
    const first = sigs!.split('\n')[0]!
    const sig = fromBase64(first.split(' ')[2]!)
    sig[10]! ^= 1
    l.checkpoint = `${body}\n\n${first.split(' ').slice(0, 2).join(' ')} ${toBase64(sig)}\n${sigs!.split('\n').slice(1).join('\n')}`
  }), 'BAD_SIGNATURE', 'checkpoint signature flipped')

  await refused(base((p) => {
    const l = mine(p)
    const [body, sigs] = l.checkpoint.split('\n\n')
    l.checkpoint = `${body}\n\n${sigs!.split('\n')[0]}\n`
  }), 'BAD_COSIGNATURE', 'cosignatures stripped')

  await refused(base((p) => {
    const l = mine(p)
    const e = fromBase64(l.entries[1]!)
    e[e.length - 1]! ^= 1
    l.entries[1] = toBase64(e)
  }), 'INCONSISTENT_CHECKPOINT', 'an entry altered')

  await refused(base((p) => {
    const l = mine(p)
    l.entries = [l.entries[1]!, l.entries[0]!, ...l.entries.slice(2)]
  }), 'WRONG_LOG', 'entries reordered')

  await refused(base((p) => {
    mine(p).entries.pop()
  }), 'MALFORMED_ENTRY', 'an entry dropped')

  await refused(base((p) => {
    const l = mine(p)
    assert.ok(l.to < l.size)
    const h = fromBase64(l.proof[0]!)
    h[0]! ^= 1
    l.proof[0] = toBase64(h)
  }, { limit: 3 }), 'INCONSISTENT_CHECKPOINT', 'consistency proof (page end to checkpoint) altered')

  await refused(base((p) => {
    const l = mine(p)
    const h = fromBase64(l.verified_proof![0]!)
    h[5]! ^= 1
    l.verified_proof![0] = toBase64(h)
  }), 'INCONSISTENT_CHECKPOINT', 'consistency proof (verified checkpoint to new one) altered')

  await refused(base((p) => {
    delete mine(p).verified_proof
  }), 'BAD_PROOF', 'proof from the verified checkpoint missing')

  await refused(base((p) => {
    const l = mine(p)
    l.from += 1
  }), 'SEQ_MISMATCH', 'page not starting at the copy\'s cursor')

  // A fork: the log's own key signs a different tree of the size this copy verified before.
  const fork = signCheckpoint({ origin: a.origin, size: prevSize, root: sha256(utf8('fork')) }, { name: a.origin, seed: keys.logSeed })
  await refused(base((p) => {
    const l = mine(p)
    Object.assign(l, { checkpoint: fork, size: prevSize, to: l.from, entries: [], proof: [], verified_proof: [] })
  }, { minWitnesses: 0 }), 'INCONSISTENT_CHECKPOINT', 'same size, different root (equivocation)')

  // Rolled back: an older checkpoint without saying the node is behind.
  const oldNote = (await a.store.checkpointHistory(a.origin)).find((n) => Number(n.split('\n')[1]) > 0 && Number(n.split('\n')[1]) < prevSize)!
  assert.ok(oldNote)
  await refused(base((p) => {
    const l = mine(p)
    Object.assign(l, { checkpoint: oldNote, size: Number(oldNote.split('\n')[1]), to: l.from, entries: [], proof: [], verified_proof: [] })
  }, { minWitnesses: 0 }), 'INCONSISTENT_CHECKPOINT', 'an older checkpoint')

  await refused(opts(a, main, { minWitnesses: 3 }), 'BAD_COSIGNATURE', 'more witnesses than the federation has')

  // Untampered, the same run goes through.
  const r = await syncLocalCopy(opts(a, main))
  assert.is(r.added, 6)
  assertCopyMatches(main)
})

test('a node that is behind is not taken as a rollback: its logs are skipped with a warning', async () => {
  const a = nodes[0]!
  const warnings: string[] = []
  const r = await syncLocalCopy(opts(a, main, {
    warn: (m) => warnings.push(m),
    fetch: tamper((p) => {
      for (const l of p.logs) if (l.origin === a.origin) Object.assign(l, { behind: true, to: l.from, entries: [] })
    }),
  }))
  assert.is(r.entries, 0)
  assert.is(warnings.length, 1)
  assert.match(warnings[0]!, /behind/)
})

test('crash leftovers are ignored and cleaned; damaged files are detected; compaction keeps the set', async () => {
  const dir = newDir()
  await syncLocalCopy(opts(nodes[1]!, dir, { limit: 7, commitEvery: 5 }))
  const journals = readdirSync(dir).filter((f) => f.startsWith('journal-'))
  assert.ok(journals.length > 1)
  // A crash between writing a file and committing state.json leaves unreferenced files behind.
  writeFileSync(join(dir, 'journal-99999999.bin'), 'half written')
  writeFileSync(join(dir, 'state.json.tmp'), '{"half')
  writeFileSync(join(dir, 'base-99999998.bin.tmp'), 'x')
  assertCopyMatches(dir)
  await syncLocalCopy(opts(nodes[1]!, dir))
  assert.not.ok(existsSync(join(dir, 'journal-99999999.bin')))
  assert.not.ok(existsSync(join(dir, 'state.json.tmp')))
  assert.not.ok(existsSync(join(dir, 'base-99999998.bin.tmp')))
  // Compaction: one base file, no journals, the same set.
  await syncLocalCopy(opts(nodes[1]!, dir, { compactAfter: 0 }))
  const files = readdirSync(dir).sort()
  assert.equal(files.filter((f) => f.endsWith('.bin')).length, 1)
  assert.ok(files.some((f) => f.startsWith('base-')))
  assertCopyMatches(dir)
  // Damage is detected, not silently used.
  const baseFile = files.find((f) => f.startsWith('base-'))!
  const buf = readFileSync(join(dir, baseFile))
  buf[buf.length - 1]! ^= 1
  writeFileSync(join(dir, baseFile), buf)
  assert.throws(() => loadLocalSet(dir), (e: unknown) => (e as LedgerError).code === 'STORAGE_CORRUPT')
  assert.throws(() => loadLocalSet(join(scratch, 'nothing-here')), (e: unknown) => (e as LedgerError).code === 'NOT_FOUND')
})

function runCli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['--import', 'tsx', join(import.meta.dirname, '..', 'cli', 'main.ts'), ...args], { timeout: 60_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr })
    })
  })
}

test('the cairn sync command: syncs and reports; a bad token is a one-line error and exit 1', async () => {
  const dir = newDir()
  const b = nodes[1]!
  const ok = await runCli(['sync', '--node', b.url, '--token', providerToken.get(b)!, '--dir', dir, '--genesis', genesis, '--min-witnesses', '2'])
  assert.is(ok.code, 0, ok.stderr)
  assert.match(ok.stdout, /^synced /)
  assertCopyMatches(dir)
  const bad = await runCli(['sync', '--node', b.url, '--token', 'cairn_wrong', '--dir', newDir()])
  assert.is(bad.code, 1)
  assert.match(bad.stderr.trim(), /^error UNAUTHORIZED: /)
  assert.not.match(bad.stderr, /\n\s+at /)
})

test('lookups in a loaded copy (rate printed, not asserted)', () => {
  // Write a copy of 300,000 sha256 values in the documented file format.
  const dir = newDir()
  const n = 300_000
  const rec = 48 + 32
  const base = Buffer.alloc(8 + n * rec)
  base.write('CAIRNSB2', 0)
  const values: Buffer[] = []
  for (let i = 0; i < n; i++) {
    const off = 8 + i * rec
    base[off] = 1 // indicator
    randomBytes(32).copy(base, off + 1)
    base[off + 33] = 3 // sha256
    base[off + 34] = 1 // A1
    base[off + 35] = 0xff // no quality
    base.writeUInt16BE(0, off + 36) // origins[0]
    base.writeUInt32BE(i, off + 42) // seq (low word)
    base.writeUInt16BE(32, off + 46)
    const v = randomBytes(32)
    v.copy(base, off + 48)
    values.push(v)
  }
  mkdirSync(dir, { recursive: true })
  writeFileSync(join(dir, 'base-00000001.bin'), base)
  writeFileSync(join(dir, 'state.json'), JSON.stringify({
    format: STATE_FORMAT, trust: 'genesis', keys: {}, logs: {}, origins: ['test.cairn/bench'], generation: 1, journals: [],
    base: { file: 'base-00000001.bin', sha256: createHash('sha256').update(base).digest('hex'), records: n },
  }))
  let t = performance.now()
  const set = loadLocalSet(dir)
  const loadMs = performance.now() - t
  assert.is(set.size, n)
  const probes = 1_000_000
  let hits = 0
  t = performance.now()
  for (let i = 0; i < probes; i++) if (set.has('sha256', values[i % n]!)) hits++
  const s = (performance.now() - t) / 1000
  assert.is(hits, probes)
  const miss = randomBytes(32)
  let misses = 0
  t = performance.now()
  for (let i = 0; i < probes; i++) {
    miss[0] = i & 255
    miss[1] = (i >> 8) & 255
    if (!set.has('sha256', miss)) misses++
  }
  const sm = (performance.now() - t) / 1000
  assert.is(misses, probes)
  console.log(`    local copy of ${n} values: load ${loadMs.toFixed(0)} ms; ${(probes / s / 1e6).toFixed(1)}M hits/s, ${(probes / sm / 1e6).toFixed(1)}M misses/s`)
})

test.run()
