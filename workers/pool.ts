/**
 * A small pool of worker threads running one exported job function of a
 * module, for the CPU-heavy Ed25519 work (signing when publishing, verifying
 * when syncing). Workers load the module through tsx (registered inside the
 * worker: the parent's loader hooks do not reach eval workers). Idle workers
 * do not keep the process alive. With `size` 0 the job runs in-process.
 */
import { Worker } from 'node:worker_threads'
import { availableParallelism } from 'node:os'
import { ERROR_CODES, LedgerError, type ErrorCode } from '../protocol/errors.ts'

const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
(async () => {
  if (workerData.tsx) {
    const api = await import(workerData.tsx);
    api.register();
  }
  const m = await import(workerData.module);
  const fn = m[workerData.fn];
  parentPort.on('message', (msg) => {
    try {
      const { result, transfer } = fn(msg.input);
      parentPort.postMessage({ id: msg.id, result }, transfer || []);
    } catch (e) {
      parentPort.postMessage({ id: msg.id, error: { code: e && e.code, message: String((e && e.message) || e) } });
    }
  });
  parentPort.postMessage({ ready: true });
})().catch((e) => parentPort.postMessage({ fatal: String((e && e.stack) || e) }));
`

/** A job returns its result and the buffers to move (not copy) back. */
export type Job<I, O> = (input: I) => { result: O; transfer?: ArrayBuffer[] }

/** A job's error as the caller sees it: the LedgerError it threw in the worker, or a plain Error. */
function jobError(e: { code?: string; message: string }): Error {
  return e.code && (ERROR_CODES as readonly string[]).includes(e.code) ? new LedgerError(e.code as ErrorCode, e.message) : new Error(e.message)
}

interface Pending<O> {
  resolve: (r: O) => void
  reject: (e: Error) => void
}

export class WorkerPool<I, O> {
  private readonly workers: Worker[] = []
  private readonly idle: Worker[] = []
  private readonly queue: { id: number; input: I; transfer: ArrayBuffer[] }[] = []
  private readonly pending = new Map<number, Pending<O>>()
  private closing = false
  private nextId = 0
  private failed: Error | undefined
  private readonly readiness: Promise<void>
  private markReady: () => void = () => {}
  private started = 0

  /**
   * `moduleUrl` and `fn` name the job (an export of that module); `local` is
   * the same function for in-process use when `size` is 0.
   */
  constructor(moduleUrl: string, fn: string, private readonly local: Job<I, O>, readonly size = defaultPoolSize()) {
    this.readiness = new Promise<void>((resolve) => {
      this.markReady = resolve
    })
    if (size === 0) {
      this.markReady()
      return
    }
    // TypeScript job modules load through tsx; compiled ones (dist/) need no loader.
    const tsx = moduleUrl.endsWith('.ts') ? import.meta.resolve('tsx/esm/api') : undefined
    for (let i = 0; i < size; i++) {
      const w = new Worker(WORKER_SOURCE, { eval: true, workerData: { module: moduleUrl, fn, tsx } })
      w.on('message', (m: { ready?: true; fatal?: string; id?: number; result?: O; error?: { code?: string; message: string } }) => {
        if (m.ready) {
          this.release(w)
          if (++this.started === this.size) {
            this.markReady()
            this.updateRefs() // starting workers keep the process alive; idle ones do not
          }
          return
        }
        if (m.fatal) return this.fail(new Error(`worker failed to start: ${m.fatal}`))
        const p = this.pending.get(m.id!)
        this.pending.delete(m.id!)
        if (m.error) p?.reject(jobError(m.error))
        else p?.resolve(m.result as O)
        this.release(w)
        this.updateRefs()
      })
      w.on('error', (e) => this.fail(e))
      w.on('exit', (code) => {
        if (!this.closing) this.fail(new Error(`worker exited (code ${code})`))
      })
      this.workers.push(w)
    }
  }

  /** Resolves once every worker has loaded its module (starting one takes a moment: it loads tsx and the job). */
  async ready(): Promise<void> {
    await this.readiness
    if (this.failed) throw this.failed
  }

  private fail(e: Error) {
    this.failed = e
    this.markReady()
    for (const p of this.pending.values()) p.reject(e)
    this.pending.clear()
  }

  private release(w: Worker) {
    const job = this.queue.shift()
    if (!job) {
      this.idle.push(w)
      return
    }
    w.postMessage({ id: job.id, input: job.input }, job.transfer)
  }

  /** Workers keep the process alive exactly while jobs are waiting for them (also while they start). */
  private updateRefs() {
    const busy = this.pending.size > 0
    for (const w of this.workers) {
      if (busy) w.ref()
      else w.unref()
    }
  }

  /** Runs the job; `transfer` lists buffers of `input` to move to the worker. */
  run(input: I, transfer: ArrayBuffer[] = []): Promise<O> {
    if (this.size === 0 || this.closing) return Promise.resolve().then(() => this.local(input).result)
    if (this.failed) return Promise.reject(this.failed)
    const id = this.nextId++
    return new Promise<O>((resolve, reject) => {
      this.pending.set(id, { resolve, reject })
      this.queue.push({ id, input, transfer })
      this.updateRefs()
      const w = this.idle.pop()
      if (w) this.release(w)
    })
  }

  /**
   * Splits `items` into one slice per worker (at least `minChunk` items each)
   * and runs the job on every slice; results in slice order.
   */
  runSplit<T>(items: T[], minChunk: number, input: (slice: T[], from: number) => I): Promise<O[]> {
    const chunk = Math.max(minChunk, Math.ceil(items.length / Math.max(1, this.size)))
    const parts: Promise<O>[] = []
    for (let i = 0; i < items.length; i += chunk) parts.push(this.run(input(items.slice(i, i + chunk), i)))
    return Promise.all(parts)
  }

  async close(): Promise<void> {
    this.closing = true
    await Promise.all(this.workers.map((w) => w.terminate()))
  }
}

/** One worker per core, none on a single core (the main thread does the work). */
export function defaultPoolSize(): number {
  const n = availableParallelism()
  return n > 1 ? n : 0
}
