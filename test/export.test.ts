/**
 * `cairn export`: the verified current set of a local copy as jsonl, csv,
 * txt and hma lines, checked line by line against what was written to the
 * copy (revoked records absent, opinions shown, PDQ deduplicated for hma).
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { mkdtempSync, mkdirSync, readFileSync, rmSync, existsSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { execFile } from 'node:child_process'
import { emptyState, originIndex, Journal, commit, openLocalCopy } from '../client/local-copy.ts'
import { exportLines, CSV_HEADER } from '../client/copy-export.ts'
import { sha256, utf8 } from '../protocol/bytes.ts'

const scratch = mkdtempSync(join(tmpdir(), 'cairn-export-test-'))
const dir = join(scratch, 'copy')
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex')
const v = (tag: string, n: number) => sha256(utf8(tag)).slice(0, n)

const id = (i: number) => sha256(utf8(`record ${i}`))
const A = 'demo.cairn/eu-centre'
const B = 'demo.cairn/ncmec'
const C = 'demo.cairn/c3p'
/** What the copy holds after the journal below, in file order. */
/** (opinions list origins sorted: c3p before ncmec) */
const expected = [
  { id: hex(id(1)), log: A, seq: 0, alg: 'sha256', value: hex(v('one', 32)), category: 'A1', confirmations: [C, B], disputes: [] as string[] },
  { id: hex(id(2)), log: A, seq: 1, alg: 'pdq', value: hex(v('pdq', 32)), category: 'B1', quality: 87, confirmations: [], disputes: [C] },
  { id: hex(id(4)), log: B, seq: 5, alg: 'md5', value: hex(v('md5', 16)), category: 'A2', confirmations: [], disputes: [] },
  { id: hex(id(5)), log: B, seq: 6, alg: 'pdq', value: hex(v('pdq', 32)), category: 'A1', quality: 60, confirmations: [], disputes: [] },
]

test.before(() => {
  const state = emptyState()
  const j = new Journal()
  const a = originIndex(state, A)
  const b = originIndex(state, B)
  const c = originIndex(state, C)
  j.add(id(1), 'sha256', 'A1', v('one', 32), a, 0)
  j.add(id(2), 'pdq', 'B1', v('pdq', 32), a, 1, 87)
  j.add(id(3), 'sha1', 'B2', v('three', 20), a, 2)
  j.attest(id(10), id(1), 'confirm', b, 0)
  j.attest(id(11), id(1), 'confirm', c, 0)
  j.attest(id(12), id(2), 'dispute', c, 1)
  j.add(id(4), 'md5', 'A2', v('md5', 16), b, 5)
  j.add(id(5), 'pdq', 'A1', v('pdq', 32), b, 6, 60) // a second record of the same PDQ value
  j.remove(id(3))
  mkdirSync(dir)
  commit(dir, state, j)
})

test.after(() => rmSync(scratch, { recursive: true, force: true }))

test('jsonl: one object per live record with its log, seq, quality and opinions', () => {
  const lines = [...exportLines(openLocalCopy(dir), 'jsonl')]
  assert.equal(lines.map((l) => JSON.parse(l)), expected)
  assert.ok(lines.every((l) => l.endsWith('}\n')))
})

test('csv: header, then one row per live record; origin lists space-separated, quality empty unless PDQ', () => {
  const lines = [...exportLines(openLocalCopy(dir), 'csv')]
  assert.equal(lines, [
    CSV_HEADER + '\n',
    ...expected.map((e) => [e.id, e.log, e.seq, e.alg, e.value, e.category, e.quality ?? '', e.confirmations.join(' '), e.disputes.join(' ')].join(',') + '\n'),
  ])
  assert.is(CSV_HEADER, 'id,log,seq,alg,value,category,quality,confirmations,disputes')
})

test('txt: "<alg> <hex>" per record, as the node snapshot; hma: "pdq <hex>" per distinct PDQ value', () => {
  const copy = openLocalCopy(dir)
  assert.equal([...exportLines(copy, 'txt')], expected.map((e) => `${e.alg} ${e.value}\n`))
  assert.equal([...exportLines(copy, 'hma')], [`pdq ${hex(v('pdq', 32))}\n`])
})

function cairn(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['--import', 'tsx', join(import.meta.dirname, '..', 'cli', 'main.ts'), ...args], { timeout: 60_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr })
    })
  })
}

test('the cairn export command: stdout or --out (replaced when complete); a bad format or copy exits 2', async () => {
  const out = join(scratch, 'set.csv')
  const r = await cairn(['export', '--copy', dir, '--format', 'csv', '--out', out])
  assert.is(r.code, 0, r.stderr)
  assert.equal(readFileSync(out, 'utf8'), [...exportLines(openLocalCopy(dir), 'csv')].join(''))
  assert.not.ok(existsSync(out + '.tmp'))
  // The closing line counts the lines written, not the records: hma folds the two PDQ records into one line.
  const hmaOut = await cairn(['export', '--copy', dir, '--format', 'hma', '--out', join(scratch, 'pdq.txt')])
  assert.is(hmaOut.code, 0, hmaOut.stderr)
  assert.match(hmaOut.stderr, /^wrote 1 hma line to .*pdq\.txt \(4 records in the copy; hma has one line per distinct PDQ value\)\n$/)
  assert.match(r.stderr, /^wrote 5 csv lines to /)
  const hma = await cairn(['export', '--copy', dir, '--format', 'hma'])
  assert.equal([hma.code, hma.stdout], [0, `pdq ${hex(v('pdq', 32))}\n`])
  assert.is((await cairn(['export', '--copy', dir, '--format', 'xml'])).code, 2)
  assert.is((await cairn(['export', '--copy', join(scratch, 'none'), '--format', 'txt'])).code, 2)
})

test.run()
