/**
 * Retention (spec/redaction.md §R.9): an indicator may carry `expires` (ms
 * since the epoch). Its own log's node revokes it with reason `expired` once
 * that time has passed, so the expiry is an entry of the log like any other
 * removal: every node derives the same feed and snapshot from it, whatever
 * its clock says. Other nodes do nothing on their own.
 *
 * The sweeper walks the store's expiry index of this node's log (written at
 * append for indicators with `expires`) every `intervalMs`, and submits the
 * revocations through the node's Publisher.
 */
import { toHex } from '../protocol/bytes.ts'
import type { Store } from './storage/store.ts'
import type { Published, RecordBody } from './publisher.ts'

export interface RetentionOptions {
  store: Store
  /** This node's log: the only one whose indicators it may revoke. */
  origin: string
  submit: (body: RecordBody) => Promise<Published>
  now: () => number
  log: (level: 'info' | 'warn' | 'error', msg: string) => void
  /** Sweep period (default 1 s). */
  intervalMs?: number
  /** Most revocations submitted per sweep (default 10,000). */
  maxPerSweep?: number
}

export class RetentionSweeper {
  readonly stats = { expired: 0, failed: 0, sweeps: 0 }
  private timer: NodeJS.Timeout | undefined
  private running: Promise<number> | undefined
  private stopped = false

  constructor(private readonly o: RetentionOptions) {
    // From now on every indicator appended to our log with `expires` is indexed.
    o.store.trackExpiry(o.origin)
  }

  start(): void {
    this.timer = setInterval(() => void this.sweep(), this.o.intervalMs ?? 1000)
    this.timer.unref()
  }

  /** Revokes every indexed indicator of our log whose time has come; returns how many were revoked. */
  sweep(): Promise<number> {
    if (this.stopped) return Promise.resolve(0)
    this.running ??= this.sweepOnce().finally(() => {
      this.running = undefined
    })
    return this.running
  }

  private async sweepOnce(): Promise<number> {
    const { store, origin } = this.o
    const due: { expires: number; id: Uint8Array }[] = []
    for await (const x of store.expiring(origin, this.o.now(), this.o.maxPerSweep ?? 10_000)) due.push(x)
    this.stats.sweeps++
    let revoked = 0
    await Promise.all(due.map(async ({ expires, id }) => {
      // Already revoked (for any reason) or redacted: the index entry is stale.
      if (!(await store.inCurrentSet(id))) return store.clearExpiry(origin, expires, id)
      try {
        await this.o.submit({ type: 'revocation', target: id, reason: 'expired' })
        await store.clearExpiry(origin, expires, id)
        this.stats.expired++
        revoked++
      } catch (e) {
        this.stats.failed++
        if (!this.stopped) this.o.log('warn', `could not revoke expired indicator ${toHex(id)}: ${(e as Error).message}`)
      }
    }))
    return revoked
  }

  async stop(): Promise<void> {
    this.stopped = true
    clearInterval(this.timer)
    await this.running?.catch(() => undefined)
  }
}
