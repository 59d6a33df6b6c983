/**
 * c2sp.org/tlog-tiles: tile and entry-bundle paths, which tiles a tree of a
 * given size has, reading node hashes out of tiles, authenticating fetched
 * tiles against a checkpoint root, and the entry bundle format.
 *
 * A tile at level L holds consecutive hashes at tree level 8·L; tile N covers
 * those with index N·256 … N·256+W-1. Tree levels 8L … 8L+7 are recomputed by
 * hashing within the tile; level 8L+8 is stored in the tile at level L+1.
 */
import { concat, equalBytes } from './bytes.ts'
import { LedgerError } from './errors.ts'
import { HASH_SIZE, leafHash, nodeHash } from './hash.ts'
import { rootAt, type NodeHashAt, type NodeRef } from './merkle.ts'

export const TILE_HEIGHT = 8
/** Hashes in a full tile, entries in a full bundle. */
export const TILE_WIDTH = 256
export const MAX_TILE_LEVEL = 63
/** Longest entry a bundle can frame (uint16 length prefix). */
export const MAX_BUNDLE_ENTRY = 0xffff

/** A tile: level L, index N, width W (1..255 partial, 256 full). */
export interface TileRef {
  level: number
  index: number
  width: number
}

export type ParsedTilePath =
  | { kind: 'tile'; level: number; index: number; width: number }
  | { kind: 'entries'; index: number; width: number }

const bad = (message: string): never => {
  throw new LedgerError('BAD_TILE', message)
}

function checkTile(t: TileRef): void {
  if (!Number.isInteger(t.level) || t.level < 0 || t.level > MAX_TILE_LEVEL) bad(`tile level must be 0..${MAX_TILE_LEVEL}, got ${String(t.level)}`)
  checkIndexWidth(t.index, t.width)
}

function checkIndexWidth(index: number, width: number): void {
  if (!Number.isSafeInteger(index) || index < 0) bad(`tile index must be a non-negative integer below 2^53, got ${String(index)}`)
  if (!Number.isInteger(width) || width < 1 || width > TILE_WIDTH) bad(`tile width must be 1..${TILE_WIDTH}, got ${String(width)}`)
}

// ---------------------------------------------------------------------------
// Paths

/** <N> as zero-padded 3-digit elements, all but the last prefixed with `x`: 1234067 → x001/x234/067. */
function encodeIndex(index: number): string {
  let digits = String(index)
  digits = digits.padStart(Math.ceil(digits.length / 3) * 3, '0')
  const groups = digits.match(/\d{3}/g)!
  return groups.map((g, i) => (i < groups.length - 1 ? `x${g}` : g)).join('/')
}

function suffix(width: number): string {
  return width === TILE_WIDTH ? '' : `.p/${width}`
}

/** `tile/<L>/<N>[.p/<W>]`, relative to the log prefix. */
export function tilePath(tile: TileRef): string {
  checkTile(tile)
  return `tile/${tile.level}/${encodeIndex(tile.index)}${suffix(tile.width)}`
}

/** `tile/entries/<N>[.p/<W>]`, relative to the log prefix. */
export function entriesPath(index: number, width = TILE_WIDTH): string {
  checkIndexWidth(index, width)
  return `tile/entries/${encodeIndex(index)}${suffix(width)}`
}

// At most 6 index elements: 2^53 has 16 decimal digits.
const PATH_RE = /^tile\/(entries|0|[1-9][0-9]?)\/((?:x[0-9]{3}\/){0,5}[0-9]{3})(?:\.p\/([1-9][0-9]{0,2}))?$/

/** Parses a path produced by tilePath/entriesPath; anything else (other spellings included) is BAD_TILE. */
export function parseTilePath(path: string): ParsedTilePath {
  if (typeof path !== 'string' || path.length > 64) bad('not a tile path')
  const m = PATH_RE.exec(path)
  if (!m) bad(`not a tile path: ${JSON.stringify(path)}`)
  const [, levelText, indexText, widthText] = m!
  const groups = indexText!.split('/')
  if (groups.length > 1 && groups[0] === 'x000') bad(`tile index in ${JSON.stringify(path)} has a leading zero element`)
  const index = Number(groups.map((g) => g.replace('x', '')).join(''))
  if (!Number.isSafeInteger(index)) bad(`tile index in ${JSON.stringify(path)} is too large`)
  let width = TILE_WIDTH
  if (widthText !== undefined) {
    width = Number(widthText)
    if (width > TILE_WIDTH - 1) bad(`partial tile width must be 1..${TILE_WIDTH - 1}, got ${width}`)
  }
  if (levelText === 'entries') return { kind: 'entries', index, width }
  const level = Number(levelText)
  if (level > MAX_TILE_LEVEL) bad(`tile level must be 0..${MAX_TILE_LEVEL}, got ${level}`)
  return { kind: 'tile', level, index, width }
}

// ---------------------------------------------------------------------------
// Which tiles a tree has

/** Width of tile (level, index) in a tree of `size`: 256 full, 1..255 partial, 0 absent. */
export function tileWidthInTree(level: number, index: number, size: number): number {
  const full = Math.floor(size / TILE_WIDTH ** (level + 1))
  if (index < full) return TILE_WIDTH
  if (index === full) return Math.floor(size / TILE_WIDTH ** level) % TILE_WIDTH
  return 0
}

/**
 * Whether a tree of `size` determines this tile: its current tiles, and the
 * narrower partial tiles of earlier sizes (which never change once they exist).
 */
export function tileWithinTree(tile: TileRef, size: number): boolean {
  checkTile(tile)
  const span = TILE_WIDTH ** tile.level
  return (tile.index * TILE_WIDTH + tile.width) * span <= size
}

/** The rightmost, partial tiles of a tree, lowest level first; together they determine its root. */
export function partialTiles(size: number): TileRef[] {
  const out: TileRef[] = []
  for (let level = 0; TILE_WIDTH ** level <= size; level++) {
    const width = Math.floor(size / TILE_WIDTH ** level) % TILE_WIDTH
    if (width > 0) out.push({ level, index: Math.floor(size / TILE_WIDTH ** (level + 1)), width })
  }
  return out
}

/** Every tile of a tree of `size`: at each level the full tiles, then the partial one if any. */
export function* tilesForTree(size: number): Generator<TileRef> {
  for (let level = 0; TILE_WIDTH ** level <= size; level++) {
    const full = Math.floor(size / TILE_WIDTH ** (level + 1))
    for (let index = 0; index < full; index++) yield { level, index, width: TILE_WIDTH }
    const width = Math.floor(size / TILE_WIDTH ** level) % TILE_WIDTH
    if (width > 0) yield { level, index: full, width }
  }
}

// ---------------------------------------------------------------------------
// Node hashes and tiles

/**
 * Where the complete subtree (level, index) lives: tile (tileLevel, tileIndex),
 * made of that tile's hashes [offset, offset + count).
 */
export function tileCoordinatesForHash(level: number, index: number): { tileLevel: number; tileIndex: number; offset: number; count: number } {
  if (!Number.isSafeInteger(level) || level < 0 || level > TILE_HEIGHT * MAX_TILE_LEVEL + TILE_HEIGHT - 1) {
    throw new LedgerError('OUT_OF_RANGE', `tree level ${String(level)} is out of range`)
  }
  if (!Number.isSafeInteger(index) || index < 0) throw new LedgerError('OUT_OF_RANGE', `node index ${String(index)} is out of range`)
  const tileLevel = Math.floor(level / TILE_HEIGHT)
  const count = 2 ** (level - TILE_HEIGHT * tileLevel)
  const first = index * count // index at tree level 8·tileLevel
  if (!Number.isSafeInteger(first)) throw new LedgerError('OUT_OF_RANGE', `node (level ${level}, index ${index}) is out of range`)
  return { tileLevel, tileIndex: Math.floor(first / TILE_WIDTH), offset: first % TILE_WIDTH, count }
}

/** The tile to fetch for node (level, index) of a tree of `size` (OUT_OF_RANGE if the node is not complete there). */
export function tileForHash(level: number, index: number, size: number): TileRef {
  const c = tileCoordinatesForHash(level, index)
  const width = tileWidthInTree(c.tileLevel, c.tileIndex, size)
  if (c.offset + c.count > width) {
    throw new LedgerError('OUT_OF_RANGE', `subtree (level ${level}, index ${index}) is not complete in a tree of size ${size}`)
  }
  return { level: c.tileLevel, index: c.tileIndex, width }
}

function checkTileData(data: Uint8Array): number {
  if (!(data instanceof Uint8Array) || data.length === 0 || data.length % HASH_SIZE !== 0 || data.length > TILE_WIDTH * HASH_SIZE) {
    bad(`tile data must be 1..${TILE_WIDTH} hashes of ${HASH_SIZE} bytes`)
  }
  return data.length / HASH_SIZE
}

/** Merkle hash of the complete subtree over `count` (a power of two) tile hashes from `offset`. */
function hashTileRange(data: Uint8Array, offset: number, count: number): Uint8Array {
  let layer: Uint8Array[] = []
  for (let i = offset; i < offset + count; i++) layer.push(data.subarray(i * HASH_SIZE, (i + 1) * HASH_SIZE))
  while (layer.length > 1) {
    const next: Uint8Array[] = []
    for (let i = 0; i < layer.length; i += 2) next.push(nodeHash(layer[i]!, layer[i + 1]!))
    layer = next
  }
  return layer[0]!.slice()
}

/** Hash of node (level, index) computed from the bytes of the tile at `tileLevel` that holds it. */
export function hashFromTile(tileBytes: Uint8Array, tileLevel: number, level: number, index: number): Uint8Array {
  const width = checkTileData(tileBytes)
  const c = tileCoordinatesForHash(level, index)
  if (c.tileLevel !== tileLevel) {
    throw new LedgerError('OUT_OF_RANGE', `tree level ${level} is in tiles of level ${c.tileLevel}, not ${tileLevel}`)
  }
  if (c.offset + c.count > width) bad(`a tile of width ${width} does not hold subtree (level ${level}, index ${index})`)
  return hashTileRange(tileBytes, c.offset, c.count)
}

/** Bytes of tile (level, index, width): the hashes at tree level 8·level it holds, concatenated. */
export function tileBytes(level: number, index: number, width: number, nodeHashAt: NodeHashAt): Uint8Array {
  checkTile({ level, index, width })
  const parts: Uint8Array[] = []
  for (let i = 0; i < width; i++) parts.push(nodeHashAt(TILE_HEIGHT * level, index * TILE_WIDTH + i))
  return concat(...parts)
}

// ---------------------------------------------------------------------------
// Authenticating fetched tiles

export interface FetchedTile {
  tile: TileRef
  data: Uint8Array
}

const key = (level: number, index: number): string => `${level}/${index}`

/**
 * Tiles a client must fetch to read `nodes` of a tree of `size` in a way it can
 * authenticate: the tiles holding them, every full tile's parent chain, and the
 * tree's partial tiles (which authenticate against the root).
 */
export function tilesForNodes(nodes: NodeRef[], size: number): TileRef[] {
  const want = new Map<string, TileRef>()
  const add = (t: TileRef): void => {
    while (!want.has(key(t.level, t.index))) {
      want.set(key(t.level, t.index), t)
      if (t.width < TILE_WIDTH) break
      const parent = { level: t.level + 1, index: Math.floor(t.index / TILE_WIDTH) }
      t = { ...parent, width: tileWidthInTree(parent.level, parent.index, size) }
    }
  }
  for (const t of partialTiles(size)) add(t)
  for (const n of nodes) add(tileForHash(n.level, n.index, size))
  return [...want.values()]
}

/**
 * Checks fetched tiles against a checkpoint (size, root) and returns a reader
 * of node hashes over them. The tree's partial tiles must reproduce the root;
 * each full tile must hash to the entry its parent tile holds for it; a
 * narrower partial tile must be a prefix of an authenticated one. Throws
 * BAD_TILE on any mismatch or on a tile that cannot be authenticated.
 */
export function authenticateTiles(size: number, root: Uint8Array, tiles: FetchedTile[]): NodeHashAt {
  if (!(root instanceof Uint8Array) || root.length !== HASH_SIZE) bad('checkpoint root must be a 32-byte hash')
  const widest = new Map<string, FetchedTile>()
  for (const f of tiles) {
    checkTile(f.tile)
    if (checkTileData(f.data) !== f.tile.width) bad(`tile ${tilePath(f.tile)} has ${f.data.length} bytes, expected ${f.tile.width * HASH_SIZE}`)
    if (!tileWithinTree(f.tile, size)) bad(`tile ${tilePath(f.tile)} is not part of a tree of size ${size}`)
    const k = key(f.tile.level, f.tile.index)
    const prev = widest.get(k)
    if (!prev || prev.tile.width < f.tile.width) widest.set(k, f)
  }
  // Only the widest version of each tile is read; narrower ones must agree with it.
  for (const f of tiles) {
    const w = widest.get(key(f.tile.level, f.tile.index))!
    if (!equalBytes(w.data.subarray(0, f.data.length), f.data)) bad(`tile ${tilePath(f.tile)} disagrees with ${tilePath(w.tile)}`)
  }
  const authentic = new Set<string>()
  const read = (level: number, index: number): Uint8Array => {
    const c = tileCoordinatesForHash(level, index)
    const f = widest.get(key(c.tileLevel, c.tileIndex))
    if (!f || !authentic.has(key(c.tileLevel, c.tileIndex))) bad(`no authenticated tile holds subtree (level ${level}, index ${index})`)
    return hashFromTile(f!.data, c.tileLevel, level, index)
  }
  for (const t of partialTiles(size)) {
    const f = widest.get(key(t.level, t.index))
    if (!f || f.tile.width !== t.width) bad(`missing tile ${tilePath(t)} needed to check the root`)
    authentic.add(key(t.level, t.index))
  }
  if (!equalBytes(rootAt(size, read), root)) bad(`tiles do not match the root of the tree of size ${size}`)
  // Parents before children: a full tile's hash sits in the tile one level up.
  const full = [...widest.values()].filter((f) => f.tile.width === TILE_WIDTH).sort((a, b) => b.tile.level - a.tile.level)
  for (const f of full) {
    const expected = read(TILE_HEIGHT * (f.tile.level + 1), f.tile.index)
    if (!equalBytes(hashTileRange(f.data, 0, TILE_WIDTH), expected)) bad(`tile ${tilePath(f.tile)} does not match its parent tile`)
    authentic.add(key(f.tile.level, f.tile.index))
  }
  for (const f of widest.values()) {
    if (!authentic.has(key(f.tile.level, f.tile.index))) bad(`tile ${tilePath(f.tile)} cannot be authenticated against a tree of size ${size}`)
  }
  return read
}

// ---------------------------------------------------------------------------
// Entry bundles

/** Concatenates uint16 big-endian length-prefixed entries (at most 256 of them). */
export function encodeEntryBundle(entries: Uint8Array[]): Uint8Array {
  if (entries.length > TILE_WIDTH) throw new LedgerError('TOO_LARGE', `a bundle holds at most ${TILE_WIDTH} entries, got ${entries.length}`)
  let n = 0
  for (const e of entries) {
    if (e.length > MAX_BUNDLE_ENTRY) throw new LedgerError('TOO_LARGE', `entry of ${e.length} bytes exceeds the ${MAX_BUNDLE_ENTRY}-byte limit of a bundle`)
    n += 2 + e.length
  }
  const out = new Uint8Array(n)
  let o = 0
  for (const e of entries) {
    out[o] = e.length >>> 8
    out[o + 1] = e.length & 0xff
    out.set(e, o + 2)
    o += 2 + e.length
  }
  return out
}

export interface DecodeBundleOptions {
  /** Cap on entries (default 256); more is TOO_LARGE. */
  maxEntries?: number
  /** Exact entry count expected (the W of the requested bundle); otherwise BAD_TILE. */
  count?: number
}

/** Splits a bundle into entries; truncated framing or a wrong count is BAD_TILE. */
export function decodeEntryBundle(bytes: Uint8Array, options: DecodeBundleOptions = {}): Uint8Array[] {
  const maxEntries = options.maxEntries ?? TILE_WIDTH
  if (bytes.length > maxEntries * (2 + MAX_BUNDLE_ENTRY)) throw new LedgerError('TOO_LARGE', `bundle of ${bytes.length} bytes is larger than ${maxEntries} entries can be`)
  const out: Uint8Array[] = []
  let o = 0
  while (o < bytes.length) {
    if (out.length >= maxEntries) throw new LedgerError('TOO_LARGE', `bundle holds more than ${maxEntries} entries`)
    if (o + 2 > bytes.length) bad(`bundle is truncated inside the length of entry ${out.length}`)
    const len = (bytes[o]! << 8) | bytes[o + 1]!
    if (o + 2 + len > bytes.length) bad(`bundle is truncated inside entry ${out.length} (${len} bytes announced)`)
    out.push(bytes.slice(o + 2, o + 2 + len))
    o += 2 + len
  }
  if (options.count !== undefined && out.length !== options.count) bad(`bundle holds ${out.length} entries, expected ${options.count}`)
  return out
}

/** Checks that each entry hashes to the matching leaf hash of a level-0 tile (the tile may be wider). */
export function verifyEntryBundle(entries: Uint8Array[], level0Tile: Uint8Array): void {
  const width = checkTileData(level0Tile)
  if (entries.length > width) bad(`bundle has ${entries.length} entries but the tile only ${width} hashes`)
  entries.forEach((e, i) => {
    if (!equalBytes(leafHash(e), level0Tile.subarray(i * HASH_SIZE, (i + 1) * HASH_SIZE))) bad(`entry ${i} of the bundle does not match its tile hash`)
  })
}
