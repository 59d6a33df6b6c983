/**
 * SetLines (node/set-lines.ts): the jsonl snapshot kept as files. Checked
 * against the snapshot rendered from the store (scanSet + jsonlLine, the
 * route's other path) at several sizes, through revocations, attestations,
 * redactions before and after the lines were written, and restarts with the
 * files cut short, extended with garbage, or lost.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { mkdtempSync, rmSync, readFileSync, writeFileSync, statSync, truncateSync, appendFileSync, unlinkSync, readdirSync } from 'node:fs'
import pino from 'pino'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { sha256, utf8, toHex } from '../protocol/bytes.ts'
import { signEntry } from '../protocol/entry.ts'
import { leafHash } from '../protocol/hash.ts'
import { generateKeyPair } from '../protocol/ed25519.ts'
import { signRedaction, type RedactionNotice } from '../protocol/redaction.ts'
import type { CairnRecord } from '../protocol/records.ts'
import { MemoryKV } from '../node/storage/kv.ts'
import { Store } from '../node/storage/store.ts'
import { encodeCursor, type Sizes } from '../protocol/feed-cursor.ts'
import { SetLines } from '../node/provider/set-lines.ts'
import { jsonlLine, putJsonlLine } from '../node/provider/jsonl-line.ts'
import { LedgerError } from '../protocol/errors.ts'
import { referenceSnapshot } from './support/set-lines-reference.ts'

const A = 'a.cairn/one'
const B = 'b.cairn/two'
const key = generateKeyPair(sha256(utf8('set-lines-test')))

function indicator(origin: string, seq: number): CairnRecord {
  const algs = [['sha256', 32], ['md5', 16], ['photodna', 144], ['tmk_pdqf', 1 + (seq % 300)]] as const
  const [alg, len] = algs[seq % algs.length]!
  const value = new Uint8Array(len)
  for (let i = 0; i < len; i += 32) value.set(sha256(utf8(`${origin}-${seq}-${i}`)).subarray(0, Math.min(32, len - i)), i)
  return {
    v: 1, type: 'indicator', log: origin, seq, time: 1_000 + seq, alg, value, category: 'A1',
    kind: 'known_material', media: alg === 'tmk_pdqf' ? 'video' : 'image',
  } as CairnRecord
}

/** Appends records to `origin` one batch at a time; returns the ids. */
async function append(store: Store, origin: string, records: CairnRecord[]): Promise<Uint8Array[]> {
  const first = store.size(origin)
  const items = records.map((record) => {
    const entry = signEntry(key.seed, record)
    return { entry, id: leafHash(entry), record }
  })
  await store.append(origin, first, items)
  return items.map((i) => i.id)
}

const reference = referenceSnapshot

async function fromFiles(lines: SetLines, sizes: Sizes): Promise<string> {
  assert.ok(await lines.ready(sizes), 'the set lines hold these sizes')
  const parts: Buffer[] = []
  for await (const c of lines.stream(sizes, encodeCursor(sizes))) parts.push(c)
  return Buffer.concat(parts).toString('utf8')
}

/** Both logs with: indicators, a revocation of an earlier indicator, an attestation, a revocation of an unknown id. */
async function build(store: Store) {
  await store.registerLog(A)
  await store.registerLog(B)
  const ids: Uint8Array[] = []
  for (let batch = 0; batch < 6; batch++) {
    const recs = Array.from({ length: 700 }, (_, i) => indicator(A, store.size(A) + i))
    ids.push(...(await append(store, A, recs)))
  }
  let seq = store.size(A)
  await append(store, A, [
    { v: 1, type: 'revocation', log: A, seq: seq++, time: 5_000, target: ids[3]!, reason: 'false_positive' } as CairnRecord,
    { v: 1, type: 'attestation', log: A, seq: seq++, time: 5_001, target: ids[4]!, opinion: 'dispute' } as CairnRecord,
    { v: 1, type: 'revocation', log: A, seq: seq++, time: 5_002, target: sha256(utf8('nobody')), reason: 'false_positive' } as CairnRecord,
    indicator(A, seq++),
    { v: 1, type: 'revocation', log: A, seq: seq++, time: 5_003, target: ids[2000]!, reason: 'duplicate' } as CairnRecord,
  ])
  await append(store, B, Array.from({ length: 50 }, (_, i) => indicator(B, i)))
  return ids
}

/** Runs `fn` with a fresh store and an empty folder for the files; removes the folder after. */
async function withStore(fn: (store: Store, dir: string) => Promise<void>): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'cairn-setlines-'))
  try {
    await fn(await Store.open(new MemoryKV()), dir)
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

/** build() with the files kept while it is stored, then closed; the ids of log A's indicators. */
async function builtWithFiles(store: Store, dir: string): Promise<Uint8Array[]> {
  const lines = await SetLines.open(dir, store)
  const ids = await build(store)
  await lines.caughtUp()
  await lines.close()
  return ids
}

function redact(store: Store, index: number, id: Uint8Array) {
  const notice: RedactionNotice = { v: 1, log: A, index, id, reason: 'legal_order', time: 9 }
  return store.applyRedaction(A, signRedaction(key.seed, notice), notice)
}

test('the files give, byte for byte, the snapshot rendered from the store, at every size asked', async () => {
  await withStore(async (store, dir) => {
    const lines = await SetLines.open(dir, store)
    const ids = await build(store)
    await lines.caughtUp()
    const sizeA = store.size(A)
    for (const sizes of [
      new Map([[A, sizeA], [B, 50]]),
      new Map([[A, sizeA - 1], [B, 50]]), // the last revocation not yet in: its target is in
      new Map([[A, 4200], [B, 0]]),       // before every revocation
      new Map([[A, 1], [B, 7]]),
      new Map([[A, 0]]),
    ]) assert.fixture(await fromFiles(lines, sizes as Sizes), await reference(store, sizes as Sizes))
    const full = await fromFiles(lines, new Map([[A, sizeA], [B, 50]]))
    assert.not.ok(full.includes(toHex(ids[3]!)), 'a revoked indicator is not in the snapshot')
    assert.ok(full.includes(toHex(ids[4]!)), 'a disputed indicator is')
    assert.is(JSON.parse(full.trimEnd().split('\n').pop()!).count, 4200 + 1 + 50 - 2)

    // A redaction after the line was written: the value leaves the file at once, and the snapshot drops it.
    const value = toHex((indicator(A, 10) as { value: Uint8Array }).value)
    assert.ok(readFileSync(join(dir, `${store.logNumber(A)}.jsonl`), 'utf8').includes(value))
    assert.is(await redact(store, 10, ids[10]!), 'applied')
    await lines.caughtUp()
    assert.not.ok(readFileSync(join(dir, `${store.logNumber(A)}.jsonl`), 'utf8').includes(value), 'the redacted value is gone from the file')
    const sizes = new Map([[A, sizeA], [B, 50]]) as Sizes
    assert.fixture(await fromFiles(lines, sizes), await reference(store, sizes))
    await lines.close()
  })
})

test('restart: files cut short, extended with garbage, or lost are cut back to their durable state and caught up from the store', async () => {
  await withStore(async (store, dir) => {
    let lines = await SetLines.open(dir, store)
    await build(store)
    await lines.caughtUp()
    await lines.close()
    const sizes = new Map([[A, store.size(A)], [B, 50]]) as Sizes
    const want = await reference(store, sizes)
    const file = join(dir, `${store.logNumber(A)}.jsonl`)

    // Lines written after the last durable state (a crash before the flush): garbage past it is cut off.
    appendFileSync(file, '{"alg":"sha256","value":"00"}\nhalf a li')
    lines = await SetLines.open(dir, store)
    await lines.caughtUp()
    assert.fixture(await fromFiles(lines, sizes), want)
    assert.is(lines.linesWritten, 0, 'nothing needed rendering again')
    await lines.close()

    // A file shorter than its state (a lost tail): rebuilt from the store.
    truncateSync(file, statSync(file).size - 1000)
    lines = await SetLines.open(dir, store)
    await lines.caughtUp()
    assert.fixture(await fromFiles(lines, sizes), want)
    assert.is(lines.linesWritten, store.size(A))
    // New entries while open are written after the caught-up ones.
    await append(store, B, [indicator(B, 50)])
    await lines.caughtUp()
    const more = new Map([[A, store.size(A)], [B, 51]]) as Sizes
    assert.fixture(await fromFiles(lines, more), await reference(store, more))
    await lines.close()

    // state.json lost: every log is rebuilt.
    unlinkSync(join(dir, 'state.json'))
    lines = await SetLines.open(dir, store)
    await lines.caughtUp()
    assert.fixture(await fromFiles(lines, more), await reference(store, more))
    assert.is(lines.linesWritten, store.size(A) + store.size(B))
    await lines.close()
    assert.ok(readdirSync(dir).includes('state.json'))
  })
})

test('a redaction applied while the files were not kept is blanked when they are opened; lines of redacted entries are empty', async () => {
  await withStore(async (store, dir) => {
    const ids = await builtWithFiles(store, dir)
    let lines: SetLines
    // Redacted with nobody keeping the files (as in a crash between the store's commit and the blanking).
    assert.is(await redact(store, 20, ids[20]!), 'applied')
    const file = join(dir, `${store.logNumber(A)}.jsonl`)
    const value = toHex((indicator(A, 20) as { value: Uint8Array }).value)
    assert.ok(readFileSync(file, 'utf8').includes(value))
    lines = await SetLines.open(dir, store)
    await lines.caughtUp()
    assert.not.ok(readFileSync(file, 'utf8').includes(value))
    const sizes = new Map([[A, store.size(A)], [B, 50]]) as Sizes
    assert.fixture(await fromFiles(lines, sizes), await reference(store, sizes))
    await lines.close()
    // Rebuilt from scratch, the redacted entry (now a marker in the store) is an empty line.
    rmSync(dir, { recursive: true, force: true })
    lines = await SetLines.open(dir, store)
    await lines.caughtUp()
    assert.not.ok(readFileSync(file, 'utf8').includes(value))
    assert.fixture(await fromFiles(lines, sizes), await reference(store, sizes))
    await lines.close()
  })
})

test('a redaction the files missed is never served: by the check of every line when the store\'s redactions differ from those recorded, and when they match', async () => {
  await withStore(async (store, dir) => {
    const ids = await builtWithFiles(store, dir)
    let lines: SetLines
    const statePath = join(dir, 'state.json')
    const file = join(dir, `${store.logNumber(A)}.jsonl`)
    const sizes = new Map([[A, store.size(A)], [B, 50]]) as Sizes
    const served = async (l: SetLines) => {
      const parts: Buffer[] = []
      for await (const c of l.stream(sizes, encodeCursor(sizes))) parts.push(c)
      return Buffer.concat(parts).toString('utf8')
    }
    for (const [index, recorded] of [[30, false], [31, true]] as const) {
      assert.is(await redact(store, index, ids[index]!), 'applied')
      const value = toHex((indicator(A, index) as { value: Uint8Array }).value)
      assert.ok(readFileSync(file, 'utf8').includes(value))
      // recorded: as if the sums had been recorded after the store's commit but before the line was blanked.
      if (recorded) {
        const st = JSON.parse(readFileSync(statePath, 'utf8')) as { redactions: string }
        st.redactions = toHex(await store.redactionDigest())
        writeFileSync(statePath, JSON.stringify(st))
      }
      const logged: string[] = []
      lines = await SetLines.open(dir, store, pino({ level: 'info' }, { write: (m: string) => void logged.push(String((JSON.parse(m) as { msg: string }).msg)) }))
      assert.not.ok((await served(lines)).includes(value), `${index}: not served at once`)
      await lines.caughtUp()
      assert.not.ok((await served(lines)).includes(value), `${index}: not served once checked`)
      assert.is(logged.some((m) => m.includes('the store\'s redactions are not the ones recorded with the sums')), !recorded, `${index}: ${logged.join(' | ')}`)
      await lines.close()
      assert.not.ok(readFileSync(file, 'utf8').includes(value), `${index}: blanked in the file`)
      assert.fixture(await served(lines = await SetLines.open(dir, store)), await reference(store, sizes))
      await lines.caughtUp()
      await lines.close()
    }
  })
})

test('putJsonlLine writes the JSON of the line\'s fields in their order, at every digit count, and refuses a line that is not ASCII', () => {
  for (const index of [0, 9, 10, 99, 100, 1023, 1024, 999_999, 1_000_000, 2 ** 40, Number.MAX_SAFE_INTEGER]) {
    const r = { ...indicator(A, index % 1000), time: index } as CairnRecord & { time: number } & { alg: string; value: Uint8Array; category: string; kind: string; media: string }
    const id = sha256(utf8(`id-${index}`))
    const line = JSON.stringify({ alg: r.alg, value: toHex(r.value), category: r.category, kind: r.kind, media: r.media, id: toHex(id), log: B, seq: index, time: index }) + '\n'
    assert.is(jsonlLine(B, index, id, r as never), line)
    const buf = new Uint8Array(line.length + 8).fill(0xee)
    const end = putJsonlLine(buf, 3, B, index, id, r as never)
    assert.is(end, 3 + line.length)
    assert.is(Buffer.from(buf.subarray(3, end)).toString('latin1'), line)
    assert.is(buf[2], 0xee)
    assert.is(buf[end], 0xee)
  }
  const r = indicator(A, 1) as never
  try {
    putJsonlLine(new Uint8Array(1000), 0, 'a.cairn/\u00e9', 1, new Uint8Array(32), r)
    assert.unreachable('a non-ASCII origin was written')
  } catch (e) {
    assert.ok(e instanceof LedgerError && e.code === 'STORAGE_CORRUPT', String(e))
  }
})

test('ready() is false for sizes the files do not hold', async () => {
  await withStore(async (store, dir) => {
    const lines = await SetLines.open(dir, store)
    await build(store)
    await lines.caughtUp()
    assert.not.ok(await lines.ready(new Map([[A, store.size(A) + 1]]), 10))
    assert.ok(await lines.ready(new Map([[A, store.size(A)]]), 10))
    await lines.close()
  })
})

test.run()
