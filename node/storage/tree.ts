/**
 * Reading a log's Merkle tree from its stored c2sp tlog-tiles: subtree hashes,
 * roots, inclusion and consistency proofs (RFC 9162), and the tiles served.
 * Tile (L, N) holds the hashes at tree level 8L with indexes 256N…256N+255;
 * the right-most tile of each level is partial and mirrored in memory as the
 * log's "edge", so the current root needs no reads. Full tiles never change,
 * so what is computed from them (inner nodes, folded proof elements) is cached.
 * The Store writes tiles (store.ts append); this file only reads them.
 *
 * Integrity: nothing read from the store is used unchecked. A full tile is
 * checked once against the tree — its 256 hashes must fold to the hash the
 * level above holds at its place, up to the in-memory edge, which the store
 * checks against the signed checkpoint when it opens — and its SHA-256 is
 * kept, so a later read costs one SHA-256 of 8 KiB instead of 255 node
 * hashes. Stored inner nodes ('N') are checked the same way against the
 * rows computed from the checked tile. A mismatch is reported through
 * `onCorrupt`, which throws STORAGE_CORRUPT.
 *
 * One leaf or one proof needs only ~8 nodes of each tile, so checking its
 * whole cold level-0 tile (255 hashes) would be most of its cost. Those are
 * read as stored instead and checked by what they are: the leaf and its
 * proof must fold to a root this reader trusts (the edge's, or a checked
 * checkpoint's; RFC 9162 §2.1.3.2), ~24 hashes. Only when they do not is
 * the read done the checked way above, which names the damaged tile. In a
 * log small enough for its tiles to stay cached, a tile asked for a second
 * time is checked whole and kept (warm), and reads in it come from memory.
 */
import type { KV } from './kv.ts'
import { keys } from './keys.ts'
import { HASH_SIZE, nodeHash, nodeHashInto, EMPTY_ROOT } from '../../protocol/hash.ts'
import { subtreesOfRange, foldSubtrees, inclusionProofPlan, consistencyProofPlan, assembleProof, verifyInclusion, type ProofPlan } from '../../protocol/merkle.ts'
import { LedgerError } from '../../protocol/errors.ts'
import { equalBytes, sha256 } from '../../protocol/bytes.ts'

export const TILE_WIDTH = 256
export const TILE_HEIGHT = 8
/** Complete subtrees remembered as shown by a proof (TreeReader.verified): ~25 MB at most. */
const VERIFIED_NODES = 1 << 17
/** Checked full tiles kept (8 KiB each), and their inner rows (8 KiB a tile). */
const TILE_CACHE = 4096
const INNER_CACHE = 2048
/**
 * A log of up to this many entries has all its level-0 tiles and their
 * inner rows fit in the caches: TreeReader.warm checks and keeps a tile a
 * lookup or proof asks for a second time, so such a log is served from
 * memory (a tile evicted by other reads is kept again at its next second
 * ask). A larger one would only churn the caches (each miss costing a
 * 255-hash check); its proofs and lookups read the ~9 nodes they need as stored.
 */
const WARM_LOG_ENTRIES = INNER_CACHE * TILE_WIDTH
/** Level-0 tiles asked for once, remembered to see a second ask. */
const ASKED_TILES = INNER_CACHE

/** The key of a proof element folded from several complete subtrees (foldCache). */
function foldKey(num: number, el: ProofPlan[number]): string {
  return `${num}/${el.map((n) => `${n.level}.${n.index}`).join(',')}`
}

/** What the tree reader needs of a log: its store number, origin (for errors), size and in-memory edge. */
export interface TreeState {
  num: number
  origin: string
  size: number
  /** edge[L]: the hashes of the partial tile at level L (length multiple of 32, < 256 hashes). */
  edge: Uint8Array[]
}

/**
 * The rows of complete-subtree hashes above a row of tile hashes: for a full
 * tile 128, 64, …, 1 (the last is the tile's subtree root); for a partial one
 * of n hashes, floor(n/2), floor(n/4), … (only the complete subtrees). The
 * rows are consecutive views of one buffer (innerNodesOf gives it whole).
 */
export function innerRows(tile: Uint8Array): Uint8Array[] {
  let total = 0
  for (let width = Math.floor(tile.length / HASH_SIZE / 2); width >= 1; width = Math.floor(width / 2)) total += width
  const all = new Uint8Array(total * HASH_SIZE)
  const rows: Uint8Array[] = []
  let below = tile
  let at = 0
  for (let width = Math.floor(tile.length / HASH_SIZE / 2); width >= 1; width = Math.floor(width / 2)) {
    for (let i = 0; i < width; i++) nodeHashInto(below, 2 * i * HASH_SIZE, all, at + i * HASH_SIZE)
    below = all.subarray(at, at + width * HASH_SIZE)
    rows.push(below)
    at += width * HASH_SIZE
  }
  return rows
}

/** The rows of innerRows as the one buffer they are views of (what 'N' stores for a full tile). */
export function innerNodesOf(rows: Uint8Array[]): Uint8Array {
  const first = rows[0]!
  const last = rows[rows.length - 1]!
  return new Uint8Array(first.buffer, first.byteOffset, last.byteOffset + last.length - first.byteOffset)
}

/** Hash of the complete subtree over `count` (a power of two) consecutive 32-byte hashes in `buf` from `first`. */
export function subtreeHash(buf: Uint8Array, first: number, count: number): Uint8Array {
  if (count === 1) return buf.subarray(first * HASH_SIZE, (first + 1) * HASH_SIZE)
  const half = count >>> 1
  return nodeHash(subtreeHash(buf, first, half), subtreeHash(buf, first + half, half))
}

/** Root of a tree of `size` leaves from its edge alone. */
export function edgeRoot(edge: Uint8Array[], size: number): Uint8Array {
  if (size === 0) return EMPTY_ROOT
  return foldSubtrees(subtreesOfRange(0, size).map(({ level, index }) => {
    const tl = Math.floor(level / TILE_HEIGHT)
    const k = level - tl * TILE_HEIGHT
    const first = (index * 2 ** k) % TILE_WIDTH
    return subtreeHash(edge[tl]!, first, 2 ** k)
  }))
}

/** The hash at byte offset `at` of a row of hashes, if the row holds it. */
function hashAt(row: Uint8Array | undefined, at: number): Uint8Array | undefined {
  return row && row.length >= at + HASH_SIZE ? row.subarray(at, at + HASH_SIZE) : undefined
}

/** What did not match: a tile (its hashes do not fold to the level above), or a full tile's stored inner nodes. */
export type TreeDamage = { what: 'tile' | 'inner'; level: number; index: number }

/** Called when stored tree data does not match the tree; it records the damage and throws STORAGE_CORRUPT. */
export type OnCorrupt = (st: TreeState, damage: TreeDamage) => never

export class TreeReader {
  /** Full tiles checked against the tree (a tile's bytes are cached only once checked). */
  private readonly tileCache = new Map<string, Uint8Array>()
  /** SHA-256 of every full tile and of its inner nodes checked since the store opened: a re-read is checked with one hash. */
  private readonly tileDigest = new Map<string, Uint8Array>()
  private readonly innerDigest = new Map<string, Uint8Array>()
  /** Inner nodes of full tiles (immutable), computed once: a proof needs up to 8 per tile. */
  private readonly innerCache = new Map<string, Uint8Array[]>()
  /** Inner rows of each log's partial edge tiles, recomputed only when that edge changes. */
  private readonly edgeInnerCache = new Map<string, { edge: Uint8Array; rows: Uint8Array[] }>()
  /** Each log's current root, from its edge (currentRoot). */
  private readonly rootCache = new Map<number, { size: number; edge: Uint8Array[]; root: Uint8Array }>()
  /** Tile checks under way (checkedTile), so that concurrent readers of one tile share one check. */
  private readonly tileChecks = new Map<string, Promise<Uint8Array>>()
  /** Proof elements folded from several complete subtrees, keyed by the subtrees they fold. */
  private readonly foldCache = new Map<string, Uint8Array>()
  /**
   * Hashes of complete subtrees at level ≥ TILE_HEIGHT (`num/level/index`)
   * shown by a proof that folded to a trusted root (foldsVerified): complete
   * subtrees never change, so a later proof stops folding where it meets
   * one, and takes its siblings up there from here instead of the store.
   * At 10M entries the levels from 8 up hold ~80k nodes.
   */
  private readonly verified = new Map<string, Uint8Array>()
  /** Level-0 tiles asked for once by warm() (bounded, oldest forgotten first). */
  private readonly askedOnce = new Set<string>()

  constructor(private readonly kv: KV, private readonly onCorrupt: OnCorrupt) {}

  /** Forgets what was checked for a log (after its stored tree was repaired). */
  forget(num: number): void {
    this.rootCache.delete(num)
    for (const m of [this.tileCache, this.tileDigest, this.innerDigest, this.innerCache, this.foldCache, this.edgeInnerCache, this.verified, this.askedOnce]) {
      for (const k of m.keys()) if (k.startsWith(`${num}/`)) m.delete(k)
    }
  }

  /** Reads the tile (full or partial) at (level, index) of a log, checked against the tree; undefined beyond the log. */
  private async readTile(st: TreeState, level: number, index: number): Promise<Uint8Array | undefined> {
    const hashesAtLevel = Math.floor(st.size / TILE_WIDTH ** level)
    if (index === Math.floor(hashesAtLevel / TILE_WIDTH) && hashesAtLevel % TILE_WIDTH !== 0) return st.edge[level]
    if ((index + 1) * TILE_WIDTH > hashesAtLevel) return undefined
    return this.checkedTile(st, level, index)
  }

  /**
   * The full tile (level, index), checked: against its digest if it was
   * checked before, else by folding its hashes to the hash the level above
   * holds for it (checked the same way, up to the in-memory edge).
   */
  private checkedTile(st: TreeState, level: number, index: number): Promise<Uint8Array> {
    const ck = `${st.num}/${level}/${index}`
    const cached = this.tileCache.get(ck)
    if (cached) return Promise.resolve(cached)
    // The elements of one proof ask for the same tile at once: it is read and checked once.
    let pending = this.tileChecks.get(ck)
    if (!pending) {
      pending = this.checkTileNow(st, level, index, ck).finally(() => this.tileChecks.delete(ck))
      this.tileChecks.set(ck, pending)
    }
    return pending
  }

  private async checkTileNow(st: TreeState, level: number, index: number, ck: string): Promise<Uint8Array> {
    // Tiles are small and hot (every proof reads a few): read on this thread, not through the I/O pool.
    const t = this.readSync(keys.tile(st.num, level, index))
    if (!t || t.length !== TILE_WIDTH * HASH_SIZE) this.onCorrupt(st, { what: 'tile', level, index })
    const digest = this.tileDigest.get(ck)
    if (digest) {
      if (!equalBytes(sha256(t), digest)) this.onCorrupt(st, { what: 'tile', level, index })
    } else {
      const rows = innerRows(t)
      const above = await this.readTile(st, level + 1, Math.floor(index / TILE_WIDTH))
      const at = (index % TILE_WIDTH) * HASH_SIZE
      if (!above || above.length < at + HASH_SIZE || !equalBytes(rows[rows.length - 1]!, above.subarray(at, at + HASH_SIZE))) {
        this.onCorrupt(st, { what: 'tile', level, index })
      }
      this.tileDigest.set(ck, sha256(t))
      this.innerDigest.set(ck, sha256(innerNodesOf(rows)))
      this.cacheInner(ck, rows)
    }
    if (this.tileCache.size >= TILE_CACHE) this.tileCache.delete(this.tileCache.keys().next().value!)
    this.tileCache.set(ck, t)
    return t
  }

  /** True when the full tile (level, index) has been checked since the store opened (the check sweep skips it). */
  isChecked(num: number, level: number, index: number): boolean {
    return this.tileDigest.has(`${num}/${level}/${index}`)
  }

  /** Checks the full tile (level, index) against the tree (the sweep at start and `cairn node check`). */
  async checkTile(st: TreeState, level: number, index: number): Promise<void> {
    await this.checkedTile(st, level, index)
  }

  /** The leaf hashes of entries [start, end), from the checked level-0 tiles (one view per entry). */
  async leafHashes(st: TreeState, start: number, end: number): Promise<Uint8Array[]> {
    const out: Uint8Array[] = []
    for (let i = start; i < end;) {
      const tileIndex = Math.floor(i / TILE_WIDTH)
      const tile = await this.readTile(st, 0, tileIndex)
      const stop = Math.min(end, (tileIndex + 1) * TILE_WIDTH)
      for (; i < stop; i++) {
        const at = (i % TILE_WIDTH) * HASH_SIZE
        if (!tile || tile.length < at + HASH_SIZE) this.onCorrupt(st, { what: 'tile', level: 0, index: tileIndex })
        out.push(tile.subarray(at, at + HASH_SIZE))
      }
    }
    return out
  }

  /** A stored value, or undefined when it is missing or LevelDB cannot read its block (both: damaged data). */
  private readSync(key: Uint8Array): Uint8Array | undefined {
    try {
      return this.kv.getSync(key)
    } catch {
      return undefined
    }
  }

  private cacheInner(ck: string, rows: Uint8Array[]): void {
    if (this.innerCache.size >= INNER_CACHE) this.innerCache.delete(this.innerCache.keys().next().value!)
    this.innerCache.set(ck, rows)
  }

  /** Hash of the complete subtree at (level, index); it must lie within the log's current size. */
  async nodeHashAt(st: TreeState, level: number, index: number): Promise<Uint8Array> {
    const origin = st.origin
    if ((index + 1) * 2 ** level > st.size) throw new LedgerError('OUT_OF_RANGE', `subtree ${level}/${index} is beyond ${origin}'s size ${st.size}`)
    const tl = Math.floor(level / TILE_HEIGHT)
    const k = level - tl * TILE_HEIGHT
    const first = index * 2 ** k
    const tileIndex = Math.floor(first / TILE_WIDTH)
    const within = first % TILE_WIDTH
    if (k === 0) {
      const tile = await this.readTile(st, tl, tileIndex)
      if (!tile || tile.length < (within + 1) * HASH_SIZE) throw new LedgerError('STORAGE_CORRUPT', `tile ${tl}/${tileIndex} of ${origin} is missing`)
      return tile.subarray(within * HASH_SIZE, (within + 1) * HASH_SIZE)
    }
    // Inside a full tile, every inner node is computed once and cached (proofs need up to 8 per tile).
    const inner = await this.innerNodes(st, tl, tileIndex)
    if (inner) return inner[k - 1]!.subarray((within >> k) * HASH_SIZE, ((within >> k) + 1) * HASH_SIZE)
    const hashesAtLevel = Math.floor(st.size / TILE_WIDTH ** tl)
    if (tileIndex === Math.floor(hashesAtLevel / TILE_WIDTH)) {
      // The partial right-edge tile: its complete inner nodes, computed once per size of the edge.
      const rows = this.edgeInner(st, tl)
      const row = rows[k - 1]
      if (row && row.length >= ((within >> k) + 1) * HASH_SIZE) return row.subarray((within >> k) * HASH_SIZE, ((within >> k) + 1) * HASH_SIZE)
    }
    const tile = await this.readTile(st, tl, tileIndex)
    if (!tile || tile.length < (within + 2 ** k) * HASH_SIZE) throw new LedgerError('STORAGE_CORRUPT', `tile ${tl}/${tileIndex} of ${origin} is missing`)
    return subtreeHash(tile, within, 2 ** k)
  }

  /** Inner rows of the complete subtrees of the partial edge tile at `level`, cached until the edge changes. */
  private edgeInner(st: TreeState, level: number): Uint8Array[] {
    const edge = st.edge[level] ?? new Uint8Array(0)
    const ck = `${st.num}/${level}`
    const cached = this.edgeInnerCache.get(ck)
    if (cached && cached.edge === edge) return cached.rows
    const rows = innerRows(edge)
    this.edgeInnerCache.set(ck, { edge, rows })
    return rows
  }

  /**
   * The hashes at heights 1..8 above a FULL tile's hashes (128, 64, … 1 of them),
   * cached; undefined for the partial right-edge tile (its inner nodes change as it grows).
   */
  private async innerNodes(st: TreeState, level: number, index: number): Promise<Uint8Array[] | undefined> {
    const hashesAtLevel = Math.floor(st.size / TILE_WIDTH ** level)
    if ((index + 1) * TILE_WIDTH > hashesAtLevel) return undefined
    const ck = `${st.num}/${level}/${index}`
    const cached = this.innerCache.get(ck)
    if (cached) return cached
    // Not checked yet since the store opened: checking the tile computes its inner rows (and caches them).
    if (!this.innerDigest.has(ck)) {
      await this.checkedTile(st, level, index)
      const rows = this.innerCache.get(ck)
      if (rows) return rows
    }
    const stored = this.readSync(keys.inner(st.num, level, index))
    let levels: Uint8Array[]
    if (stored && stored.length === (TILE_WIDTH - 1) * HASH_SIZE && equalBytes(sha256(stored), this.innerDigest.get(ck)!)) {
      levels = []
      for (let width = TILE_WIDTH / 2, off = 0; width >= 1; off += width * HASH_SIZE, width /= 2) levels.push(stored.subarray(off, off + width * HASH_SIZE))
    } else {
      // Missing (stores written before inner nodes were kept) or damaged: computed from the checked tile.
      levels = innerRows(await this.checkedTile(st, level, index))
    }
    this.cacheInner(ck, levels)
    return levels
  }

  /** RFC 9162 MTH of the entries in [start, end): right fold of its complete subtrees. */
  async rangeHash(st: TreeState, start: number, end: number): Promise<Uint8Array> {
    const nodes = subtreesOfRange(start, end)
    return foldSubtrees(await Promise.all(nodes.map(({ level, index }) => this.nodeHashAt(st, level, index))))
  }

  async root(st: TreeState, size: number): Promise<Uint8Array> {
    if (size > st.size) throw new LedgerError('OUT_OF_RANGE', `${st.origin} holds ${st.size} entries, not ${size}`)
    return size === st.size ? edgeRoot(st.edge, size) : this.rangeHash(st, 0, size)
  }

  private async fillPlan(st: TreeState, plan: ProofPlan): Promise<Uint8Array[]> {
    return Promise.all(plan.map(async (el) => {
      if (el.length === 1) return this.nodeHashAt(st, el[0]!.level, el[0]!.index)
      // An element folded from several complete subtrees (the right border of the tree): the same for every
      // proof at this size, and never changing (complete subtrees are immutable), so it is folded once.
      const ck = foldKey(st.num, el)
      const cached = this.foldCache.get(ck)
      if (cached) return cached
      const folded = assembleProof([el], [await Promise.all(el.map(({ level, index }) => this.nodeHashAt(st, level, index)))])[0]!
      if (this.foldCache.size >= 1024) this.foldCache.delete(this.foldCache.keys().next().value!)
      this.foldCache.set(ck, folded)
      return folded
    }))
  }

  /**
   * Before a read of one leaf or proof in a log of at most WARM_LOG_ENTRIES:
   * the second time the full level-0 tile holding `index` is asked for, it
   * is checked whole (its 255 hashes folded to the level above, as any
   * checked read; damage anywhere in it throws STORAGE_CORRUPT and the log
   * is healed) and kept with its inner rows, so later reads in it take
   * nothing from the store.
   */
  async warm(st: TreeState, index: number): Promise<void> {
    if (st.size > WARM_LOG_ENTRIES) return
    const tileIndex = Math.floor(index / TILE_WIDTH)
    if ((tileIndex + 1) * TILE_WIDTH > st.size) return // the partial edge tile is in memory
    const ck = `${st.num}/0/${tileIndex}`
    if (this.tileCache.has(ck) && this.innerCache.has(ck)) return
    if (!this.askedOnce.delete(ck)) {
      if (this.askedOnce.size >= ASKED_TILES) this.askedOnce.delete(this.askedOnce.values().next().value!)
      this.askedOnce.add(ck)
      return
    }
    await this.checkedTile(st, 0, tileIndex)
    await this.innerNodes(st, 0, tileIndex)
  }

  /** RFC 9162 §2.1.3.1 inclusion proof for `index` in the tree of `size`. */
  async inclusionProof(st: TreeState, index: number, size: number): Promise<Uint8Array[]> {
    if (size > st.size) throw new LedgerError('OUT_OF_RANGE', `${st.origin} holds ${st.size} entries, not ${size}`)
    return this.fillPlan(st, inclusionProofPlan(index, size))
  }

  /**
   * inclusionProof when the root of the tree of `size` is known (`root`, or
   * the edge's when `size` is the log's size): the proof is read as stored and
   * returned if it folds the stored leaf to that root; else it is read the
   * checked way (which reports the damage) and must fold to it too.
   */
  async inclusionProofTo(st: TreeState, index: number, size: number, root?: Uint8Array): Promise<Uint8Array[]> {
    if (size > st.size) throw new LedgerError('OUT_OF_RANGE', `${st.origin} holds ${st.size} entries, not ${size}`)
    const trusted = root ?? (size === st.size ? this.currentRoot(st) : undefined)
    if (!trusted) return this.inclusionProof(st, index, size)
    await this.warm(st, index)
    const plan = inclusionProofPlan(index, size)
    if (this.checkedLeaf(st, index)) return this.fillPlan(st, plan) // its tile is checked and kept: from memory
    const reads = new Map<string, Uint8Array | undefined>()
    const leaf = this.storedNode(st, 0, index, reads)
    const proof = leaf && this.storedPlan(st, plan, reads)
    if (leaf && proof && this.foldsVerified(st, leaf, index, size, plan, proof, trusted)) return proof
    const checked = await this.fillPlan(st, plan)
    const checkedLeaf = await this.nodeHashAt(st, 0, index)
    if (!this.folds(checkedLeaf, index, size, checked, trusted)) {
      throw new LedgerError('STORAGE_CORRUPT', `the checked tiles of ${st.origin} do not fold entry ${index} to the root of its tree of size ${size}`)
    }
    return checked
  }

  /**
   * True if `leaf` (the leaf hash of an entry read from the store) is the
   * leaf at `index` of the log's current tree, shown by its proof read as
   * stored; false means "not shown" (the caller checks the checked way).
   */
  leafInTree(st: TreeState, index: number, leaf: Uint8Array): boolean {
    if (index >= st.size) return false
    const known = this.checkedLeaf(st, index)
    if (known) return equalBytes(known, leaf)
    const plan = inclusionProofPlan(index, st.size)
    const proof = this.storedPlan(st, plan, new Map())
    return proof !== undefined && this.foldsVerified(st, leaf, index, st.size, plan, proof, this.currentRoot(st))
  }

  /**
   * The leaf hash at `index` if its level-0 tile is held checked: the
   * in-memory edge, or a full tile kept with its inner rows (warm, or any
   * checked read); else undefined.
   */
  private checkedLeaf(st: TreeState, index: number): Uint8Array | undefined {
    const tileIndex = Math.floor(index / TILE_WIDTH)
    const at = (index % TILE_WIDTH) * HASH_SIZE
    if ((tileIndex + 1) * TILE_WIDTH > st.size) return hashAt(st.edge[0], at)
    const ck = `${st.num}/0/${tileIndex}`
    return this.innerCache.has(ck) ? hashAt(this.tileCache.get(ck), at) : undefined
  }

  /**
   * verifyInclusion over a proof read as stored, with a short cut: where the
   * subtree folded so far is a complete one already shown (this.verified),
   * it must equal that, and if every element left is shown too (complete
   * subtrees in this.verified, right-border folds in foldCache) the proof is
   * the tree's without hashing up to the root; else the fold goes on to the
   * root. On success the complete subtrees at level ≥ 8 on the path and
   * among the elements are remembered as shown, and right-border folds in
   * foldCache. False: not shown (the caller reads the checked way).
   */
  private foldsVerified(st: TreeState, leaf: Uint8Array, index: number, size: number, plan: ProofPlan, proof: Uint8Array[], root: Uint8Array): boolean {
    if (proof.length !== plan.length) return false
    const shown: [string, Uint8Array][] = []
    const folds: [string, Uint8Array][] = []
    let lo = index
    let hi = index + 1
    let r = leaf
    let metAt = -1
    for (let j = 0; j < plan.length; j++) {
      const el = plan[j]!
      const first = el[0]!
      const last = el[el.length - 1]!
      const elLo = first.index * 2 ** first.level
      const elHi = (last.index + 1) * 2 ** last.level
      if (elLo === hi) {
        r = nodeHash(r, proof[j]!)
        hi = elHi
      } else if (elHi === lo) {
        r = nodeHash(proof[j]!, r)
        lo = elLo
      } else {
        return false
      }
      if (el.length === 1) {
        if (first.level >= TILE_HEIGHT) shown.push([`${st.num}/${first.level}/${first.index}`, proof[j]!])
      } else {
        folds.push([foldKey(st.num, el), proof[j]!])
      }
      const n = hi - lo
      if (n >= TILE_WIDTH && (n & (n - 1)) === 0 && lo % n === 0) {
        const key = `${st.num}/${Math.log2(n)}/${lo / n}`
        const known = this.verified.get(key)
        if (!known) {
          shown.push([key, r])
        } else if (!equalBytes(known, r)) {
          return false
        } else if (this.restShown(st, plan, proof, j + 1)) {
          metAt = j
          break
        }
      }
    }
    const ok = metAt >= 0 || (lo === 0 && hi === size && equalBytes(r, root))
    if (ok) {
      for (const [key, h] of shown) {
        if (this.verified.size >= VERIFIED_NODES) this.verified.delete(this.verified.keys().next().value!)
        this.verified.set(key, h)
      }
      for (const [key, h] of folds) {
        if (this.foldCache.size >= 1024) this.foldCache.delete(this.foldCache.keys().next().value!)
        this.foldCache.set(key, h)
      }
    }
    return ok
  }

  /** True if proof elements [from, …) are each a shown complete subtree or a cached right-border fold, byte for byte. */
  private restShown(st: TreeState, plan: ProofPlan, proof: Uint8Array[], from: number): boolean {
    for (let j = from; j < plan.length; j++) {
      const el = plan[j]!
      const known = el.length === 1 ? this.verified.get(`${st.num}/${el[0]!.level}/${el[0]!.index}`) : this.foldCache.get(foldKey(st.num, el))
      if (!known || !equalBytes(known, proof[j]!)) return false
    }
    return true
  }

  private folds(leaf: Uint8Array, index: number, size: number, proof: Uint8Array[], root: Uint8Array): boolean {
    try {
      verifyInclusion(leaf, index, size, proof, root)
      return true
    } catch {
      return false
    }
  }

  /** The root of the log's current tree, from its edge (checked when the store opened), computed once per edge. */
  private currentRoot(st: TreeState): Uint8Array {
    const cached = this.rootCache.get(st.num)
    if (cached && cached.size === st.size && cached.edge.length === st.edge.length && cached.edge.every((e, l) => e === st.edge[l])) return cached.root
    const root = edgeRoot(st.edge, st.size)
    this.rootCache.set(st.num, { size: st.size, edge: [...st.edge], root })
    return root
  }

  /** The proof hashes of `plan` as stored (nothing checked); undefined if any cannot be read. */
  private storedPlan(st: TreeState, plan: ProofPlan, reads: Map<string, Uint8Array | undefined>): Uint8Array[] | undefined {
    const out: Uint8Array[] = []
    for (const el of plan) {
      if (el.length === 1) {
        const h = this.storedNode(st, el[0]!.level, el[0]!.index, reads)
        if (!h) return undefined
        out.push(h)
        continue
      }
      const folded = this.foldCache.get(foldKey(st.num, el)) // folded from checked nodes, or shown by a proof
      if (folded) {
        out.push(folded)
        continue
      }
      const hashes: Uint8Array[] = []
      for (const { level, index } of el) {
        const h = this.storedNode(st, level, index, reads)
        if (!h) return undefined
        hashes.push(h)
      }
      out.push(assembleProof([el], [hashes])[0]!)
    }
    return out
  }

  /**
   * The hash of the complete subtree at (level, index) as stored, nothing
   * checked: from the in-memory edge, the caches (checked data), or the
   * stored tile and inner nodes (read once per call through `reads`).
   */
  private storedNode(st: TreeState, level: number, index: number, reads: Map<string, Uint8Array | undefined>): Uint8Array | undefined {
    const tl = Math.floor(level / TILE_HEIGHT)
    const k = level - tl * TILE_HEIGHT
    const first = index * 2 ** k
    const tileIndex = Math.floor(first / TILE_WIDTH)
    const within = first % TILE_WIDTH
    const at = (within >> k) * HASH_SIZE
    const hashesAtLevel = Math.floor(st.size / TILE_WIDTH ** tl)
    if ((tileIndex + 1) * TILE_WIDTH > hashesAtLevel) {
      if (tileIndex !== Math.floor(hashesAtLevel / TILE_WIDTH)) return undefined // beyond the log
      return hashAt(k === 0 ? st.edge[tl] : this.edgeInner(st, tl)[k - 1], at)
    }
    if (level >= TILE_HEIGHT) {
      const shown = this.verified.get(`${st.num}/${level}/${index}`)
      if (shown) return shown
    }
    const ck = `${st.num}/${tl}/${tileIndex}`
    if (k === 0) {
      const tk = `t${ck}`
      if (!reads.has(tk)) {
        const t = this.tileCache.get(ck) ?? this.readSync(keys.tile(st.num, tl, tileIndex))
        reads.set(tk, t && t.length === TILE_WIDTH * HASH_SIZE ? t : undefined)
      }
      return hashAt(reads.get(tk), at)
    }
    const cached = this.innerCache.get(ck)
    if (cached) return hashAt(cached[k - 1], at)
    const nk = `n${ck}`
    if (!reads.has(nk)) {
      const stored = this.readSync(keys.inner(st.num, tl, tileIndex))
      reads.set(nk, stored && stored.length === (TILE_WIDTH - 1) * HASH_SIZE ? stored : undefined)
    }
    const stored = reads.get(nk)
    if (!stored) return undefined
    // Row k - 1 of the inner nodes (128, 64, … hashes) starts after the rows below it.
    let off = 0
    for (let width = TILE_WIDTH / 2, r = 0; r < k - 1; r++, width /= 2) off += width * HASH_SIZE
    return hashAt(stored.subarray(off, off + (TILE_WIDTH >> k) * HASH_SIZE), at)
  }

  /** RFC 9162 §2.1.4.1 consistency proof between sizes m ≤ n. */
  async consistencyProof(st: TreeState, m: number, n: number): Promise<Uint8Array[]> {
    if (n > st.size) throw new LedgerError('OUT_OF_RANGE', `${st.origin} holds ${st.size} entries, not ${n}`)
    return this.fillPlan(st, consistencyProofPlan(m, n))
  }

  /** Tile bytes per tlog-tiles: full (width 256) or the first `width` hashes; undefined if not (yet) that large. */
  async tile(st: TreeState, level: number, index: number, width = TILE_WIDTH): Promise<Uint8Array | undefined> {
    const hashesAtLevel = Math.floor(st.size / TILE_WIDTH ** level)
    if (index * TILE_WIDTH + width > hashesAtLevel) return undefined
    const t = await this.readTile(st, level, index)
    if (!t || t.length < width * HASH_SIZE) throw new LedgerError('STORAGE_CORRUPT', `tile ${level}/${index} of ${st.origin} is missing`)
    return t.subarray(0, width * HASH_SIZE)
  }
}
