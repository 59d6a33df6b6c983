/**
 * A small seeded PRNG (mulberry32) for the testnet, scenarios, benchmarks and
 * tests: runs pick the same samples, and a failing case can be replayed from
 * its seed. Not for keys or anything secret.
 */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}
