/**
 * A Bloom filter over the (alg, value) pairs the value index holds, so the
 * publisher's duplicate check (node/in-force.ts) skips the index for a value
 * no record has — nearly every value of an ingest. Without it each value
 * costs a LevelDB seek, one round trip to libuv's thread pool: 5,000 records
 * through POST /records ran at 4,775/s with the check and 12,503/s without.
 *
 * No false negatives, by construction: the filter is filled by one scan of
 * the value index, and every value the store appends meanwhile and later is
 * added before its batch is written. Removed values stay in (a false
 * positive only sends that value to the index). Until the scan has finished,
 * or after more values were added than it was sized for, `mightHold` says
 * yes to everything and the index is read as before.
 *
 * The scan reads every row of the value index (minutes at 10M values, on the
 * main thread beside the requests being served), so a closing node keeps the
 * filter in a file (open.ts) with the size and root of every log it covers;
 * the next start uses it only if the store still has exactly those logs at
 * those roots (every value then is in it), and scans otherwise.
 */
const BITS_PER_VALUE = 10
const HASHES = 7
const MIN_BITS = 1 << 20

export class ValueFilter {
  private bits = new Uint32Array(MIN_BITS / 32)
  private mask = MIN_BITS - 1
  private capacity = 0
  private added = 0
  private ready = false

  /** Whether the filter answers (its scan finished, and it is not over capacity). */
  get usable(): boolean {
    return this.ready && this.added <= this.capacity
  }

  /** Sized for `expected` values (and room to grow by half again); empties it. */
  reset(expected: number): void {
    const want = Math.max(MIN_BITS, 2 ** Math.ceil(Math.log2(Math.max(1, expected * 1.5) * BITS_PER_VALUE)))
    this.bits = new Uint32Array(want / 32)
    this.mask = want - 1
    this.capacity = Math.floor(want / BITS_PER_VALUE)
    this.added = 0
    this.ready = false
  }

  /** The scan that filled the filter has finished. */
  markReady(): void {
    this.ready = true
  }

  /** The filter's state as bytes (the file open.ts keeps); undefined unless it is usable. */
  toBytes(): { bits: Uint8Array; added: number; capacity: number } | undefined {
    if (!this.usable) return undefined
    return { bits: new Uint8Array(this.bits.buffer, this.bits.byteOffset, this.bits.byteLength), added: this.added, capacity: this.capacity }
  }

  /** Takes a state toBytes() gave (of a store whose values it holds); false (and unchanged) if it is not one. */
  fromBytes(bits: Uint8Array, added: number, capacity: number): boolean {
    const n = bits.length * 8
    const whole = Number.isSafeInteger(added) && Number.isSafeInteger(capacity) && added >= 0 && added <= capacity
    if (!whole || n < MIN_BITS || (n & (n - 1)) !== 0 || capacity !== Math.floor(n / BITS_PER_VALUE)) return false
    const words = new Uint32Array(n / 32)
    new Uint8Array(words.buffer).set(bits)
    this.bits = words
    this.mask = n - 1
    this.capacity = capacity
    this.added = added
    this.ready = true
    return true
  }

  /** `key`: the value index's prefix for the value (alg, length, value bytes). */
  add(key: Uint8Array): void {
    this.added++
    let [h1, h2] = hashes(key)
    for (let i = 0; i < HASHES; i++) {
      const bit = h1 & this.mask
      this.bits[bit >>> 5]! |= 1 << (bit & 31)
      h1 = (h1 + h2) >>> 0
    }
  }

  /** False only when no value with this key was ever added. */
  mightHold(key: Uint8Array): boolean {
    if (!this.usable) return true
    let [h1, h2] = hashes(key)
    for (let i = 0; i < HASHES; i++) {
      const bit = h1 & this.mask
      if ((this.bits[bit >>> 5]! & (1 << (bit & 31))) === 0) return false
      h1 = (h1 + h2) >>> 0
    }
    return true
  }
}

/** Two independent 32-bit FNV-1a hashes (different offsets) for double hashing. */
function hashes(key: Uint8Array): [number, number] {
  let a = 0x811c9dc5
  let b = 0x01000193 ^ 0x5bd1e995
  for (let i = 0; i < key.length; i++) {
    a = Math.imul(a ^ key[i]!, 0x01000193)
    b = Math.imul(b ^ key[i]!, 0x5bd1e995)
    b ^= b >>> 15
  }
  return [a >>> 0, (b | 1) >>> 0]
}
