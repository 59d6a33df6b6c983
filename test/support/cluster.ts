/**
 * In-process federations for tests: plan N nodes in a temp dir, start them
 * with startNode (real libp2p on 127.0.0.1, real level stores, real HTTP on
 * random ports), wait for conditions, tear everything down.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { startNode, type CairnNode, type StartOptions } from '../../node/node.ts'
import { ensureOperatorToken } from '../../node/tokens.ts'
import { planFederation, type PlannedNode, type PlanOptions } from '../../testnet/federation.ts'

export interface Cluster {
  dir: string
  planned: PlannedNode[]
  outsiders: PlannedNode[]
  nodes: CairnNode[]
  /** Operator tokens, by node index. */
  operatorTokens: string[]
  start(i: number, extra?: Partial<StartOptions>): Promise<CairnNode>
  startOutsider(i: number): Promise<CairnNode>
  stop(i: number): Promise<void>
  close(): Promise<void>
}

export async function startCluster(n: number, opts: Partial<PlanOptions> = {}): Promise<Cluster> {
  const dir = mkdtempSync(join(tmpdir(), 'cairn-cluster-'))
  const names = opts.names ?? Array.from({ length: n }, (_, i) => `c${i + 1}`)
  const { nodes: planned, outsiders } = await planFederation({ dir, ...opts, names, batch: opts.batch ?? { max_records: 2000, max_ms: 50 } })
  const nodes: CairnNode[] = []
  const operatorTokens: string[] = []
  const cluster: Cluster = {
    dir, planned, outsiders, nodes, operatorTokens,
    async start(i, extra = {}) {
      const node = await startNode({ ...extra, dir: planned[i]!.dir, logLevel: process.env.CAIRN_LOG_LEVEL ?? 'silent' })
      nodes[i] = node
      operatorTokens[i] = await ensureOperatorToken(planned[i]!.dir, node.tokens)
      return node
    },
    async startOutsider(i) {
      return startNode({ dir: outsiders[i]!.dir, logLevel: process.env.CAIRN_LOG_LEVEL ?? 'silent' })
    },
    async stop(i) {
      await nodes[i]?.stop()
    },
    async close() {
      await Promise.all(nodes.map((x) => x?.stop().catch(() => undefined)))
      rmSync(dir, { recursive: true, force: true })
    },
  }
  for (let i = 0; i < planned.length; i++) await cluster.start(i)
  return cluster
}

/** Polls `check` until it returns true or `ms` pass (then throws with `what`). */
export async function waitFor(what: string, check: () => boolean | Promise<boolean>, ms = 30_000, every = 100): Promise<void> {
  const end = Date.now() + ms
  while (Date.now() < end) {
    if (await check()) return
    await new Promise((r) => setTimeout(r, every))
  }
  throw new Error(`timed out after ${ms} ms waiting for ${what}`)
}

/** True when every node holds every other node's log at the same size as its owner, cosigned by all other witnesses. */
export function converged(nodes: CairnNode[], minCosignatures = nodes.length - 1): boolean {
  for (const owner of nodes) {
    const size = owner.store.size(owner.origin)
    for (const n of nodes) {
      const l = n.store.listLogs().find((x) => x.origin === owner.origin)
      if (!l || l.size !== size || l.checkpointSize !== size || !l.checkpoint) return false
      const cosigs = l.checkpoint.split('\n\n')[1]!.split('\n').filter((x) => x.startsWith('— ')).length - 1
      if (cosigs < minCosignatures) return false
    }
  }
  return true
}
