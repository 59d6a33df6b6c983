/**
 * ValueTable: the values of one algorithm in a provider's local copy, packed
 * into one byte array, with an open-addressing index for exact lookups
 * (`cairn match`, LocalCopy.lookup). Several records may name one value;
 * the table holds it once and `insert` returns its index either way.
 *
 * Layout, chosen so that a lookup touches as few cache lines as possible when
 * the table is far larger than the CPU caches (10M values):
 *   values   every value back to back (fixed width: index × width; variable
 *            width: from `starts[index]` to `starts[index + 1]`)
 *   slots    pairs (value index + 1, fingerprint), 0 = empty; load ≤ 1/2
 * A probe reads one slot pair (one cache line); only when the 32-bit
 * fingerprint matches does it read the stored value and compare bytes, so an
 * absent value almost never touches `values` and a query is never copied.
 *
 * Values are hashes (MD5, SHA-*, PDQ, PhotoDNA, TMK+PDQF): their bytes are
 * already well spread, so fixed widths (all ≥ 16 bytes) take the slot from
 * bytes 0..7 and the fingerprint from bytes 8..11; variable-width values are
 * hashed whole (they may be as short as one byte).
 */

function mix(h: number): number {
  h ^= h >>> 16
  h = Math.imul(h, 0x85ebca6b)
  h ^= h >>> 13
  h = Math.imul(h, 0xc2b2ae35)
  h ^= h >>> 16
  return h
}

function word(b: Uint8Array, at: number): number {
  return b[at]! | (b[at + 1]! << 8) | (b[at + 2]! << 16) | (b[at + 3]! << 24)
}

/** FNV-1a over every byte of b[at..at + len), then the length. */
function wholeHash(b: Uint8Array, at: number, len: number): number {
  let h = 0x811c9dc5
  for (let i = at; i < at + len; i++) h = Math.imul(h ^ b[i]!, 0x01000193)
  return Math.imul(h ^ len, 0x01000193)
}

export class ValueTable {
  /** Stored values, packed (see `start`). */
  readonly values: Buffer
  /** Category code per value index. */
  readonly categories: Uint8Array
  /** Distinct values held. */
  count = 0
  private readonly slots: Int32Array
  private readonly mask: number
  /** Start offset per value index, plus one past the end; variable width only. */
  private readonly starts: Uint32Array | undefined
  private used = 0

  /**
   * `width` bytes per value, or 0 for variable-width values, then `bytes`
   * (their total length) bounds what may be inserted; `capacity` bounds the
   * number of values.
   */
  constructor(readonly width: number, capacity: number, bytes = width * capacity) {
    if (width !== 0 && width < 12) throw new RangeError(`fixed-width values need at least 12 bytes, got ${width}`)
    capacity = Math.max(1, capacity)
    this.values = Buffer.alloc(Math.max(1, bytes))
    this.categories = new Uint8Array(capacity)
    this.starts = width === 0 ? new Uint32Array(capacity + 1) : undefined
    let size = 8
    while (size < capacity * 2) size *= 2
    this.slots = new Int32Array(size * 2)
    this.mask = size - 1
  }

  /** Index of the value b[at..at + len), or -1. */
  indexOf(b: Uint8Array, at = 0, len = b.length - at): number {
    const r = this.probe(b, at, len)
    return r >= 0 ? r : -1
  }

  /**
   * The value's index if held; otherwise -(slot + 1) of the empty slot where
   * it would go (or -1 if it cannot be held at all: wrong length).
   * Hashes stay int32 (`| 0`), so nothing here allocates.
   */
  private probe(b: Uint8Array, at: number, len: number): number {
    const width = this.width
    let s: number
    let fp: number
    if (width !== 0) {
      if (len !== width) return -1
      s = mix(word(b, at) ^ Math.imul(word(b, at + 4), 0x9e3779b1))
      fp = word(b, at + 8)
    } else {
      if (len < 1) return -1
      const whole = wholeHash(b, at, len)
      s = mix(whole)
      fp = mix(whole ^ 0x5bd1e995)
    }
    const slots = this.slots
    const values = this.values
    const mask = this.mask
    s &= mask
    for (;;) {
      const entry = slots[s * 2]!
      if (entry === 0) return -(s + 1)
      if (slots[s * 2 + 1] === fp) {
        const index = entry - 1
        let from: number
        let same: boolean
        if (width !== 0) {
          from = index * width
          same = true
        } else {
          from = this.starts![index]!
          same = this.starts![index + 1]! - from === len
        }
        if (same) {
          // Short values compare fastest in a loop; long ones (PhotoDNA, TMK) natively, without a copy.
          if (len > 32) {
            if (values.compare(b, at, at + len, from, from + len) === 0) return index
          } else {
            let k = 0
            while (k < len && values[from + k] === b[at + k]) k++
            if (k === len) return index
          }
        }
      }
      s = (s + 1) & mask
    }
  }

  /** The stored value at `index` (a view into `values`). */
  valueAt(index: number): Uint8Array {
    if (this.width !== 0) return this.values.subarray(index * this.width, (index + 1) * this.width)
    return this.values.subarray(this.starts![index]!, this.starts![index + 1]!)
  }

  /** Adds the value b[at..at + len) with category `cat` unless already held; returns its index either way. */
  insert(b: Uint8Array, at: number, len: number, cat: number): number {
    if (this.width !== 0 && len !== this.width) throw new RangeError(`a ${len}-byte value in a table of ${this.width}-byte values`)
    if (len < 1) throw new RangeError('an empty value')
    const r = this.probe(b, at, len)
    if (r >= 0) return r
    if (this.count === this.categories.length) throw new RangeError('ValueTable is full')
    if (this.used + len > this.values.length) throw new RangeError('ValueTable has no room for the value bytes')
    const index = this.count++
    this.values.set(b.subarray(at, at + len), this.used)
    this.used += len
    if (this.starts) this.starts[index + 1] = this.used
    this.categories[index] = cat
    const s = -r - 1
    this.slots[s * 2] = index + 1
    this.slots[s * 2 + 1] = this.width !== 0 ? word(b, at + 8) : mix(wholeHash(b, at, len) ^ 0x5bd1e995)
    return index
  }
}
