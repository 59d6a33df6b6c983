/**
 * Creating a federation on this machine: N node directories with fresh keys,
 * one genesis roster (with each member's loopback address, or its own
 * address in a network namespace), ready to start.
 * Used by the testnet harness, the demo, the scenarios and the tests.
 */
import { mkdirSync, writeFileSync, copyFileSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { createServer } from 'node:net'
import { initNodeDir, memberEntry, writeGenesis, type NodeFile } from '../node/config.ts'
import type { Genesis, GenesisMember } from '../protocol/genesis.ts'

export interface PlannedNode {
  name: string
  origin: string
  dir: string
  p2pPort: number
  httpPort: number
  member: GenesisMember
}

/** The first port the OS hands out for outgoing connections (Linux: ip_local_port_range). */
function ephemeralStart(): number {
  try {
    const lo = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0])
    return Number.isInteger(lo) && lo > 2048 ? lo : 32768
  } catch {
    return 32768
  }
}

const handedOut = new Set<number>()

function canListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createServer()
    s.once('error', () => resolve(false))
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)))
  })
}

/**
 * A free TCP port on 127.0.0.1 for a node to listen on later. Picked below
 * the ephemeral range: a port the OS picks (listen on 0) can be taken, before
 * the node binds it, as the source port of any outgoing connection on the
 * machine; ports below the range are never used that way. Random, checked
 * free, and never handed out twice by this process.
 */
export async function freePort(): Promise<number> {
  const top = ephemeralStart()
  const bottom = Math.min(10_000, top - 1000)
  for (let i = 0; i < 200; i++) {
    const port = bottom + Math.floor(Math.random() * (top - bottom))
    if (handedOut.has(port)) continue
    if (await canListen(port)) {
      handedOut.add(port)
      return port
    }
  }
  // Everything tried was busy: let the OS choose (the old way, with its small race).
  return new Promise((resolve, reject) => {
    const s = createServer()
    s.once('error', reject)
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port
      s.close(() => resolve(port))
    })
  })
}

export interface PlanOptions {
  dir: string
  federation?: string
  names: string[]
  threshold?: number
  roles?: (name: string) => string[]
  batch?: NodeFile['batch']
  /** HTTP abuse limits (node.json `limits`); the defaults when left out. */
  limits?: NodeFile['limits']
  /** Reverse proxies whose X-Forwarded-For is believed (node.json `http.trusted_proxies`). */
  trustedProxies?: string[]
  /** Names that get keys but are left out of the genesis roster (to join later by a vote). */
  outsiders?: string[]
  /**
   * Each node's own IPv4 address (members first, then outsiders), as on a
   * machine of its own (testnet/netns.ts): it listens and is advertised there
   * on the standard ports. Without it: 127.0.0.1 and free ports.
   */
  hosts?: string[]
}

/** A node on its own address uses the ports of the deployment guide. */
export const NETNS_P2P_PORT = 4001
export const NETNS_HTTP_PORT = 8080

export async function planFederation(o: PlanOptions): Promise<{ nodes: PlannedNode[]; outsiders: PlannedNode[]; genesis: Genesis; genesisPath: string }> {
  const federation = o.federation ?? 'testnet.cairn'
  mkdirSync(o.dir, { recursive: true })
  if (o.hosts && o.hosts.length < o.names.length + (o.outsiders?.length ?? 0)) throw new Error('planFederation: fewer hosts than nodes')
  let index = 0
  const make = async (name: string): Promise<PlannedNode> => {
    const dir = join(o.dir, name)
    const origin = `${federation}/${name}`
    const host = o.hosts?.[index++]
    const p2pPort = host ? NETNS_P2P_PORT : await freePort()
    const httpPort = host ? NETNS_HTTP_PORT : await freePort()
    const listen = `/ip4/${host ?? '127.0.0.1'}/tcp/${p2pPort}`
    const { keys } = await initNodeDir(dir, origin, { listen: [listen], ...(host ? { advertise: [listen] } : {}), http: { host: host ?? '127.0.0.1', port: httpPort, ...(o.trustedProxies ? { trusted_proxies: o.trustedProxies } : {}) }, ...(o.batch ? { batch: o.batch } : {}), ...(o.limits ? { limits: o.limits } : {}) })
    const member = memberEntry(origin, keys, o.roles?.(name) ?? ['publisher', 'witness'], [listen])
    writeFileSync(join(dir, 'member.json'), JSON.stringify(member, null, 2) + '\n')
    return { name, origin, dir, p2pPort, httpPort, member }
  }
  const nodes: PlannedNode[] = []
  for (const n of o.names) nodes.push(await make(n))
  const outsiders: PlannedNode[] = []
  for (const n of o.outsiders ?? []) outsiders.push(await make(n))
  const genesis: Genesis = { federation, threshold: o.threshold ?? Math.floor(nodes.length / 2) + 1, members: nodes.map((n) => n.member) }
  const genesisPath = join(o.dir, 'genesis.json')
  writeGenesis(genesisPath, genesis)
  for (const n of [...nodes, ...outsiders]) copyFileSync(genesisPath, join(n.dir, 'genesis.json'))
  return { nodes, outsiders, genesis, genesisPath }
}
