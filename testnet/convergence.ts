/**
 * Checking a running federation from outside, over HTTP only: every node
 * serves every log at the same checkpoint, signed by the owner and cosigned
 * by every other member. Used by the testnet harness and the scenarios.
 */
import { openCheckpoint } from '../protocol/checkpoint.ts'

export interface LogView {
  name: string
  origin: string
  vkey: string
  witness_vkey: string
  size: number
  frozen: boolean
}

export interface Convergence {
  done: boolean
  /** Per log: the checkpoint size each node serves. */
  sizes: Record<string, number[]>
  /** Per log: the smallest number of valid cosignatures seen on any node. */
  minCosignatures: Record<string, number>
  problems: string[]
}

export async function checkConvergence(urls: string[], expectedSizes?: Record<string, number>): Promise<Convergence> {
  const views = await Promise.all(urls.map(async (u) => (await (await fetch(`${u}/logs`)).json()) as LogView[]))
  const logs = views[0]!.filter((l) => l.vkey)
  const sizes: Record<string, number[]> = {}
  const minCosignatures: Record<string, number> = {}
  const problems: string[] = []
  for (const log of logs) {
    const others = logs.filter((l) => l.origin !== log.origin).map((l) => l.witness_vkey)
    const bodies = new Set<string>()
    sizes[log.origin] = []
    minCosignatures[log.origin] = Infinity
    for (const u of urls) {
      const r = await fetch(`${u}/logs/${log.name}/checkpoint`)
      if (!r.ok) {
        problems.push(`${u} has no checkpoint for ${log.origin}`)
        sizes[log.origin]!.push(-1)
        continue
      }
      const note = await r.text()
      try {
        const cp = openCheckpoint(note, log.vkey, { witnesses: others })
        bodies.add(cp.body)
        sizes[log.origin]!.push(cp.checkpoint.size)
        minCosignatures[log.origin] = Math.min(minCosignatures[log.origin]!, cp.cosignatures.length)
      } catch (e) {
        problems.push(`${u}: checkpoint of ${log.origin} does not verify: ${(e as Error).message}`)
      }
    }
    if (bodies.size > 1) problems.push(`${log.origin}: nodes serve ${bodies.size} different checkpoints`)
    if (expectedSizes && sizes[log.origin]!.some((s) => s !== expectedSizes[log.origin])) problems.push(`${log.origin}: sizes ${sizes[log.origin]!.join(',')} (want ${expectedSizes[log.origin]})`)
    if (minCosignatures[log.origin]! < others.length) problems.push(`${log.origin}: ${minCosignatures[log.origin]} of ${others.length} cosignatures`)
  }
  return { done: problems.length === 0, sizes, minCosignatures, problems }
}
