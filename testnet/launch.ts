/**
 * Bringing up a federation of node processes and feeding it sample records:
 * shared by the testnet harness, the demo and the fault scenarios.
 */
import { planFederation, type PlannedNode, type PlanOptions } from './federation.ts'
import { spawnNode, stopNode, call, type NodeProcess } from './processes.ts'
import { checkConvergence } from './convergence.ts'
import { sampleIndicator } from './samples.ts'
import type { Netns } from './netns.ts'

export interface Launched {
  planned: PlannedNode[]
  procs: NodeProcess[]
  stop(): Promise<void>
}

/** Plans and starts a federation: on loopback, or node i in namespace i of `net`. */
/** `prepare` runs once the node directories exist, before any node starts (e.g. to edit a node.json). */
export async function launch(dir: string, names: string[], federation: string, plan: Pick<PlanOptions, 'limits'> = {}, net?: Netns, prepare?: (planned: PlannedNode[]) => void): Promise<Launched> {
  const { nodes: planned } = await planFederation({ dir, federation, names, ...plan, hosts: net?.nodes.map((n) => n.addr) })
  prepare?.(planned)
  const procs = await Promise.all(planned.map((p, i) => spawnNode(p.dir, { netns: net?.nodes[i]!.ns })))
  let stopped = false
  return {
    planned,
    procs,
    async stop() {
      if (stopped) return
      stopped = true
      await Promise.all(procs.map((p) => stopNode(p, 'SIGTERM')))
    },
  }
}

export async function grantToken(p: NodeProcess, role: string, name: string): Promise<string> {
  return (await call<{ token: string }>(p.url, p.operatorToken, 'POST', '/admin/tokens', { role, name })).token
}

/** Publishes record bodies through a node's API in batches; returns the ids. */
export async function publishBodies(p: NodeProcess, bodies: Record<string, unknown>[], batch = 5000): Promise<string[]> {
  const ids: string[] = []
  for (let i = 0; i < bodies.length; i += batch) {
    const chunk = bodies.slice(i, i + batch)
    const r = await call<{ results: ({ id: string } | { error: { code: string; message: string } })[] }>(p.url, p.operatorToken, 'POST', '/records', { records: chunk })
    for (const x of r.results) {
      if ('error' in x) throw new Error(`record refused: ${x.error.code}: ${x.error.message}`)
      ids.push(x.id)
    }
  }
  return ids
}

/** Imports `total` sample indicators spread evenly over the nodes; returns each log's expected size. */
export async function importSamples(l: Launched, total: number): Promise<Record<string, number>> {
  const expected: Record<string, number> = {}
  const n = l.procs.length
  await Promise.all(l.procs.map(async (p, i) => {
    const share = Math.floor(total / n) + (i < total % n ? 1 : 0)
    expected[l.planned[i]!.origin] = share
    await publishBodies(p, Array.from({ length: share }, (_, j) => sampleIndicator(l.planned[i]!.name, j)))
  }))
  return expected
}

/** Waits until every node serves every log at one fully cosigned checkpoint (of the expected sizes, if given). */
export async function waitConverged(urls: string[], expected: Record<string, number> | undefined, timeoutMs: number, onWait: (problems: string[]) => void = () => {}): Promise<void> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const c = await checkConvergence(urls, expected)
    if (c.done) return
    if (Date.now() > deadline) throw new Error(`not converged after ${timeoutMs / 1000} s: ${c.problems.slice(0, 3).join('; ')}`)
    onWait(c.problems)
    await new Promise((r) => setTimeout(r, 500))
  }
}
