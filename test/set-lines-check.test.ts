/**
 * No wrong value from the snapshot's line files (node/provider/set-lines.ts,
 * set-lines-check.ts, set-lines-sums.ts): a hex digit edited, a file cut
 * short, a state.json broken while the node was stopped, or a block changed
 * under a running node — each is found, logged as one JSON line naming the
 * log, the line and what differed, counted, and the log's files are rebuilt
 * from the store; every snapshot meanwhile is the store's, byte for byte.
 * First on a SetLines over a memory store, then end to end on a node process
 * (node.log, /metrics, GET /feed/snapshot).
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { mkdtempSync, rmSync, readFileSync, writeFileSync, truncateSync, statSync, readdirSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import pino from 'pino'
import { sha256, utf8, toHex } from '../protocol/bytes.ts'
import { signEntry } from '../protocol/entry.ts'
import { leafHash } from '../protocol/hash.ts'
import { generateKeyPair } from '../protocol/ed25519.ts'
import type { CairnRecord } from '../protocol/records.ts'
import { MemoryKV } from '../node/storage/kv.ts'
import { Store } from '../node/storage/store.ts'
import { publishedSizes } from '../node/provider/feed.ts'
import { encodeCursor, type Sizes } from '../protocol/feed-cursor.ts'
import { SetLines } from '../node/provider/set-lines.ts'
import { startNode } from '../node/node.ts'
import { planFederation } from '../testnet/federation.ts'
import { spawnNode, stopNode } from '../testnet/processes.ts'
import type { Logger } from '../node/logger.ts'
import { referenceSnapshot } from './support/set-lines-reference.ts'
import { encodeCanonical, type CborValue } from '../protocol/cbor.ts'
import { encodeEntry } from '../protocol/entry.ts'
import { readStoredRecord } from '../protocol/stored-record.ts'
import { putJsonlLine, lineLength } from '../node/provider/jsonl-line.ts'
import { checkChunk, readChunk } from '../node/provider/set-lines-check.ts'

const A = 'a.cairn/one'
const key = generateKeyPair(sha256(utf8('set-lines-check-test')))

function indicator(seq: number): CairnRecord {
  return {
    v: 1, type: 'indicator', log: A, seq, time: 1_000 + seq, alg: 'sha256', value: sha256(utf8(`check-${seq}`)), category: 'A1',
    kind: 'known_material', media: 'image',
  } as CairnRecord
}

async function append(store: Store, records: CairnRecord[]): Promise<Uint8Array[]> {
  const items = records.map((record) => {
    const entry = signEntry(key.seed, record)
    return { entry, id: leafHash(entry), record }
  })
  await store.append(A, store.size(A), items)
  return items.map((i) => i.id)
}

/** 3000 indicators (three blocks of 1024 lines), a revocation (of line `revoked`), an attestation. */
async function build(store: Store, revoked = 7): Promise<void> {
  await store.registerLog(A)
  const ids: Uint8Array[] = []
  for (let b = 0; b < 3; b++) ids.push(...(await append(store, Array.from({ length: 1000 }, (_, i) => indicator(store.size(A) + i)))))
  const seq = store.size(A)
  await append(store, [
    { v: 1, type: 'revocation', log: A, seq, time: 5_000, target: ids[revoked]!, reason: 'false_positive' } as CairnRecord,
    { v: 1, type: 'attestation', log: A, seq: seq + 1, time: 5_001, target: ids[8]!, opinion: 'dispute' } as CairnRecord,
  ])
}

const reference = referenceSnapshot

async function streamed(lines: SetLines, sizes: Sizes): Promise<string> {
  const parts: Buffer[] = []
  for await (const c of lines.stream(sizes, encodeCursor(sizes))) parts.push(c)
  return Buffer.concat(parts).toString('utf8')
}

/** A logger whose JSON lines land in `into`. */
function capture(into: Record<string, unknown>[]): Logger {
  return pino({ level: 'info' }, { write: (s: string) => void into.push(JSON.parse(s) as Record<string, unknown>) })
}

/** Changes one hex digit of the value on line `index` of a jsonl file (0 ↔ 1 etc.). */
function editHexDigit(file: string, index: number): void {
  const b = readFileSync(file)
  let p = 0
  for (let i = 0; i < index; i++) p = b.indexOf(10, p) + 1
  const at = b.indexOf('"value":"', p) + '"value":"'.length + 5
  b[at] = b[at] === 0x30 ? 0x31 : 0x30
  writeFileSync(file, b)
}

async function withStore(fn: (store: Store, dir: string, file: string) => Promise<void>): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'cairn-setlines-check-'))
  try {
    const store = await Store.open(new MemoryKV())
    await build(store)
    const lines = await SetLines.open(dir, store)
    await lines.caughtUp()
    await lines.close()
    await fn(store, dir, join(dir, `${store.logNumber(A)}.jsonl`))
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

const mismatches = (logged: Record<string, unknown>[]) => logged.filter((l) => l.event === 'set_lines_mismatch')

test('start: an edited hex digit is found, logged with log, line and field, counted; the log is served from the store, then rebuilt', async () => {
  await withStore(async (store, dir, file) => {
    const good = readFileSync(file)
    const sizes = new Map([[A, store.size(A)]]) as Sizes
    const want = await reference(store, sizes)
    editHexDigit(file, 1500)
    const logged: Record<string, unknown>[] = []
    const lines = await SetLines.open(dir, store, capture(logged))
    assert.not.ok(await lines.ready(sizes, 10), 'not read from the files before they are checked')
    assert.is(await streamed(lines, sizes), want, 'a log not checked yet is rendered from the store')
    await lines.caughtUp()
    const m = mismatches(logged)
    assert.is(m.length, 1)
    assert.equal({ log: m[0]!.log, index: m[0]!.index, stage: m[0]!.stage }, { log: A, index: 1500, stage: 'start' })
    assert.match(String(m[0]!.what), /field "value"/)
    assert.not.match(JSON.stringify(m[0]), new RegExp(toHex(sha256(utf8('check-1500'))).slice(0, 16)), 'the log names no value')
    assert.equal(lines.stats(), { mismatches: [{ log: A, stage: 'start', count: 1 }], unchecked: 0 })
    assert.ok(readFileSync(file).equals(good), 'the file is rebuilt from the store')
    assert.ok(await lines.ready(sizes, 10))
    assert.is(await streamed(lines, sizes), want)
    await lines.close()
  })
})

test('start: a file cut short, a lost mark or revocation pair, a broken state.json: found, counted, rebuilt', async () => {
  await withStore(async (store, dir, file) => {
    const sizes = new Map([[A, store.size(A)]]) as Sizes
    const want = await reference(store, sizes)
    const good = readFileSync(file)
    const n = store.logNumber(A)
    const state = readFileSync(join(dir, 'state.json'), 'utf8')
    const cases: [string, () => void, RegExp][] = [
      ['cut short', () => truncateSync(file, statSync(file).size - 500), /ends before this line/],
      ['a mark lost', () => truncateSync(join(dir, `${n}.marks`), 8), /no mark/],
      ['a revocation pair lost', () => truncateSync(join(dir, `${n}.removed`), 0), /not in \d+\.removed/],
      ['state.json not JSON', () => writeFileSync(join(dir, 'state.json'), '{"format":"cairn-set'), /not valid JSON/],
      ['state.json of another format', () => writeFileSync(join(dir, 'state.json'), state.replace('cairn-set-lines/2', 'cairn-set-lines/9')), /not of format cairn-set-lines\/2/],
      ['state.json numbers no node writes', () => writeFileSync(join(dir, 'state.json'), state.replace(/"marks":\d+/, '"marks":1')), /which no node writes/],
      ['state.json with more bytes than the lines hold', () => writeFileSync(join(dir, 'state.json'), state.replace(/"bytes":(\d+)/, (_, b) => `"bytes":${Number(b) + 3}`)), /state\.json says the lines end at byte/],
    ]
    for (const [what, breakIt, expected] of cases) {
      breakIt()
      const logged: Record<string, unknown>[] = []
      const lines = await SetLines.open(dir, store, capture(logged))
      assert.is(await streamed(lines, sizes), want, what)
      await lines.caughtUp()
      const m = mismatches(logged)
      assert.is(m.length, 1, `${what}: ${JSON.stringify(logged)}`)
      assert.is(m[0]!.log, A, what)
      assert.type(m[0]!.index, 'number')
      assert.match(String(m[0]!.what), expected, what)
      assert.is(lines.stats().mismatches[0]!.count, 1, what)
      await lines.close()
      assert.ok(readFileSync(file).equals(good), `${what}: rebuilt`)
      writeFileSync(join(dir, 'state.json'), state) // the rebuilt files wrote the same state
    }
    // And untouched files are checked, not rewritten.
    const logged: Record<string, unknown>[] = []
    const lines = await SetLines.open(dir, store, capture(logged))
    await lines.caughtUp()
    assert.is(lines.linesWritten, 0)
    assert.is(mismatches(logged).length, 0)
    assert.ok(await lines.ready(sizes, 10))
    await lines.close()
  })
})

test('start by recorded sums: untouched files are read once, not checked line by line; another store, a changed pair or no sums: every line is', async () => {
  await withStore(async (store, dir, file) => {
    const sizes = new Map([[A, store.size(A)]]) as Sizes
    const want = await reference(store, sizes)
    const statePath = join(dir, 'state.json')
    const state = readFileSync(statePath, 'utf8')
    const saved = (JSON.parse(state) as { logs: Record<string, Record<string, unknown>> }).logs[String(store.logNumber(A))]!
    assert.equal(Object.keys(saved).sort(), ['bytes', 'lines', 'marks', 'marksSum', 'origin', 'removed', 'removedSum', 'root', 'sums'])
    const open = async (s: Store) => {
      const logged: Record<string, unknown>[] = []
      const lines = await SetLines.open(dir, s, capture(logged))
      await lines.caughtUp()
      const how = logged.map((l) => String(l.msg)).filter((m) => m.startsWith('set-lines:'))
      return { lines, logged, how }
    }
    let { lines, logged, how } = await open(store)
    assert.equal(how, ['set-lines: the files match the sums recorded with the store\'s root; snapshots are read from them'])
    assert.ok(await lines.ready(sizes, 10))
    assert.is(await streamed(lines, sizes), want)
    await lines.close()
    assert.equal(JSON.parse(readFileSync(statePath, 'utf8')), JSON.parse(state), 'the same sums recorded again')

    // Another store of the log whose lines are byte for byte the same, but which revokes line 8, not 7: only its root tells.
    const other = await Store.open(new MemoryKV())
    await build(other, 8)
    ;({ lines, logged, how } = await open(other))
    assert.match(how[0]!, /checking every line of \d+\.jsonl against the store \(the store's root at 3002 entries is not the one recorded\)/)
    assert.match(String(mismatches(logged)[0]?.what), /its revocation of line 8 is not in \d+\.removed/)
    assert.is(await streamed(lines, sizes), await reference(other, sizes), 'rebuilt from the store it is opened with')
    await lines.close()
    writeFileSync(statePath, state)
    const good = readFileSync(file)

    // A revocation pair changed in place (its line number): the file's sum differs.
    const removedPath = join(dir, `${store.logNumber(A)}.removed`)
    const removed = readFileSync(removedPath)
    removed[0] = removed[0]! ^ 1
    writeFileSync(removedPath, removed)
    ;({ lines, logged, how } = await open(store))
    assert.match(how[0]!, /\.removed does not match its recorded sum/)
    assert.is(mismatches(logged).length, 1)
    assert.is(await streamed(lines, sizes), want)
    await lines.close()
    assert.ok(readFileSync(file).equals(good))

    // A state.json from before sums were recorded: every line checked, nothing rewritten, the sums recorded.
    const { root: _r, sums: _s, marksSum: _m, removedSum: _rs, ...bare } = saved
    writeFileSync(statePath, JSON.stringify({ format: 'cairn-set-lines/2', logs: { [String(store.logNumber(A))]: bare } }))
    ;({ lines, logged, how } = await open(store))
    assert.match(how[0]!, /\(no sums were recorded\)/)
    assert.is(how[1], 'set-lines: the files match the store; snapshots are read from them')
    assert.is(lines.linesWritten, 0)
    await lines.close()
    assert.equal(JSON.parse(readFileSync(statePath, 'utf8')), JSON.parse(state), 'the sums taken by that check are recorded')
  })
})

test('serve: a block changed under a running node is found before it is sent; the snapshot goes on from the store; the log is rebuilt', async () => {
  await withStore(async (store, dir, file) => {
    const sizes = new Map([[A, store.size(A)]]) as Sizes
    const want = await reference(store, sizes)
    const good = readFileSync(file)
    const logged: Record<string, unknown>[] = []
    const lines = await SetLines.open(dir, store, capture(logged))
    await lines.caughtUp()
    assert.ok(await lines.ready(sizes, 10))
    assert.is(await streamed(lines, sizes), want)
    editHexDigit(file, 2100) // block 2
    assert.is(await streamed(lines, sizes), want, 'no wrong value')
    const m = mismatches(logged)
    assert.is(m.length, 1)
    assert.equal({ log: m[0]!.log, index: m[0]!.index, stage: m[0]!.stage }, { log: A, index: 2048, stage: 'serve' })
    assert.equal(lines.stats().mismatches, [{ log: A, stage: 'serve', count: 1 }])
    await lines.caughtUp()
    assert.ok(readFileSync(file).equals(good), 'rebuilt from the store')
    assert.ok(await lines.ready(sizes, 10))
    assert.is(await streamed(lines, sizes), want)
    // Lines written while open stay guarded; a redaction re-sums its block.
    await append(store, Array.from({ length: 100 }, (_, i) => indicator(store.size(A) + i)))
    await lines.caughtUp()
    const more = new Map([[A, store.size(A)]]) as Sizes
    assert.is(await streamed(lines, more), await reference(store, more))
    assert.is(mismatches(logged).length, 1)
    await lines.close()
  })
})

test('the check reads entries in place exactly as readStoredRecord and putJsonlLine do: every kind of record, odd ones left to them', () => {
  const rec = (fields: Record<string, CborValue>) => encodeEntry(encodeCanonical(new Map(Object.entries(fields))), new Uint8Array(64).fill(7))
  const base = { v: 1, type: 'indicator', log: A, time: 1_700_000_000, alg: 'sha256', category: 'A1', kind: 'known_material', media: 'image' }
  const entries: Uint8Array[] = []
  for (let i = 0; i < 40; i++) {
    const value = sha256(utf8(`fast-${i}`)).subarray(0, 16 + (i % 17))
    const extra: Record<string, CborValue> = {}
    if (i % 2) extra.quality = i * 7919
    if (i % 3 === 0) extra.ref = `case-${i}`
    if (i % 5 === 0) extra.expires = 2 ** 40 + i
    if (i % 7 === 0) extra.note = 'an unknown key is skipped'
    if (i === 11) extra.nested = [1, 2, new Map([['x', 1]])] // left to readStoredRecord
    if (i === 13) extra.ref = 'caf\u00e9' // text beyond ASCII: putJsonlLine refuses it, and so must the check
    entries.push(rec({ ...base, seq: i, value, ...extra }))
  }
  entries.push(rec({ v: 1, type: 'revocation', log: A, seq: 40, time: 5, target: sha256(utf8('t')), reason: 'false_positive' }))
  entries.push(rec({ v: 1, type: 'revocation', log: A, seq: 41, time: 5, target: sha256(utf8('u')), reason: 'r\u00e9vocation' }))
  entries.push(rec({ v: 1, type: 'attestation', log: A, seq: 42, time: 6, target: sha256(utf8('t')), opinion: 'dispute' }))
  const ids = entries.map((e) => leafHash(e))
  // The file as putJsonlLine writes it (an entry it refuses is left out of the run that checks the rest).
  const lineOf = (e: Uint8Array, i: number): Buffer | Error => {
    try {
      const r = readStoredRecord(e)
      if (r.type !== 'indicator') return Buffer.from('\n')
      const b = Buffer.alloc(lineLength(A, i, ids[i]!, r))
      putJsonlLine(b, 0, A, i, ids[i]!, r)
      return b
    } catch (err) {
      return err as Error
    }
  }
  const lines = entries.map(lineOf)
  assert.ok(lines[13] instanceof Error, 'a line beyond ASCII is refused')
  const good = [...Array(entries.length).keys()].filter((i) => !(lines[i] instanceof Error))
  const chunk = readChunk(good.map((i) => entries[i]!), good.map((i) => ids[i]!))
  assert.equal(chunk.revocations.map((r) => toHex(r.target)), [toHex(sha256(utf8('t'))), toHex(sha256(utf8('u')))])
  assert.ok(chunk.slow.size >= 2, 'the nested value and the non-ASCII reason go to readStoredRecord')
  // Checked one entry at a time (so that each line's index is its entry's).
  for (const i of good) {
    const one = readChunk([entries[i]!], [ids[i]!])
    const file = lines[i] as Buffer
    const marks = i === 0 ? [0] : [] // line 0 starts block 0
    const c = checkChunk(A, i, one, file, 0, marks, new Set())
    assert.is(c.mismatch, undefined, `entry ${i}: ${JSON.stringify(c.mismatch)}`)
    assert.is(c.end, file.length)
    // Any byte of the line changed is found.
    for (let b = 0; b < file.length - 1; b += 5) {
      const bad = Buffer.from(file)
      bad[b] = bad[b] === 0x30 ? 0x31 : 0x30
      const m = checkChunk(A, i, one, bad, 0, marks, new Set()).mismatch
      assert.ok(m && m.index === i, `entry ${i}, byte ${b}: a changed byte is found`)
    }
  }
  assert.throws(() => checkChunk(A, 13, readChunk([entries[13]!], [ids[13]!]), Buffer.from('{}\n'), 0, [], new Set()), /ASCII/)
})

// ------------------------------------------------------------- a node process

async function text(url: string, path: string, token: string): Promise<{ status: number; body: string }> {
  const r = await fetch(url + path, { headers: { authorization: `Bearer ${token}` } })
  return { status: r.status, body: await r.text() }
}

test('a node started on edited, cut or unreadable set-lines files serves the store\'s values, logs and counts the mismatch, rebuilds the files', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'cairn-setlines-node-'))
  try {
    const { nodes } = await planFederation({ dir, names: ['solo'], threshold: 1 })
    const nodeDir = nodes[0]!.dir
    // Publish 2500 indicators and revoke one, in process; keep the snapshot and the files.
    const node = await startNode({ dir: nodeDir, alone: true, logLevel: 'silent' })
    const published = await Promise.all(Array.from({ length: 2500 }, (_, i) => node.publisher.submit({
      type: 'indicator', alg: 'sha256', value: sha256(utf8(`node-check-${i}`)), category: 'A1', kind: 'known_material', media: 'image',
    })))
    await node.publisher.submit({ type: 'revocation', target: Uint8Array.from(Buffer.from(published[3]!.id, 'hex')), reason: 'false_positive' })
    const origin = node.origin
    for (let i = 0; i < 200 && node.store.listLogs().find((l) => l.origin === origin)!.checkpointSize < node.store.size(origin); i++) await new Promise((r) => setTimeout(r, 50))
    await node.setLines.caughtUp()
    await node.setLines.flush()
    const sizes = publishedSizes(node.store)
    const want = await reference(node.store, sizes)
    const provider = (await node.tokens.grant('provider', 'set-lines check')).token
    const file = join(nodeDir, 'set-lines', `${node.store.logNumber(origin)}.jsonl`)
    await node.stop()
    const good = readFileSync(file)
    const state = readFileSync(join(nodeDir, 'set-lines', 'state.json'), 'utf8')
    assert.ok(readdirSync(join(nodeDir, 'set-lines')).includes('state.json'))

    const cases: [string, () => void, RegExp][] = [
      ['a hex digit edited', () => editHexDigit(file, 1800), /field "value"/],
      ['the file cut short', () => truncateSync(file, statSync(file).size - 700), /ends before this line/],
      ['state.json broken', () => writeFileSync(join(nodeDir, 'set-lines', 'state.json'), '{"format":'), /not valid JSON/],
    ]
    for (const [what, breakIt, expected] of cases) {
      breakIt()
      writeFileSync(join(nodeDir, 'node.log'), '')
      const p = await spawnNode(nodeDir, { env: { CAIRN_LOG_LEVEL: 'info' } })
      try {
        // At once (the files may not be checked yet) and once they are: the store's snapshot either way.
        const first = await text(p.url, '/feed/snapshot', provider)
        assert.is(first.status, 200, what)
        assert.is(first.body, want, `${what}: the first snapshot`)
        for (let i = 0; i < 300; i++) {
          const st = JSON.parse((await text(p.url, '/status', p.operatorToken)).body) as { setLines: { unchecked: number } }
          if (st.setLines.unchecked === 0) break
          await new Promise((r) => setTimeout(r, 100))
        }
        assert.is((await text(p.url, '/feed/snapshot', provider)).body, want, `${what}: after the check`)
        const metrics = (await text(p.url, '/metrics', p.operatorToken)).body
        assert.match(metrics, new RegExp(`cairn_set_lines_mismatches_total\\{log="${origin.replace('.', '\\.')}",stage="start"\\} 1`), what)
      } finally {
        await stopNode(p)
      }
      const logged = readFileSync(join(nodeDir, 'node.log'), 'utf8').split('\n').filter((l) => l.trim() !== '').map((l) => JSON.parse(l) as Record<string, unknown>)
      const m = mismatches(logged)
      assert.is(m.length, 1, `${what}: ${JSON.stringify(m)}`)
      assert.is(m[0]!.log, origin, what)
      assert.type(m[0]!.index, 'number')
      assert.match(String(m[0]!.what), expected, what)
      assert.ok(readFileSync(file).equals(good), `${what}: the file is rebuilt`)
      writeFileSync(join(nodeDir, 'set-lines', 'state.json'), state)
    }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})

test.run()
