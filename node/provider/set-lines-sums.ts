/**
 * BlockSums: a CRC-32 per block of a set-lines file (block k = the bytes of
 * lines [1024k, 1024(k+1)), from mark k to mark k + 1 or the end), kept in
 * memory only. They are taken of bytes this process wrote or checked against
 * the store (set-lines-check.ts), and a snapshot read from the file is
 * checked against them block by block before any of it is sent: a file
 * changed under a running node (a disk error, an edit) is found at the next
 * snapshot that reads it. CRC-32 finds accidents (a disk error, an edit of a
 * line), not a forger: the sums recorded in state.json (set-lines.ts
 * checkBySums) sit beside the files, so one who can write the node's
 * directory can change both, as they can its store. A provider's defence
 * is to check every line against the signed entries (`cairn sync
 * --from-snapshot`); `cairn node check` compares every line with the store.
 * It costs ~0.5 ns a byte, SHA-256 three times as much.
 */
import { crc32 } from 'node:zlib'

export class BlockSums {
  private sums: number[] = []

  /** Blocks with a sum (the last may still grow). */
  get length(): number {
    return this.sums.length
  }

  reset(): void {
    this.sums = []
  }

  /** The sums of blocks [0, sums.length), recorded earlier and found to match the file. */
  load(sums: readonly number[]): void {
    this.sums = [...sums]
  }

  /**
   * Adds `buf`, the bytes of the file from offset `at`, to the blocks;
   * `starts` are the offsets in [at, at + buf.length) where a block begins
   * (ascending). Bytes before the first start continue the last block.
   */
  append(buf: Uint8Array, at: number, starts: readonly number[]): void {
    let pos = 0
    for (const s of starts) {
      const cut = s - at
      if (cut > pos) this.extend(buf.subarray(pos, cut))
      this.sums.push(0)
      pos = cut
    }
    if (pos < buf.length) this.extend(buf.subarray(pos))
  }

  private extend(bytes: Uint8Array): void {
    const last = this.sums.length - 1
    if (last < 0) throw new Error('set-lines: bytes before the first block')
    this.sums[last] = crc32(bytes, this.sums[last])
  }

  /** The sum of block k as it stands (the last block's grows as lines are written); undefined if it has none. */
  sum(k: number): number | undefined {
    return this.sums[k]
  }

  /** True if `bytes` are block k as summed (false for a block without a sum). */
  matches(k: number, bytes: Uint8Array): boolean {
    return k < this.sums.length && blockSum(bytes) === this.sums[k]
  }

  /** Block k now holds `bytes` (after a line in it was blanked). */
  set(k: number, bytes: Uint8Array): void {
    if (k >= this.sums.length) throw new Error(`set-lines: block ${k} has no sum`)
    this.sums[k] = blockSum(bytes)
  }
}

export function blockSum(bytes: Uint8Array): number {
  return crc32(bytes)
}
