/**
 * What every fault scenario shares: the result shape, a federation of real
 * `cairn node start` processes (started, killed and restarted by index), and
 * small helpers to read a node from outside (status, Prometheus metrics,
 * checkpoints) and to wait for conditions.
 */
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { spawn } from 'node:child_process'
import { planFederation, type PlannedNode, type PlanOptions } from '../federation.ts'
import { spawnNode, stopNode, call, type NodeProcess } from '../processes.ts'
import { createNetns, type Netns } from '../netns.ts'
import type { NodeStatus } from '../../node/status.ts'
import type { CairnRecord } from '../../protocol/records.ts'
import { fromHex } from '../../protocol/bytes.ts'
import { loadLocalSet } from '../../client/local-copy.ts'

export type Figures = Record<string, number | string | boolean>

export interface ScenarioOutcome {
  pass: boolean
  /** Measured numbers, written to scenarios.json. */
  figures: Figures
  /** One line for the summary table. */
  summary: string
  /** Why it failed (empty when it passed). */
  problems: string[]
}

export interface ScenarioContext {
  quick: boolean
  /** An empty directory of the scenario's own. */
  dir: string
  log(msg: string): void
}

export interface Scenario {
  name: string
  title: string
  /** Why it cannot run with --netns (it plays a member from this process, on loopback), if it cannot. */
  loopbackOnly?: string
  run(ctx: ScenarioContext): Promise<ScenarioOutcome>
}

export const root = new URL('../..', import.meta.url).pathname

// ---------------------------------------------------------------- processes

/** Every node process a scenario started, so a failing run still leaves none behind. */
const live = new Set<NodeProcess>()
/** Every netns network a scenario built, likewise. */
const nets = new Set<Netns>()

export async function killAll(): Promise<void> {
  await Promise.all([...live].map((p) => stopNode(p, 'SIGKILL')))
  live.clear()
  for (const n of nets) n.destroy()
  nets.clear()
}

/** How federations are laid out: `npm run scenarios -- --netns` puts each node in a network namespace of its own (testnet/netns.ts). */
export const layout = { netns: false }

export interface FedOptions extends Omit<PlanOptions, 'dir' | 'names'> {
  names: string[]
  /** Extra environment per node (by name). */
  env?: (name: string) => Record<string, string> | undefined
  /** Start only these indexes now (default: all members). */
  startNow?: number[]
}

/** A federation of node processes; nodes and outsiders are addressed by index. */
export class Fed {
  readonly procs: (NodeProcess | undefined)[] = []
  readonly outsiderProcs: (NodeProcess | undefined)[] = []

  /** `net`: the namespaces (members first, then outsiders) when laid out with --netns. */
  private constructor(readonly planned: PlannedNode[], readonly outsiders: PlannedNode[], readonly genesisPath: string, private readonly o: FedOptions, readonly net?: Netns) {}

  static async start(dir: string, o: FedOptions): Promise<Fed> {
    const net = layout.netns ? createNetns(o.names.length + (o.outsiders?.length ?? 0)) : undefined
    if (net) nets.add(net)
    const { nodes, outsiders, genesisPath } = await planFederation({ ...o, dir, hosts: net?.nodes.map((n) => n.addr) })
    const fed = new Fed(nodes, outsiders, genesisPath, o, net)
    await Promise.all((o.startNow ?? nodes.map((_, i) => i)).map((i) => fed.start(i)))
    return fed
  }

  private async spawn(p: PlannedNode): Promise<NodeProcess> {
    const at = [...this.planned, ...this.outsiders].indexOf(p)
    const proc = await spawnNode(p.dir, { env: this.o.env?.(p.name), timeoutMs: 120_000, netns: this.net?.nodes[at]!.ns })
    live.add(proc)
    void proc.exited.then(() => live.delete(proc))
    return proc
  }

  async start(i: number): Promise<NodeProcess> {
    const p = await this.spawn(this.planned[i]!)
    this.procs[i] = p
    return p
  }

  async startOutsider(i: number): Promise<NodeProcess> {
    const p = await this.spawn(this.outsiders[i]!)
    this.outsiderProcs[i] = p
    return p
  }

  async stop(i: number, signal: 'SIGTERM' | 'SIGKILL' = 'SIGTERM'): Promise<void> {
    const p = this.procs[i]
    if (p) await stopNode(p, signal)
    this.procs[i] = undefined
  }

  async stopOutsider(i: number, signal: 'SIGTERM' | 'SIGKILL' = 'SIGTERM'): Promise<void> {
    const p = this.outsiderProcs[i]
    if (p) await stopNode(p, signal)
    this.outsiderProcs[i] = undefined
  }

  proc(i: number): NodeProcess {
    const p = this.procs[i]
    if (!p) throw new Error(`node ${this.planned[i]!.name} is not running`)
    return p
  }

  /** True when the process is still running (no crash). */
  alive(i: number): boolean {
    const p = this.procs[i]
    return p !== undefined && p.proc.exitCode === null && p.proc.signalCode === null
  }

  async close(): Promise<void> {
    await Promise.all([...this.procs, ...this.outsiderProcs].map((p) => (p ? stopNode(p, 'SIGTERM') : undefined)))
    if (this.net) {
      this.net.destroy()
      nets.delete(this.net)
    }
  }
}

// ---------------------------------------------------------------- reading nodes

export const status = (p: NodeProcess): Promise<NodeStatus> => call<NodeStatus>(p.url, p.operatorToken, 'GET', '/status')

export interface LogRow { name: string; origin: string; size: number; frozen: boolean }

export async function logs(p: NodeProcess): Promise<LogRow[]> {
  return (await (await fetch(`${p.url}/logs`)).json()) as LogRow[]
}

/** Waits until every node serves each log of `expected` at that size (cosignatures aside). */
export async function waitSizes(procs: NodeProcess[], expected: Record<string, number>, ms: number): Promise<void> {
  await waitFor(`logs at sizes ${JSON.stringify(expected)} on every node`, async () => {
    for (const p of procs) {
      const rows = await logs(p)
      for (const [origin, size] of Object.entries(expected)) if (rows.find((r) => r.origin === origin)?.size !== size) return false
    }
    return true
  }, ms, 200)
}

/** The checkpoint a node serves for a log, or undefined. */
export async function checkpointOf(url: string, name: string): Promise<string | undefined> {
  try {
    const r = await fetch(`${url}/logs/${name}/checkpoint`, { signal: AbortSignal.timeout(3000) })
    return r.ok ? await r.text() : undefined
  } catch {
    return undefined
  }
}

/** The checkpoint body (origin, size, root) of a signed note: what must never change under attack. */
export const bodyOf = (note: string | undefined): string => (note === undefined ? '-' : note.slice(0, note.indexOf('\n\n') + 1))

/** Prometheus samples of a node's /metrics: `name{labels}` → value. */
export async function metrics(p: NodeProcess): Promise<Map<string, number>> {
  const text = await call<string>(p.url, p.operatorToken, 'GET', '/metrics')
  const out = new Map<string, number>()
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue
    const sp = line.lastIndexOf(' ')
    out.set(line.slice(0, sp), Number(line.slice(sp + 1)))
  }
  return out
}

/** Sum of the samples of one metric (over all its labels), or of those whose labels include `match`. */
export function metricSum(m: Map<string, number>, name: string, match?: string): number {
  let sum = 0
  for (const [k, v] of m) if ((k === name || k.startsWith(`${name}{`)) && (!match || k.includes(match))) sum += v
  return sum
}

/** Per-code counts of one labelled metric, e.g. cairn_sync_rejected_total{code="X"}. */
export function metricByLabel(m: Map<string, number>, name: string, label: string): Record<string, number> {
  const out: Record<string, number> = {}
  const re = new RegExp(`${label}="([^"]*)"`)
  for (const [k, v] of m) if (k.startsWith(`${name}{`)) out[re.exec(k)?.[1] ?? '?'] = v
  return out
}

export function diffCounts(after: Record<string, number>, before: Record<string, number>): Record<string, number> {
  const out: Record<string, number> = {}
  for (const [k, v] of Object.entries(after)) if (v - (before[k] ?? 0) !== 0) out[k] = v - (before[k] ?? 0)
  return out
}

export const sumValues = (r: Record<string, number>): number => Object.values(r).reduce((a, b) => a + b, 0)

// ---------------------------------------------------------------- waiting and timing

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms))

/** Polls `check` until it is true; throws with `what` after `ms`. */
export async function waitFor(what: string, check: () => boolean | Promise<boolean>, ms: number, every = 100): Promise<void> {
  const end = Date.now() + ms
  for (;;) {
    try {
      if (await check()) return
    } catch {
      // a node between restarts: try again
    }
    if (Date.now() > end) throw new Error(`timed out after ${(ms / 1000).toFixed(0)} s waiting for ${what}`)
    await sleep(every)
  }
}

export const seconds = (ms: number): number => Math.round(ms) / 1000

export function median(xs: number[]): number {
  if (xs.length === 0) return NaN
  const s = [...xs].sort((a, b) => a - b)
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2
}

/** A small seeded PRNG, so a run's random choices can be replayed with --seed. */
export { mulberry32 as prng } from '../random.ts'

// ---------------------------------------------------------------- the CLI

export interface CliRun { code: number | null; stdout: string; stderr: string; ms: number }

/** Runs `cairn <args>` (cli/main.ts through tsx) as its own process. */
export function cairn(args: string[], env: Record<string, string> = {}): Promise<CliRun> {
  const t0 = Date.now()
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', join(root, 'cli/main.ts'), ...args], {
      cwd: root,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, ...env },
    })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d) => { stdout += d })
    child.stderr.on('data', (d) => { stderr += d })
    child.on('close', (code) => resolve({ code, stdout, stderr, ms: Date.now() - t0 }))
  })
}

export function writeLines(dir: string, file: string, lines: string[]): string {
  mkdirSync(dir, { recursive: true })
  const path = join(dir, file)
  writeFileSync(path, lines.join('\n') + '\n')
  return path
}

/** A sample body (hex values, as the JSON API takes them) plus node fields, as a record (bytes), for signing by hand. */
export function recordFromSample(body: Record<string, unknown>, fields: { log: string; seq: number; time: number }): CairnRecord {
  return { ...body, value: fromHex(body.value as string), v: 1, ...fields } as unknown as CairnRecord
}

/** An outcome from a list of problems. */
export function outcome(problems: string[], figures: Figures, summary: string): ScenarioOutcome {
  return { pass: problems.length === 0, figures, summary, problems }
}

/** Every node holds `origin`'s log at `size`; one problem line per node that does not (`label` names the log). */
export async function expectLogSizeEverywhere(fed: Fed, origin: string, size: number, label: string, problems: string[]): Promise<void> {
  for (const [i, p] of fed.planned.entries()) {
    const l = (await logs(fed.proc(i))).find((x) => x.origin === origin)!
    if (l.size !== size) problems.push(`${p.name} holds ${label}'s log at ${l.size}, not ${size}`)
  }
}

/** A provider's `cairn sync --genesis` (2 cosignatures at least) from node `at` into `copy`; a failure is a problem line. */
export async function genesisSync(fed: Fed, at: number, copy: string, token: string, problems: string[]): Promise<CliRun> {
  const sync = await cairn(['sync', '--node', fed.proc(at).url, '--token', token, '--dir', copy, '--genesis', fed.genesisPath, '--min-witnesses', '2', '--quiet'])
  if (sync.code !== 0) problems.push(`cairn sync --genesis failed: ${sync.stderr.trim().slice(0, 300)}`)
  return sync
}

/** An auditor's `cairn verify --genesis` against node `at`; a failure is a problem line. */
export async function genesisVerify(fed: Fed, at: number, token: string, problems: string[]): Promise<CliRun> {
  const verify = await cairn(['verify', '--node', fed.proc(at).url, '--token', token, '--genesis', fed.genesisPath])
  if (verify.code !== 0) problems.push(`cairn verify --genesis failed: ${(verify.stdout + verify.stderr).trim().slice(-400)}`)
  return verify
}

/** An auditor's `cairn lookup --genesis` of a published sample body (alg, value) against node `at`; a failure or no current record is a problem line. */
export async function genesisLookup(fed: Fed, at: number, token: string, body: Record<string, unknown>, problems: string[]): Promise<CliRun> {
  const look = await cairn(['lookup', `${body.alg}:${body.value}`, '--node', fed.proc(at).url, '--token', token, '--genesis', fed.genesisPath, '--json'])
  if (look.code !== 0) problems.push(`cairn lookup --genesis failed: ${(look.stdout + look.stderr).trim().slice(-400)}`)
  else if (JSON.parse(look.stdout).summary?.current !== true) problems.push(`cairn lookup --genesis of ${body.alg}:${body.value} found no current record`)
  return look
}

/** For each list of sample bodies (alg, value hex), how many a provider's local copy holds in its current set (the copy read once). */
export function heldInCopy(copy: string, ...lists: readonly Record<string, unknown>[][]): number[] {
  const set = loadLocalSet(copy)
  return lists.map((bodies) => bodies.filter((b) => set.has(b.alg as string, fromHex(b.value as string))).length)
}
