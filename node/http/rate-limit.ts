/**
 * Token buckets, one per key (a token id, or a client address): each holds
 * up to `burst` credits and refills at `rate_per_s`; a request takes one. A
 * bucket may go into debt (a failed authentication costs more than it could
 * take), so a caller who keeps failing waits longer. Buckets that have
 * refilled are forgotten, and the map never holds more than `maxKeys`.
 */
export interface BucketSpec {
  /** Credits added per second; 0 turns the limit off. */
  rate_per_s: number
  /** Most credits a bucket holds: the requests a quiet caller may send at once. */
  burst: number
}

interface Bucket {
  credits: number
  at: number
}

export class RateLimiter {
  private readonly buckets = new Map<string, Bucket>()
  private sweptAt: number

  constructor(
    private readonly spec: BucketSpec,
    private readonly clock: () => number = () => performance.now(),
    private readonly maxKeys = 100_000,
  ) {
    this.sweptAt = clock()
  }

  get enabled(): boolean {
    return this.spec.rate_per_s > 0
  }

  private bucket(key: string): Bucket {
    const now = this.clock()
    let b = this.buckets.get(key)
    if (b) {
      b.credits = Math.min(this.spec.burst, b.credits + ((now - b.at) / 1000) * this.spec.rate_per_s)
      b.at = now
      return b
    }
    if (now - this.sweptAt > 10_000 || this.buckets.size >= this.maxKeys) this.sweep(now)
    b = { credits: this.spec.burst, at: now }
    this.buckets.set(key, b)
    return b
  }

  /** Takes `cost` credits: 0 when granted, else the whole seconds to wait until they are there (nothing is taken). */
  take(key: string, cost = 1): number {
    if (!this.enabled) return 0
    const b = this.bucket(key)
    if (b.credits >= cost) {
      b.credits -= cost
      return 0
    }
    return this.wait(b, cost)
  }

  /** Takes `cost` credits whether or not they are there, down to a debt of one burst. */
  charge(key: string, cost: number): void {
    if (!this.enabled || cost <= 0) return
    const b = this.bucket(key)
    b.credits = Math.max(-this.spec.burst, b.credits - cost)
  }

  /** Gives back credits taken for a request that turned out to belong to another bucket. */
  refund(key: string, cost = 1): void {
    if (!this.enabled) return
    const b = this.bucket(key)
    b.credits = Math.min(this.spec.burst, b.credits + cost)
  }

  private wait(b: Bucket, cost: number): number {
    return Math.max(1, Math.ceil((cost - b.credits) / this.spec.rate_per_s))
  }

  /** Forgets full buckets (a caller gone quiet); when still too many, the oldest. */
  private sweep(now: number): void {
    this.sweptAt = now
    for (const [k, b] of this.buckets) {
      if (b.credits + ((now - b.at) / 1000) * this.spec.rate_per_s >= this.spec.burst) this.buckets.delete(k)
    }
    for (const k of this.buckets.keys()) {
      if (this.buckets.size < this.maxKeys) break
      this.buckets.delete(k)
    }
  }
}

/**
 * The key a client address is limited by: an IPv4 address as is (also when
 * written as IPv4-mapped IPv6), an IPv6 address by its /64 — one host
 * usually holds a whole /64, so one address each would be no limit at all.
 */
export function addressKey(address: string): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address)
  if (mapped) return mapped[1]!
  if (!address.includes(':')) return address
  const [head = '', tail = ''] = address.split('::')
  const left = head ? head.split(':') : []
  const right = tail ? tail.split(':') : []
  const groups = address.includes('::') ? [...left, ...Array(Math.max(0, 8 - left.length - right.length)).fill('0'), ...right] : left
  return groups.slice(0, 4).map((g) => (g.replace(/^0+(?=.)/, '') || '0').toLowerCase()).join(':') + '::/64'
}

/** The client's address, IPv4-mapped IPv6 written as IPv4. */
export function plainAddress(address: string | undefined): string {
  if (!address) return 'unknown'
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address)
  return mapped ? mapped[1]! : address
}
