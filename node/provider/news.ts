/**
 * Waiting for news instead of polling (spec/api.md §A.5.8): a long-polled
 * GET /feed?wait= and the GET /feed/events stream of new checkpoints.
 *
 * News is a change of a log's served checkpoint note — a larger size, or
 * more cosignatures on it. The watch compares the notes the store serves a
 * few times a second while anybody waits (no timer otherwise), so it needs
 * no hook into the places that store checkpoints. Waiting is bounded per
 * token (WaitSlots): a token holds at most so many open waits and streams.
 */
import { LedgerError } from '../../protocol/errors.ts'
import type { Store } from '../storage/store.ts'

export const MAX_WAIT_S = 60
export const WAITS_PER_TOKEN = 4
export const STREAMS_PER_TOKEN = 2
const WATCH_MS = 200

export interface CheckpointNews {
  origin: string
  size: number
  /** The signed checkpoint note with its cosignatures. */
  checkpoint: string
}

type Listener = (news: CheckpointNews[]) => void

/** Tells listeners of every log whose served checkpoint note changed. */
export class CheckpointWatch {
  private readonly listeners = new Set<Listener>()
  private notes = new Map<string, string>()
  private timer: NodeJS.Timeout | undefined

  constructor(private readonly store: Pick<Store, 'listLogs'>, private readonly everyMs = WATCH_MS) {}

  /** The checkpoint note served for each log now (undamaged logs with one). */
  current(): Map<string, CheckpointNews> {
    const out = new Map<string, CheckpointNews>()
    for (const l of this.store.listLogs()) if (l.checkpoint && !l.damaged) out.set(l.origin, { origin: l.origin, size: l.checkpointSize, checkpoint: l.checkpoint })
    return out
  }

  /** Calls `f` with each change until the returned function is called. */
  listen(f: Listener): () => void {
    if (this.listeners.size === 0) {
      this.notes = new Map([...this.current()].map(([o, n]) => [o, n.checkpoint]))
      this.timer = setInterval(() => this.tick(), this.everyMs)
      this.timer.unref()
    }
    this.listeners.add(f)
    return () => {
      this.listeners.delete(f)
      if (this.listeners.size === 0 && this.timer) {
        clearInterval(this.timer)
        this.timer = undefined
      }
    }
  }

  private tick(): void {
    const changed: CheckpointNews[] = []
    const now = this.current()
    for (const [origin, n] of now) if (this.notes.get(origin) !== n.checkpoint) changed.push(n)
    this.notes = new Map([...now].map(([o, n]) => [o, n.checkpoint]))
    if (changed.length > 0) for (const f of [...this.listeners]) f(changed)
  }

  /** Resolves true at the first change where `ready()` holds (checked at once too), false after `ms` or on `signal`. */
  async until(ready: () => boolean, ms: number, signal?: AbortSignal): Promise<boolean> {
    if (ready()) return true
    return new Promise((resolve) => {
      let stop = () => {}
      const done = (v: boolean) => {
        stop()
        clearTimeout(timer)
        signal?.removeEventListener('abort', onAbort)
        resolve(v)
      }
      const onAbort = () => done(false)
      const timer = setTimeout(() => done(false), ms)
      signal?.addEventListener('abort', onAbort)
      stop = this.listen(() => {
        if (ready()) done(true)
      })
    })
  }
}

/** Open waits or streams per token, at most `limit` each. */
export class WaitSlots {
  private readonly held = new Map<string, number>()
  constructor(private readonly limit: number, private readonly what: string) {}

  /** Takes a slot for `token` (RATE_LIMITED when it holds `limit`); call the returned function to give it back. */
  take(token: string): () => void {
    const n = this.held.get(token) ?? 0
    if (n >= this.limit) throw new LedgerError('RATE_LIMITED', `this token already holds ${n} open ${this.what} (at most ${this.limit}); close one or wait for it to end`)
    this.held.set(token, n + 1)
    let given = false
    return () => {
      if (given) return
      given = true
      const left = (this.held.get(token) ?? 1) - 1
      if (left <= 0) this.held.delete(token)
      else this.held.set(token, left)
    }
  }

  count(token: string): number {
    return this.held.get(token) ?? 0
  }
}
