import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { fromHex, toHex } from '../protocol/bytes.ts'
import { decodeCanonical, decodeCanonicalInFull, encodeCanonical, encodeFlat, KeyTable, DEFAULT_MAX_DEPTH, DEFAULT_MAX_ITEMS, type CborValue } from '../protocol/cbor.ts'
import { LedgerError } from '../protocol/errors.ts'
import { VECTOR_TIME_MS } from '../spec/gen/seeds.ts'
import { codeOf } from './helpers.ts'

const decodeHex = (h: string) => decodeCanonical(fromHex(h))
const rejects = (h: string, code: string, why: string): void => assert.is(codeOf(() => decodeHex(h)), code, `${why}: ${h}`)

const nested = (depth: number): CborValue => {
  let v: CborValue = 0
  for (let i = 0; i < depth; i++) v = [v]
  return v
}

test('unsigned integers: shortest heads, including the 8-byte form for time', () => {
  const cases: Array<[number, string]> = [
    [0, '00'], [1, '01'], [10, '0a'], [23, '17'], [24, '1818'], [25, '1819'], [100, '1864'], [255, '18ff'],
    [256, '190100'], [1000, '1903e8'], [65535, '19ffff'], [65536, '1a00010000'], [1000000, '1a000f4240'],
    [4294967295, '1affffffff'], [4294967296, '1b0000000100000000'], [1000000000000, '1b000000e8d4a51000'],
    [VECTOR_TIME_MS, '1b0000019b76daa800'], [Number.MAX_SAFE_INTEGER, '1b001fffffffffffff'],
  ]
  for (const [n, h] of cases) {
    assert.is(toHex(encodeCanonical(n)), h, String(n))
    assert.is(decodeHex(h), n, h)
  }
})

test('RFC 8949 Appendix A examples in the data model', () => {
  const cases: Array<[CborValue, string]> = [
    ['', '60'], ['a', '6161'], ['IETF', '6449455446'], ['"\\', '62225c'], ['\u00fc', '62c3bc'], ['\u6c34', '63e6b0b4'],
    ['\u{10151}', '64f0908591'], [new Uint8Array(0), '40'], [fromHex('01020304'), '4401020304'],
    [[], '80'], [[1, 2, 3], '83010203'], [[1, [2, 3], [4, 5]], '8301820203820405'],
    [Array.from({ length: 25 }, (_, i) => i + 1), '98190102030405060708090a0b0c0d0e0f101112131415161718181819'],
    [{}, 'a0'], [{ a: 1, b: [2, 3] }, 'a26161016162820203'], [['a', { b: 'c' }], '826161a161626163'],
    [{ a: 'A', b: 'B', c: 'C', d: 'D', e: 'E' }, 'a56161614161626142616361436164614461656145'],
  ]
  for (const [v, h] of cases) {
    assert.is(toHex(encodeCanonical(v)), h, h)
    assert.is(toHex(encodeCanonical(decodeHex(h) as CborValue)), h, h)
  }
})

test('map keys sort bytewise on their encodings: shorter first, then lexicographic', () => {
  const h = toHex(encodeCanonical({ aa: 4, b: 2, a: 1, c: 3 }))
  assert.is(h, 'a4' + '616101' + '616202' + '616303' + '62616104')
  // object, Map and insertion order do not matter
  assert.is(toHex(encodeCanonical(new Map<string, CborValue>([['c', 3], ['aa', 4], ['a', 1], ['b', 2]]))), h)
  // 'Z' (0x5a) before 'a' (0x61); a 2-byte UTF-8 key after every 1-byte key
  assert.is(toHex(encodeCanonical({ a: 1, Z: 2, '\u00e9': 3 })), 'a3615a0261610162c3a903')
})

test('decode returns Map for maps and plain Uint8Array views for byte strings', () => {
  const v = decodeHex('a2616101616244deadbeef') as Map<string, CborValue>
  assert.instance(v, Map)
  assert.equal([...v.keys()], ['a', 'b'])
  const b = v.get('b') as Uint8Array
  assert.is(Object.getPrototypeOf(b), Uint8Array.prototype)
  assert.is(toHex(b), 'deadbeef')
  const fromBuffer = decodeCanonical(Buffer.from('43010203', 'hex')) as Uint8Array
  assert.is(Object.getPrototypeOf(fromBuffer), Uint8Array.prototype)
  assert.is(toHex(fromBuffer), '010203')
  // the byte string is a view into the input, not a copy
  const input = fromHex('43010203')
  const view = decodeCanonical(input) as Uint8Array
  assert.is(view.buffer, input.buffer)
  assert.not.ok('dataView' in input, 'the caller\'s array is not decorated')
})

test('encode rejects values outside the data model with BAD_FIELD', () => {
  const bad: unknown[] = [-1, 1.5, NaN, Infinity, 2 ** 53, null, undefined, true, false, 10n, new Date(0), new Map([[1, 1]]), { a: null }, '\ud800', [Symbol('x')], new Uint16Array(2)]
  bad.forEach((v, i) => assert.is(codeOf(() => encodeCanonical(v as CborValue)), 'BAD_FIELD', `case ${i}`))
})

test('encode and decode enforce the depth and item caps with TOO_LARGE', () => {
  assert.ok(encodeCanonical(nested(DEFAULT_MAX_DEPTH)))
  assert.is(codeOf(() => encodeCanonical(nested(DEFAULT_MAX_DEPTH + 1))), 'TOO_LARGE')
  assert.is(codeOf(() => decodeCanonical(encodeCanonical(nested(DEFAULT_MAX_DEPTH)))), 'ACCEPTED')
  assert.is(codeOf(() => decodeHex('81'.repeat(DEFAULT_MAX_DEPTH + 1) + '00')), 'TOO_LARGE')
  assert.is(codeOf(() => decodeCanonical(encodeCanonical(nested(3)), { maxDepth: 2 })), 'TOO_LARGE')
  // deep enough to overflow a recursive decoder: rejected by the iterative scan, no RangeError
  assert.is(codeOf(() => decodeCanonical(fromHex('81'.repeat(60000) + '00'))), 'TOO_LARGE')
  assert.is(codeOf(() => decodeCanonical(fromHex('a16161'.repeat(20000) + '00'))), 'TOO_LARGE')
  const many = Array.from({ length: DEFAULT_MAX_ITEMS + 1 }, () => 0)
  assert.is(codeOf(() => encodeCanonical(many)), 'TOO_LARGE')
  assert.is(codeOf(() => decodeCanonical(encodeCanonical(many, { maxItems: many.length }))), 'TOO_LARGE')
  assert.is(codeOf(() => decodeCanonical(encodeCanonical(many, { maxItems: many.length }), { maxItems: many.length })), 'ACCEPTED')
  assert.is(codeOf(() => decodeCanonical(encodeCanonical([1, 2, 3]), { maxItems: 2 })), 'TOO_LARGE')
  assert.is(codeOf(() => decodeCanonical(encodeCanonical({ a: 1, b: 2, c: 3 }), { maxItems: 2 })), 'TOO_LARGE')
  assert.is(codeOf(() => decodeHex('9f' + '00'.repeat(DEFAULT_MAX_ITEMS + 1) + 'ff')), 'TOO_LARGE')
  // a huge declared count in a tiny input
  assert.is(codeOf(() => decodeHex('9bffffffffffffffff')), 'TOO_LARGE')
})

test('byte budget: TOO_LARGE before decoding', () => {
  const bytes = encodeCanonical(new Uint8Array(100))
  assert.is(codeOf(() => decodeCanonical(bytes, { maxBytes: 101 })), 'TOO_LARGE')
  assert.is(codeOf(() => decodeCanonical(bytes, { maxBytes: 102 })), 'ACCEPTED')
  // the budget applies even to garbage
  assert.is(codeOf(() => decodeCanonical(new Uint8Array(70000).fill(0xff))), 'TOO_LARGE')
})

test('non-shortest integers and lengths are NON_CANONICAL_CBOR', () => {
  rejects('1800', 'NON_CANONICAL_CBOR', 'int 0 in 1 byte')
  rejects('1817', 'NON_CANONICAL_CBOR', 'int 23 in 1 byte')
  rejects('190018', 'NON_CANONICAL_CBOR', 'int 24 in 2 bytes')
  rejects('1a0000ffff', 'NON_CANONICAL_CBOR', 'int 65535 in 4 bytes')
  rejects('1b00000000ffffffff', 'NON_CANONICAL_CBOR', 'int 2^32-1 in 8 bytes')
  rejects('1b0000000000000000', 'NON_CANONICAL_CBOR', 'int 0 in 8 bytes')
  rejects('780161', 'NON_CANONICAL_CBOR', 'text length 1 in 1 byte')
  rejects('59000101', 'NON_CANONICAL_CBOR', 'bytes length 1 in 2 bytes')
  rejects('980100', 'NON_CANONICAL_CBOR', 'array count 1 in 1 byte')
  rejects('b801616101', 'NON_CANONICAL_CBOR', 'map count 1 in 1 byte')
})

test('integers beyond 2^53-1 are NON_CANONICAL_CBOR (outside the data model)', () => {
  rejects('1b0020000000000000', 'NON_CANONICAL_CBOR', '2^53')
  rejects('1b0020000000000001', 'NON_CANONICAL_CBOR', '2^53+1')
  rejects('1bffffffffffffffff', 'NON_CANONICAL_CBOR', '2^64-1')
})

test('indefinite lengths are NON_CANONICAL_CBOR', () => {
  rejects('5f4101ff', 'NON_CANONICAL_CBOR', 'indefinite bytes')
  rejects('5fff', 'NON_CANONICAL_CBOR', 'empty indefinite bytes')
  rejects('7f6161ff', 'NON_CANONICAL_CBOR', 'indefinite text')
  rejects('9f01ff', 'NON_CANONICAL_CBOR', 'indefinite array')
  rejects('bf616101ff', 'NON_CANONICAL_CBOR', 'indefinite map')
  rejects('829f01ff02', 'NON_CANONICAL_CBOR', 'nested indefinite array')
})

test('unsorted and duplicate keys, non-text keys are NON_CANONICAL_CBOR', () => {
  rejects('a2616201616101', 'NON_CANONICAL_CBOR', 'b before a')
  rejects('a262616101616202', 'NON_CANONICAL_CBOR', 'aa before b (lexical, not length-first)')
  rejects('a2616101616102', 'NON_CANONICAL_CBOR', 'duplicate key a')
  rejects('a2616101616101', 'NON_CANONICAL_CBOR', 'duplicate key, same value')
  rejects('a10101', 'NON_CANONICAL_CBOR', 'integer key')
  rejects('a1410101', 'NON_CANONICAL_CBOR', 'byte-string key')
  rejects('a18001', 'NON_CANONICAL_CBOR', 'array key')
})

test('floats, tags, simple values, negative integers are NON_CANONICAL_CBOR', () => {
  for (const [h, why] of [
    ['f90000', 'half 0.0'], ['f93c00', 'half 1.0'], ['fa3f800000', 'single 1.0'], ['fb3ff0000000000000', 'double 1.0'],
    ['f97e00', 'NaN'], ['c11a00000001', 'tag 1'], ['c074323031332d30332d32315432303a30343a30305a', 'tag 0'],
    ['d81843010203', 'tag 24'], ['c249010000000000000000', 'bignum'], ['d86901', 'tag 105 (cbor-x record)'],
    ['d9d9f700', 'self-describe tag'], ['f4', 'false'], ['f5', 'true'], ['f6', 'null'], ['f7', 'undefined'],
    ['e0', 'simple 0'], ['f820', 'simple 32'], ['20', '-1'], ['3818', '-25'], ['3bffffffffffffffff', '-2^64'],
    ['8120', 'negative in array'], ['a16161f6', 'null value'],
  ]) rejects(h!, 'NON_CANONICAL_CBOR', why!)
})

test('invalid UTF-8 in text is NON_CANONICAL_CBOR', () => {
  rejects('62c328', 'NON_CANONICAL_CBOR', 'bad continuation')
  rejects('63eda080', 'NON_CANONICAL_CBOR', 'encoded surrogate')
  rejects('62c0af', 'NON_CANONICAL_CBOR', 'overlong /')
  rejects('61ff', 'NON_CANONICAL_CBOR', '0xff byte')
})

test('trailing bytes are NON_CANONICAL_CBOR', () => {
  rejects('0100', 'NON_CANONICAL_CBOR', 'int then 00')
  rejects('810100', 'NON_CANONICAL_CBOR', 'array then 00')
  rejects('a0ff', 'NON_CANONICAL_CBOR', 'map then break')
  rejects('6161' + '1c', 'NON_CANONICAL_CBOR', 'text then a malformed byte')
})

test('truncated and malformed input is MALFORMED_CBOR', () => {
  for (const [h, why] of [
    ['', 'empty'], ['18', 'missing 1-byte argument'], ['1900', 'short 2-byte argument'], ['1b000000', 'short 8-byte argument'],
    ['4301', 'bytes cut'], ['6261', 'text cut'], ['8201', 'array cut'], ['a16161', 'map value missing'], ['a1', 'map empty'],
    ['5affffffff00', 'length beyond input'], ['1c', 'reserved ai 28'], ['1d', 'reserved ai 29'], ['1e', 'reserved ai 30'],
    ['ff', 'lone break'], ['3f', 'indefinite negative'], ['1f', 'indefinite uint'], ['df', 'indefinite tag'],
    ['5f01ff', 'int chunk in indefinite bytes'], ['5f6161ff', 'text chunk in indefinite bytes'], ['7f5f41ffff', 'nested indefinite chunk'],
    ['f818', 'two-byte simple value < 32'], ['c0', 'tag without content'], ['9fc0ff', 'tag then break'], ['bf6161ff', 'indefinite map ends after a key'],
    ['9f01', 'indefinite array without break'], ['8282', 'nested cut'],
  ]) rejects(h!, 'MALFORMED_CBOR', why!)
  // malformed anywhere wins over non-canonical earlier in the item
  rejects('82f5', 'MALFORMED_CBOR', 'true then truncated')
  rejects('821800', 'MALFORMED_CBOR', 'non-shortest then truncated')
  assert.is(codeOf(() => decodeCanonical('00' as unknown as Uint8Array)), 'MALFORMED_CBOR')
})

test('a decoded value re-encodes to the input (deterministic fuzz)', () => {
  let s = 0x9e3779b9
  const rnd = (n: number): number => {
    s ^= s << 13; s ^= s >>> 17; s ^= s << 5
    return (s >>> 0) % n
  }
  const keys = ['v', 'a', 'b', 'aa', 'type', 'value', '\u00e9', 'zz', 'log']
  const gen = (depth: number): CborValue => {
    switch (rnd(depth > 3 ? 4 : 6)) {
      case 0: return [0, 23, 24, 255, 256, 65535, 65536, 2 ** 32 - 1, 2 ** 32, VECTOR_TIME_MS, Number.MAX_SAFE_INTEGER][rnd(11)]!
      case 1: return ['', 'a', 'indicator', '\u6c34', 'x'.repeat(rnd(300))][rnd(5)]!
      case 2: return new Uint8Array(rnd(300)).map(() => rnd(256))
      case 3: return rnd(2) ? 7 : 'seven'
      case 4: return Array.from({ length: rnd(5) }, () => gen(depth + 1))
      default: {
        const o: Record<string, CborValue> = {}
        for (let i = rnd(6); i > 0; i--) o[keys[rnd(keys.length)]!] = gen(depth + 1)
        return o
      }
    }
  }
  let accepted = 0, rejected = 0
  for (let i = 0; i < 400; i++) {
    const bytes = encodeCanonical(gen(0))
    assert.is(toHex(encodeCanonical(decodeCanonical(bytes) as CborValue)), toHex(bytes))
    // mutate one byte: the result is either rejected with a codec code or is itself canonical
    const m = bytes.slice()
    m[rnd(m.length)] = rnd(256)
    const cut = m.subarray(0, m.length - rnd(2))
    try {
      const v = decodeCanonical(cut)
      assert.is(toHex(encodeCanonical(v as CborValue)), toHex(cut))
      accepted++
    } catch (e) {
      assert.instance(e, LedgerError)
      assert.ok(['MALFORMED_CBOR', 'NON_CANONICAL_CBOR', 'TOO_LARGE'].includes((e as LedgerError).code), (e as Error).message)
      rejected++
    }
  }
  assert.ok(accepted > 0 && rejected > 0)
})

test('encodeFlat gives the bytes (or the error) of encodeCanonical, for any object (deterministic fuzz)', () => {
  let s = 0x2545f491
  const rnd = (n: number): number => {
    s ^= s << 13; s ^= s >>> 17; s ^= s << 5
    return (s >>> 0) % n
  }
  const table = new KeyTable(['v', 'type', 'log', 'seq', 'time', 'alg', 'value', 'category', 'reason', 'expires', 'quality'])
  assert.equal(table.keys, ['v', 'alg', 'log', 'seq', 'time', 'type', 'value', 'reason', 'expires', 'quality', 'category'])
  const values: unknown[] = [
    0, 1, 23, 24, 255, 256, 65535, 65536, 2 ** 32 - 1, 2 ** 32, VECTOR_TIME_MS, Number.MAX_SAFE_INTEGER,
    -1, 1.5, 2 ** 53, NaN, null, true, [1, 2], new Map([['a', 1]]), { a: 1 },
    '', 'a', 'indicator', 'x'.repeat(23), 'x'.repeat(24), 'y'.repeat(300), '\u00e9', '\u6c34', '\ud800',
    new Uint8Array(0), new Uint8Array(23).fill(1), new Uint8Array(24).fill(2), new Uint8Array(256).fill(3), new Uint8Array(70_000).fill(4),
  ]
  const outcome = (fn: () => Uint8Array): string => {
    try {
      return toHex(fn())
    } catch (e) {
      return `error ${(e as LedgerError).code}`
    }
  }
  let fast = 0
  for (let i = 0; i < 3000; i++) {
    const o: Record<string, unknown> = {}
    for (let n = rnd(9); n > 0; n--) o[table.keys[rnd(table.keys.length)]!] = values[rnd(values.length)]
    if (rnd(10) === 0) o.unknown = 1
    if (rnd(10) === 0) o[table.keys[rnd(table.keys.length)]!] = undefined
    const want = outcome(() => encodeCanonical(o as CborValue))
    assert.is(outcome(() => encodeFlat(table, o)), want, JSON.stringify(Object.keys(o)))
    if (!want.startsWith('error')) fast++
  }
  assert.ok(fast > 500, `${fast} objects encoded`)
  // Not a plain object: the general encoder decides.
  assert.is(outcome(() => encodeFlat(table, new Map([['v', 1]]) as unknown as Record<string, unknown>)), outcome(() => encodeCanonical(new Map([['v', 1]]))))
})

test('the flat-map fast path of decodeCanonical agrees with the full path on every input, mutated or not (deterministic fuzz)', () => {
  let s = 0x6d2b79f5
  const rnd = (n: number): number => {
    s ^= s << 13; s ^= s >>> 17; s ^= s << 5
    return (s >>> 0) % n
  }
  const keys = ['v', 'a', 'aa', 'ab', 'b', 'log', 'seq', 'type', 'time', 'value', 'category', '\u00e9', 'x'.repeat(24)]
  const values: CborValue[] = [
    0, 1, 23, 24, 255, 256, 65535, 65536, 2 ** 32 - 1, 2 ** 32, VECTOR_TIME_MS, Number.MAX_SAFE_INTEGER,
    '', 'a', 'indicator', 'x'.repeat(23), 'x'.repeat(24), 'y'.repeat(300), '\u00e9', '\u6c34',
    new Uint8Array(0), new Uint8Array(23).fill(1), new Uint8Array(24).fill(2), new Uint8Array(256).fill(3), [1], new Map([['a', 1]]),
  ]
  /** The value with its types and the order of its map keys; or the error code. */
  const describe = (v: unknown): string => {
    if (v instanceof Map) return `M{${[...v].map(([k, x]) => `${describe(k)}:${describe(x)}`).join(',')}}`
    if (Array.isArray(v)) return `A[${v.map(describe).join(',')}]`
    if (v instanceof Uint8Array) return `${v.constructor.name}:${toHex(v)}`
    return `${typeof v}:${String(v)}`
  }
  const outcome = (fn: () => unknown): string => {
    try {
      return describe(fn())
    } catch (e) {
      if (!(e instanceof LedgerError)) throw e
      return `error ${e.code}: ${e.message}`
    }
  }
  const mutate = (b: Uint8Array): Uint8Array => {
    const m = Array.from(b)
    if (m.length === 0) return new Uint8Array([rnd(256)])
    switch (rnd(6)) {
      case 0: m[rnd(m.length)] = rnd(256); break
      case 1: m.splice(rnd(m.length + 1), 0, rnd(256)); break
      case 2: m.splice(rnd(m.length), 1); break
      case 3: m.length = rnd(m.length); break
      case 4: m.push(rnd(256)); break
      default: { // a head one size wider than needed, where the byte allows it
        const at = rnd(m.length)
        if ((m[at]! & 0x1f) < 24) m.splice(at, 1, (m[at]! & 0xe0) | 24, m[at]! & 0x1f)
      }
    }
    return new Uint8Array(m)
  }
  let flatAccepted = 0, rejected = 0
  for (let i = 0; i < 4000; i++) {
    const o = new Map<string, CborValue>()
    for (let n = rnd(8); n > 0; n--) o.set(keys[rnd(keys.length)]!, values[rnd(rnd(8) === 0 ? values.length : values.length - 2)]!)
    const clean = encodeCanonical(o)
    for (const bytes of [clean, mutate(clean), mutate(mutate(clean))]) {
      const maxItems = rnd(4) === 0 ? rnd(5) : DEFAULT_MAX_ITEMS
      const got = outcome(() => decodeCanonical(bytes, { maxItems }))
      assert.is(got, outcome(() => decodeCanonicalInFull(bytes, DEFAULT_MAX_DEPTH, maxItems)), toHex(bytes))
      if (got.startsWith('error')) rejected++
      else if (got.startsWith('M{') && !got.includes('A[') && !got.includes(':M{')) flatAccepted++
    }
  }
  assert.ok(flatAccepted > 2000 && rejected > 2000, `${flatAccepted} flat maps accepted, ${rejected} inputs rejected`)
})

test.run()
