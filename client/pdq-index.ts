/**
 * PdqIndex: exact Hamming-distance search over 256-bit PDQ hashes (issue 18),
 * for a provider matching uploads against a local copy of up to ~10M hashes.
 * Every answer is the brute-force answer: all live hashes within distance d.
 *
 * Multi-index hashing with a pigeonring filter. A hash is 16 chunks of 16
 * bits (the native-endian uint16 at bytes 2k, 2k+1). With b_k the chunk
 * distances and sum b_k ≤ d, the gas-station argument on c_k = b_k − d/16
 * gives a ring start j where every run of m chunks j, j+1, … (mod 16) stays
 * within its share, b_j + … + b_{j+m-1} ≤ ⌊m·d/16⌋; in particular
 * b_j ≤ ⌊d/16⌋, b_j + b_{j+1} ≤ ⌊2d/16⌋ and b_j + b_{j+1} + b_{j+2} ≤ ⌊3d/16⌋.
 * So:
 *   slot j    a CSR table keyed by chunk j: `offsets` (65,537 × uint32) and,
 *             per entry in key order, its chunk j+1 (uint16, `next`) and a
 *             word (uint32, `ids`): the entry's index shifted left 8 bits
 *             with the low byte of chunk j+2 below it (while the tables hold
 *             at most 2^24 entries; beyond, the index alone), built by
 *             counting sort.
 *   search    for each slot j, each key within ⌊d/16⌋ bits of the query's
 *             chunk j, scan the bucket's `next` values sequentially and keep
 *             an entry only if b_j + b_{j+1} ≤ ⌊2d/16⌋ and then, from its
 *             word, b_j + b_{j+1} + (the distance of those 8 bits of chunk
 *             j+2) ≤ ⌊3d/16⌋; only those (≈ 20 per query at d = 31 and 10M
 *             random hashes, of ≈ 42,000 scanned; ≈ 100 pass the first test)
 *             cost a random read of the hash for the full distance.
 *   once      a match is reported only from its canonical start (the first
 *             maximum of the prefix sums of 16·b_k − d), so nothing is
 *             reported twice and no dedupe set is needed.
 *   exact     at distance 0 that start is slot 0, so `exact`/`hasExact`
 *             read one bucket of slot 0 (and the tail) and nothing else.
 * Plain multi-index hashing (Norouzi et al.; Meta's 16 × 16-bit reference)
 * reads the hash of all ≈ 42,000 candidates at random: ~2,000× the reads.
 * The 8 bits of chunk j+2 ride in the id's spare high bits, so the tables
 * cost the same 6 bytes an entry as the two-chunk filter did.
 * Measured at 10M (d = 31, one thread's CPU time, busy 2-core VM): 372 µs
 * a query with the two-chunk filter, 235 µs with the third chunk and the
 * scan below (two `next` values a 32-bit read, survivors checked after the
 * scan); most of what is left is the scan of ≈ 42,000 entries, about half of
 * it waiting on memory (docs/performance.md).
 *
 * Entries keep their index (insertion order) for life. `remove` marks an
 * entry in a bitset (never returned again); `add` appends to a tail that is
 * scanned brute force until `compact()` rebuilds the tables over everything
 * live. For large d (≥ 72), where the filter no longer filters, search scans
 * every hash instead; the answer is the same.
 *
 * Memory: 32 bytes (hash) + 16 × 6 bytes (ids, next) per live entry plus 4 MiB
 * of offsets: ≈ 1.2 GiB at 10M, of which 0.3 GiB are the hashes themselves.
 *
 * Why one file of ~530 lines: the layout of the tables, their build, the
 * search with its filters and the exactness argument depend on each other
 * bit for bit; the saved form is pdq-index-file.ts.
 */

export const PDQ_BYTES = 32
const CHUNKS = 16
const KEYS = 1 << 16
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1

export interface PdqMatch {
  /** The entry's index: its position in `build`'s hashes, then in order of `add`. */
  index: number
  distance: number
}

export interface PdqIndexOptions {
  /** Entries not to index (e.g. revoked records), as a predicate on their index. */
  removed?: (index: number) => boolean
  /** Put the tables and hashes in SharedArrayBuffers, so `state()` can be posted to worker threads without a copy. */
  shared?: boolean
}

/** Everything an index is made of, as typed arrays (SharedArrayBuffer-backed when built `shared`). */
export interface PdqIndexState {
  /** Entries in the tables' hashes (indexes 0..built-1). */
  built: number
  hashes: Uint8Array
  offsets: Uint32Array[]
  /** Per slot s, per entry: its index << idShift(built), with the low byte of chunk s+2 below it when idShift is 8. */
  ids: Uint32Array[]
  /** Per slot s, per entry: its chunk s+1. */
  next: Uint16Array[]
  /** Hashes added since the last build, indexes built.. in order. */
  tail: Uint8Array
  /** Bit i set: entry i removed. */
  removed: Uint32Array
}

/**
 * How far the tables shift an entry's index in its word: 8 (the low byte of
 * chunk s+2 below it, a third filter) while the indexes fit in 24 bits, else 0.
 */
export function idShift(built: number): number {
  return built <= 1 << 24 ? 8 : 0
}

/** Bits set in each 16-bit value. */
const POP16 = new Uint8Array(KEYS)
for (let i = 1; i < KEYS; i++) POP16[i] = POP16[i >> 1]! + (i & 1)

export function popcount32(x: number): number {
  x -= (x >>> 1) & 0x55555555
  x = (x & 0x33333333) + ((x >>> 2) & 0x33333333)
  x = (x + (x >>> 4)) & 0x0f0f0f0f
  return Math.imul(x, 0x01010101) >>> 24
}

/** Hamming distance between the 32-byte hashes at a[ai..] and b[bi..]. */
export function hammingDistance(a: Uint8Array, ai: number, b: Uint8Array, bi: number): number {
  let d = 0
  for (let k = 0; k < PDQ_BYTES; k += 2) d += POP16[((a[ai + k]! << 8) | a[ai + k + 1]!) ^ ((b[bi + k]! << 8) | b[bi + k + 1]!)]!
  return d
}

function checkQuery(query: Uint8Array, maxDistance: number): void {
  if (query.length !== PDQ_BYTES) throw new RangeError(`a PDQ hash is ${PDQ_BYTES} bytes, got ${query.length}`)
  if (!Number.isInteger(maxDistance) || maxDistance < 0) throw new RangeError(`maxDistance is an integer ≥ 0, got ${maxDistance}`)
}

function byDistanceThenIndex(a: PdqMatch, b: PdqMatch): number {
  return a.distance - b.distance || a.index - b.index
}

/** 4-byte-aligned words of a byte array (a copy only when it is not aligned). */
function wordsOf(b: Uint8Array): Uint32Array {
  const aligned = b.byteOffset % 4 === 0 ? b : b.slice()
  return new Uint32Array(aligned.buffer, aligned.byteOffset, aligned.byteLength >>> 2)
}

/**
 * Every hash among the first n of `hashes` (n × 32 bytes, packed) within
 * `maxDistance` of `query`, by distance then index: the reference answer, and
 * the bench's baseline. `skip(i)` leaves out entry i; `first` numbers them.
 */
export function bruteForce(hashes: Uint8Array, n: number, query: Uint8Array, maxDistance: number, skip?: (i: number) => boolean, first = 0): PdqMatch[] {
  checkQuery(query, maxDistance)
  if (hashes.length < n * PDQ_BYTES) throw new RangeError(`${n} hashes need ${n * PDQ_BYTES} bytes, got ${hashes.length}`)
  const w = wordsOf(hashes)
  const q = wordsOf(query)
  const out: PdqMatch[] = []
  const d = maxDistance
  for (let i = 0; i < n; i++) {
    const b = i * 8
    // Random hashes are ~16 bits apart per word: most leave after two or four words.
    let dist = popcount32(w[b]! ^ q[0]!) + popcount32(w[b + 1]! ^ q[1]!)
    if (dist > d) continue
    dist += popcount32(w[b + 2]! ^ q[2]!) + popcount32(w[b + 3]! ^ q[3]!)
    if (dist > d) continue
    dist += popcount32(w[b + 4]! ^ q[4]!) + popcount32(w[b + 5]! ^ q[5]!) + popcount32(w[b + 6]! ^ q[6]!) + popcount32(w[b + 7]! ^ q[7]!)
    if (dist > d || (skip && skip(first + i))) continue
    out.push({ index: first + i, distance: dist })
  }
  return out.sort(byDistanceThenIndex)
}

/** 16-bit masks of weight ≤ r, by weight, and their weights; memoized (r ≤ 16). */
const balls: { masks: Uint16Array; weights: Uint8Array }[] = []
function ball(r: number): { masks: Uint16Array; weights: Uint8Array } {
  r = Math.min(r, 16)
  let b = balls[r]
  if (!b) {
    const all = Array.from({ length: KEYS }, (_, m) => m).filter((m) => POP16[m]! <= r)
    all.sort((x, y) => POP16[x]! - POP16[y]! || x - y)
    b = balls[r] = { masks: Uint16Array.from(all), weights: Uint8Array.from(all, (m) => POP16[m]!) }
  }
  return b
}

/**
 * Whether a scan of every hash beats the tables at distance d, by a cost
 * model on random hashes: a table search reads ~1 unit per bucket entry
 * scanned and ~40 per entry passing the filter (a random read), a scan ~3
 * per hash. Only the speed depends on it, never the answer.
 */
const scanBeatsTables: boolean[] = []
function scanIsCheaper(d: number): boolean {
  if (d >= 256) return true
  let answer = scanBeatsTables[d]
  if (answer === undefined) {
    const { weights } = ball(Math.floor(d / CHUNKS))
    const pair = Math.floor(d / 8)
    let scanned = 0
    let passing = 0
    for (const w of weights) {
      scanned += 1
      passing += ball(pair - w).masks.length / KEYS
    }
    const perEntry = (CHUNKS * (scanned + 40 * passing)) / KEYS
    answer = scanBeatsTables[d] = perEntry > 3
  }
  return answer
}

function allocate(shared: boolean, bytes: number): ArrayBuffer | SharedArrayBuffer {
  return shared ? new SharedArrayBuffer(bytes) : new ArrayBuffer(bytes)
}

export class PdqIndex {
  private built!: number
  private hashes!: Uint8Array
  private words!: Uint32Array
  private halves!: Uint16Array
  private offsets!: Uint32Array[]
  private ids!: Uint32Array[]
  private next!: Uint16Array[]
  private tail!: Uint8Array
  private tailCount!: number
  private removedBits!: Uint32Array
  private removedCount!: number
  private shift!: number
  /** `next` read two entries at a time (the same memory). */
  private nextPairs!: Uint32Array[]
  /** Scratch of searchSlot: its buckets' bounds; positions passing the two-chunk test, each with the budget left for the third. */
  private bounds = new Int32Array(0)
  private found = new Int32Array(0)
  /** The query, 4-byte aligned, as words and as chunks. */
  private readonly q32 = new Uint32Array(8)
  private readonly q16 = new Uint16Array(this.q32.buffer)
  private readonly q8 = new Uint8Array(this.q32.buffer)

  private constructor(state: PdqIndexState, private readonly shared: boolean, removedCount: number) {
    this.adopt(state, removedCount)
  }

  private adopt(state: PdqIndexState, removedCount: number): void {
    this.built = state.built
    this.hashes = state.hashes
    this.words = new Uint32Array(state.hashes.buffer, state.hashes.byteOffset, state.built * 8)
    this.halves = new Uint16Array(state.hashes.buffer, state.hashes.byteOffset, state.built * 16)
    this.offsets = state.offsets
    this.ids = state.ids
    this.next = state.next.map((n) => (n.byteOffset % 4 === 0 ? n : n.slice())) // (always aligned as built or read)
    this.nextPairs = this.next.map((n) => new Uint32Array(n.buffer, n.byteOffset, n.length >>> 1))
    this.tail = state.tail
    this.tailCount = state.tail.length / PDQ_BYTES
    this.removedBits = state.removed
    this.removedCount = removedCount
    this.shift = idShift(state.built)
  }

  /**
   * Indexes the first n hashes of `hashes` (n × 32 bytes, packed) as entries
   * 0..n-1. The index keeps `hashes` (copied only when not 4-byte aligned, or
   * into shared memory for `shared`): do not change it afterwards.
   */
  static build(hashes: Uint8Array, n: number, opts: PdqIndexOptions = {}): PdqIndex {
    if (!Number.isInteger(n) || n < 0 || n >= 2 ** 32) throw new RangeError(`n is an integer in [0, 2^32), got ${n}`)
    if (hashes.length < n * PDQ_BYTES) throw new RangeError(`${n} hashes need ${n * PDQ_BYTES} bytes, got ${hashes.length}`)
    const shared = opts.shared ?? false
    let own = hashes.subarray(0, n * PDQ_BYTES)
    if (own.byteOffset % 4 !== 0 || (shared && !(own.buffer instanceof SharedArrayBuffer))) {
      const copy = new Uint8Array(allocate(shared, n * PDQ_BYTES))
      copy.set(own)
      own = copy
    }
    const removed = new Uint32Array(allocate(shared, Math.ceil(n / 32) * 4))
    let removedCount = 0
    if (opts.removed) {
      for (let i = 0; i < n; i++) {
        if (opts.removed(i)) {
          removed[i >>> 5]! |= 1 << (i & 31)
          removedCount++
        }
      }
    }
    const state = PdqIndex.tables(own, n, removed, n - removedCount, shared)
    return new PdqIndex(state, shared, removedCount)
  }

  /** An index over the arrays of another's `state()` (e.g. posted to a worker thread); they are used, not copied. */
  static fromState(state: PdqIndexState): PdqIndex {
    let removedCount = 0
    for (const w of state.removed) removedCount += popcount32(w)
    return new PdqIndex(state, state.hashes.buffer instanceof SharedArrayBuffer, removedCount)
  }

  /**
   * The CSR tables over the live entries among `hashes`' n, one counting sort
   * per slot. Slot s's placement pass reads chunk s+1 anyway (its `next`), so
   * it also counts slot s+1's keys: one pass per slot, plus one to start.
   */
  private static tables(hashes: Uint8Array, n: number, removed: Uint32Array, live: number, shared: boolean): PdqIndexState {
    const halves = new Uint16Array(hashes.buffer, hashes.byteOffset, n * 16)
    const offsets: Uint32Array[] = []
    const ids: Uint32Array[] = []
    const next: Uint16Array[] = []
    const cursor = new Uint32Array(KEYS)
    const anyRemoved = live < n
    let off = new Uint32Array(allocate(shared, (KEYS + 1) * 4))
    for (let i = 0, at = 0; i < n; i++, at += 16) if (!anyRemoved || ((removed[i >>> 5]! >>> (i & 31)) & 1) === 0) off[halves[at]! + 1]!++
    for (let s = 0; s < CHUNKS; s++) {
      for (let k = 0; k < KEYS; k++) off[k + 1]! += off[k]!
      cursor.set(off.subarray(0, KEYS))
      const counts = new Uint32Array(allocate(shared, (KEYS + 1) * 4))
      const slotIds = new Uint32Array(allocate(shared, live * 4))
      const slotNext = new Uint16Array(allocate(shared, live * 2))
      const s1 = (s + 1) & (CHUNKS - 1)
      const s2 = (s + 2) & (CHUNKS - 1)
      const shift = idShift(n)
      const low = shift === 8 ? 0xff : 0
      for (let i = 0, at = 0; i < n; i++, at += 16) {
        if (anyRemoved && (removed[i >>> 5]! >>> (i & 31)) & 1) continue
        const p = cursor[halves[at + s]!]!++
        const following = halves[at + s1]!
        slotIds[p] = (i << shift) | (halves[at + s2]! & low)
        slotNext[p] = following
        counts[following + 1]!++
      }
      offsets.push(off)
      ids.push(slotIds)
      next.push(slotNext)
      off = counts
    }
    return { built: n, hashes, offsets, ids, next, tail: new Uint8Array(0), removed }
  }

  /** Entries ever held (indexes 0..count-1), removed ones included. */
  get count(): number {
    return this.built + this.tailCount
  }

  /** Entries searchable now. */
  get size(): number {
    return this.count - this.removedCount
  }

  /** Entries added since the tables were built (searched brute force until `compact()`). */
  get tailSize(): number {
    return this.tailCount
  }

  /** Appends a hash; returns its index. */
  add(hash: Uint8Array): number {
    if (hash.length !== PDQ_BYTES) throw new RangeError(`a PDQ hash is ${PDQ_BYTES} bytes, got ${hash.length}`)
    const index = this.count
    if (index >= 2 ** 32 - 1) throw new RangeError('a PdqIndex holds fewer than 2^32 entries')
    if ((this.tailCount + 1) * PDQ_BYTES > this.tail.length) this.tail = this.grow(this.tail, Math.max(64, this.tailCount * 2) * PDQ_BYTES)
    this.tail.set(hash, this.tailCount * PDQ_BYTES)
    this.tailCount++
    if (Math.ceil((index + 1) / 32) > this.removedBits.length) this.removedBits = this.grow(this.removedBits, Math.max(64, this.removedBits.length * 2))
    return index
  }

  /** Marks entry `index` removed (never returned again); false if it was already removed. */
  remove(index: number): boolean {
    if (!Number.isInteger(index) || index < 0 || index >= this.count) throw new RangeError(`no entry ${index} (count ${this.count})`)
    if (this.isRemoved(index)) return false
    this.removedBits[index >>> 5]! |= 1 << (index & 31)
    this.removedCount++
    return true
  }

  isRemoved(index: number): boolean {
    return ((this.removedBits[index >>> 5]! >>> (index & 31)) & 1) === 1
  }

  /** The hash of entry `index` (a view; removed entries keep theirs). */
  hashAt(index: number): Uint8Array {
    if (!Number.isInteger(index) || index < 0 || index >= this.count) throw new RangeError(`no entry ${index} (count ${this.count})`)
    if (index < this.built) return this.hashes.subarray(index * PDQ_BYTES, (index + 1) * PDQ_BYTES)
    const t = index - this.built
    return this.tail.subarray(t * PDQ_BYTES, (t + 1) * PDQ_BYTES)
  }

  /**
   * Rebuilds the tables over every live entry, the tail included; indexes are
   * kept. Call after a batch of adds (a sync); costs about as much as `build`.
   */
  compact(): void {
    const n = this.count
    const hashes = new Uint8Array(allocate(this.shared, n * PDQ_BYTES))
    hashes.set(this.hashes.subarray(0, this.built * PDQ_BYTES))
    hashes.set(this.tail.subarray(0, this.tailCount * PDQ_BYTES), this.built * PDQ_BYTES)
    const removed = this.grow(this.removedBits, Math.ceil(n / 32), true)
    // Drop the old tables before making the new ones: the peak is one set of tables, not two.
    this.offsets = this.ids = this.next = this.nextPairs = []
    const state = PdqIndex.tables(hashes, n, removed, n - this.removedCount, this.shared)
    this.adopt(state, this.removedCount)
  }

  /** The arrays the index is made of; for `fromState` (worker threads) or to persist them. */
  state(): PdqIndexState {
    return {
      built: this.built,
      hashes: this.hashes,
      offsets: this.offsets,
      ids: this.ids,
      next: this.next,
      tail: this.tail.slice(0, this.tailCount * PDQ_BYTES),
      removed: this.removedBits,
    }
  }

  /** Bytes held by the index: hashes, tables, tail and removed bits. */
  memoryBytes(): number {
    let bytes = this.hashes.byteLength + this.tail.byteLength + this.removedBits.byteLength
    for (let s = 0; s < this.offsets.length; s++) bytes += this.offsets[s]!.byteLength + this.ids[s]!.byteLength + this.next[s]!.byteLength
    return bytes
  }

  /** Every live entry within `maxDistance` of `query` (32 bytes), by distance then index: exactly what `bruteForce` returns. */
  search(query: Uint8Array, maxDistance: number): PdqMatch[] {
    checkQuery(query, maxDistance)
    const d = Math.min(maxDistance, 256)
    this.q8.set(query)
    const removed = (i: number) => this.isRemoved(i)
    let out: PdqMatch[] = []
    if (scanIsCheaper(d)) out = bruteForce(this.hashes, this.built, query, d, removed)
    else for (let s = 0; s < CHUNKS; s++) this.searchSlot(s, d, out)
    if (this.tailCount > 0) for (const m of bruteForce(this.tail, this.tailCount, query, d, removed, this.built)) out.push(m)
    return out.sort(byDistanceThenIndex)
  }

  /**
   * The live entries holding exactly `query` (32 bytes), by index: what
   * `search(query, 0)` returns, without probing 16 slots or sorting. At
   * distance 0 every chunk distance is 0, so the canonical ring start is slot
   * 0 (no prefix sum exceeds 0) and `search` reports an exact match only from
   * slot 0; there an entry equal to the query must sit in the bucket of the
   * query's chunk 0, with `next` equal to its chunk 1 and (idShift 8) the low
   * byte of its chunk 2 in its word. Counting sort keeps a bucket in index
   * order, and the tail (compared byte for byte) holds the larger indexes.
   */
  exact(query: Uint8Array): number[] {
    const out: number[] = []
    this.scanExact(query, out)
    return out
  }

  /** Whether some live entry holds exactly `query` (32 bytes): `exact(query).length > 0`, stopping at the first. */
  hasExact(query: Uint8Array): boolean {
    return this.scanExact(query, undefined)
  }

  /** The entries equal to the query, pushed to `out` in index order (or, without `out`, whether there is one). */
  private scanExact(query: Uint8Array, out: number[] | undefined): boolean {
    checkQuery(query, 0)
    this.q8.set(query)
    const q16 = this.q16
    const q32 = this.q32
    const removed = this.removedBits
    let any = false
    if (this.built > 0) {
      const off = this.offsets[0]!
      const next = this.next[0]!
      const ids = this.ids[0]!
      const words = this.words
      const shift = this.shift
      const q0 = q16[0]!
      const q1 = q16[1]!
      const q2 = shift === 8 ? q16[2]! & 0xff : 0
      const low = shift === 8 ? 0xff : 0
      const end = off[q0 + 1]!
      for (let p = off[q0]!; p < end; p++) {
        if (next[p]! !== q1) continue
        const word = ids[p]!
        if ((word & low) !== q2) continue
        const id = word >>> shift
        const b = id * 8
        if (words[b] !== q32[0] || words[b + 1] !== q32[1] || words[b + 2] !== q32[2] || words[b + 3] !== q32[3] ||
          words[b + 4] !== q32[4] || words[b + 5] !== q32[5] || words[b + 6] !== q32[6] || words[b + 7] !== q32[7]) continue
        if ((removed[id >>> 5]! >>> (id & 31)) & 1) continue
        if (!out) return true
        out.push(id)
        any = true
      }
    }
    const tail = this.tail
    const q8 = this.q8
    for (let t = 0, at = 0; t < this.tailCount; t++, at += PDQ_BYTES) {
      let k = 0
      while (k < PDQ_BYTES && tail[at + k] === q8[k]) k++
      if (k < PDQ_BYTES) continue
      const id = this.built + t
      if ((removed[id >>> 5]! >>> (id & 31)) & 1) continue
      if (!out) return true
      out.push(id)
      any = true
    }
    return any
  }

  /**
   * The matches whose canonical ring start is slot s. Three steps, each a
   * loop of independent memory reads (their cache misses overlap; a JS loop
   * cannot prefetch): the bounds of the slot's buckets; the scan of their
   * `next` values, two to a 32-bit read, counting both chunks' differing
   * bits at once, keeping the positions that pass the two-chunk test; then,
   * for those, the third filter from `ids` and the full distance.
   */
  private searchSlot(s: number, d: number, out: PdqMatch[]): void {
    const { masks, weights } = ball(Math.floor(d / CHUNKS))
    const twoBudget = Math.floor((2 * d) / CHUNKS)
    const threeBudget = Math.floor((3 * d) / CHUNKS)
    const q16 = this.q16
    const q32 = this.q32
    const qs = q16[s]!
    const qn = q16[(s + 1) & (CHUNKS - 1)]!
    const qq = (qn | (qn << 16)) >>> 0
    const shift = this.shift
    const low = shift === 8 ? 0xff : 0
    const qx = q16[(s + 2) & (CHUNKS - 1)]! & low
    const off = this.offsets[s]!
    const ids = this.ids[s]!
    const next = this.next[s]!
    const pairs = this.nextPairs[s]!
    const words = this.words
    const halves = this.halves
    const removed = this.removedBits
    const nm = masks.length
    if (this.bounds.length < 2 * nm) this.bounds = new Int32Array(2 * nm)
    const bounds = this.bounds
    let scanned = 0
    for (let m = 0; m < nm; m++) {
      const key = qs ^ masks[m]!
      const start = off[key]!
      const end = off[key + 1]!
      bounds[2 * m] = start
      bounds[2 * m + 1] = end
      scanned += end - start
    }
    if (this.found.length < 2 * scanned) this.found = new Int32Array(Math.max(2 * scanned, 2 * this.found.length))
    const found = this.found
    let nf = 0
    for (let m = 0; m < nm; m++) {
      const budget = twoBudget - weights[m]!
      const end = bounds[2 * m + 1]!
      let p = bounds[2 * m]!
      if (p & 1 && p < end) {
        const b1 = POP16[next[p]! ^ qn]!
        if (b1 <= budget) {
          found[nf++] = p
          found[nf++] = threeBudget - weights[m]! - b1
        }
        p++
      }
      for (; p + 1 < end; p += 2) {
        // Both entries' chunk distances at once: bytes of x count bits, then halves.
        let x = pairs[p >>> 1]! ^ qq
        x -= (x >>> 1) & 0x55555555
        x = (x & 0x33333333) + ((x >>> 2) & 0x33333333)
        x = (x + (x >>> 4)) & 0x0f0f0f0f
        x += x >>> 8
        const first = LITTLE_ENDIAN ? x & 0x1f : (x >>> 16) & 0x1f
        const second = LITTLE_ENDIAN ? (x >>> 16) & 0x1f : x & 0x1f
        if (first <= budget) {
          found[nf++] = p
          found[nf++] = threeBudget - weights[m]! - first
        }
        if (second <= budget) {
          found[nf++] = p + 1
          found[nf++] = threeBudget - weights[m]! - second
        }
      }
      if (p < end) {
        const b1 = POP16[next[p]! ^ qn]!
        if (b1 <= budget) {
          found[nf++] = p
          found[nf++] = threeBudget - weights[m]! - b1
        }
      }
    }
    for (let f = 0; f < nf; f += 2) {
      const word = ids[found[f]!]!
      if (POP16[(word ^ qx) & low]! > found[f + 1]!) continue
      const id = word >>> shift
      const b = id * 8
      let dist = popcount32(words[b]! ^ q32[0]!) + popcount32(words[b + 1]! ^ q32[1]!) + popcount32(words[b + 2]! ^ q32[2]!) + popcount32(words[b + 3]! ^ q32[3]!)
      if (dist > d) continue
      dist += popcount32(words[b + 4]! ^ q32[4]!) + popcount32(words[b + 5]! ^ q32[5]!) + popcount32(words[b + 6]! ^ q32[6]!) + popcount32(words[b + 7]! ^ q32[7]!)
      if (dist > d || (removed[id >>> 5]! >>> (id & 31)) & 1) continue
      if (ringStart(halves, id * 16, q16, d) !== s) continue
      out.push({ index: id, distance: dist })
    }
  }

  private grow<T extends Uint8Array | Uint32Array>(a: T, length: number, exact = false): T {
    if (!exact && length <= a.length) return a
    const bigger = new (a.constructor as new (b: ArrayBuffer | SharedArrayBuffer) => T)(allocate(this.shared, length * a.BYTES_PER_ELEMENT))
    bigger.set(a.subarray(0, Math.min(a.length, length)) as never)
    return bigger
  }
}

/**
 * The first ring start j (0..15) maximising sum_{k<j} (16·b_k − d), b_k the
 * distance of chunk k: from there every run of chunks stays within its share
 * of d, so the run's first two chunks pass slot j's probe and filter.
 */
function ringStart(halves: Uint16Array, base: number, q16: Uint16Array, d: number): number {
  let sum = 0
  let best = 0
  let at = 0
  for (let k = 1; k < CHUNKS; k++) {
    sum += 16 * POP16[halves[base + k - 1]! ^ q16[k - 1]!]! - d
    if (sum > best) {
      best = sum
      at = k
    }
  }
  return at
}
