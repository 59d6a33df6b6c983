/**
 * A network of Linux network namespaces for the testnet and the scenarios
 * (`--netns`): one bridge with an address in 10.77.<k>.0/24 in the host's
 * namespace, one namespace per node joined to it by a veth pair, node i at
 * 10.77.<k>.<i+10>. Each node is then a host of its own (its own loopback,
 * its own ports), dialled by its address like a machine abroad; the harness
 * in the host's namespace reaches every node through the bridge.
 *
 * Names carry the owner's pid and a per-process sequence number (the run id:
 * 5 base-36 digits of the pid, 1 of the sequence): bridge cairnbr<id>, veths
 * cairnv<id><i>, namespaces cairnns<id><i>. What a dead process left behind
 * (SIGKILL, a crash) is removed by the next run; everything is removed on
 * destroy(), on exit, and on SIGINT/SIGTERM. Needs root and iproute2.
 */
import { execFileSync } from 'node:child_process'

export class NetnsUnavailable extends Error {}

export interface NetnsNode { ns: string; veth: string; addr: string }

export interface Netns {
  /** The run id every name of this network carries. */
  readonly id: string
  readonly bridge: string
  /** The bridge's address (the harness's address on this network). */
  readonly hostAddr: string
  readonly nodes: NetnsNode[]
  /** Cuts every node of `a` off from every node of `b` (both ways; the harness still reaches all). */
  cut(a: number[], b: number[]): void
  /** Removes every cut. */
  heal(): void
  /** Kills what runs in the namespaces and removes namespaces, veths and bridge. */
  destroy(): void
}

const BRIDGE = 'cairnbr', VETH = 'cairnv', NS = 'cairnns'

function ip(args: string[]): string {
  return execFileSync('ip', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] })
}

function quietly(f: () => unknown): void {
  try {
    f()
  } catch {
    // already gone
  }
}

const firstLine = (e: unknown): string => String((e as { stderr?: string }).stderr || (e as Error).message).trim().split('\n')[0]!

/** Why this machine cannot run a netns network, or undefined when it can (probes `ip netns add`). */
export function netnsUnavailable(): string | undefined {
  if (process.platform !== 'linux') return 'network namespaces need Linux'
  if (process.getuid?.() !== 0) return 'network namespaces need root (run as root, or without --netns)'
  try {
    ip(['-V'])
  } catch {
    return 'the `ip` command (iproute2) is not installed'
  }
  const probe = `${NS}${runId()}p`
  try {
    ip(['netns', 'add', probe])
  } catch (e) {
    return `this machine does not allow network namespaces (ip netns add: ${firstLine(e)})`
  }
  quietly(() => ip(['netns', 'del', probe]))
  return undefined
}

let seq = 0
function runId(s = seq): string {
  return process.pid.toString(36).padStart(5, '0').slice(-5) + (s % 36).toString(36)
}

function ownerAlive(name: string, prefix: string): boolean {
  const pid = parseInt(name.slice(prefix.length, prefix.length + 5), 36)
  if (!Number.isInteger(pid) || pid <= 0) return true // not one of ours: leave it
  try {
    process.kill(pid, 0)
    return true
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM'
  }
}

const linkNames = (): string[] => ip(['-o', 'link', 'show']).split('\n').map((l) => l.split(':')[1]?.trim().split('@')[0] ?? '').filter(Boolean)
const nsNames = (): string[] => ip(['netns', 'list']).split('\n').map((l) => l.split(' ')[0]!).filter(Boolean)

/** Every namespace, veth or bridge whose name carries `id`. */
export function leftovers(id: string): string[] {
  return [...linkNames().filter((n) => n.startsWith(BRIDGE + id) || n.startsWith(VETH + id)), ...nsNames().filter((n) => n.startsWith(NS + id))]
}

function removeNamespace(ns: string): void {
  quietly(() => {
    for (const pid of ip(['netns', 'pids', ns]).split('\n').filter(Boolean)) quietly(() => process.kill(Number(pid), 'SIGKILL'))
  })
  quietly(() => ip(['netns', 'del', ns]))
}

/** Removes what runs of dead processes left behind. */
function sweepDead(): void {
  for (const ns of nsNames()) if (ns.startsWith(NS) && !ownerAlive(ns, NS)) removeNamespace(ns)
  for (const l of linkNames()) {
    if ((l.startsWith(VETH) && !ownerAlive(l, VETH)) || (l.startsWith(BRIDGE) && !ownerAlive(l, BRIDGE))) quietly(() => ip(['link', 'del', l]))
  }
}

/** A /24 in 10.77.0.0/16 no interface has an address in. */
function freeSubnet(): number {
  const used = new Set([...ip(['-4', '-o', 'addr', 'show']).matchAll(/inet 10\.77\.(\d+)\./g)].map((m) => Number(m[1])))
  const free = Array.from({ length: 250 }, (_, i) => i + 1).filter((k) => !used.has(k))
  if (free.length === 0) throw new NetnsUnavailable('no free /24 in 10.77.0.0/16')
  return free[Math.floor(Math.random() * free.length)]!
}

const live = new Set<Netns>()
const destroyAll = () => { for (const n of live) n.destroy() }
// Where the program has handlers of its own they stop the nodes and exit (then 'exit' cleans up);
// alone, this one would swallow the signal: clean up and end as the signal would have.
const onSignal = (sig: NodeJS.Signals) => {
  if (process.listenerCount(sig) > 1) return
  destroyAll()
  process.exit(sig === 'SIGINT' ? 130 : 143)
}
function watch(on: boolean): void {
  if (on && live.size === 1) {
    process.on('exit', destroyAll)
    process.on('SIGINT', onSignal)
    process.on('SIGTERM', onSignal)
  } else if (!on && live.size === 0) {
    process.off('exit', destroyAll)
    process.off('SIGINT', onSignal)
    process.off('SIGTERM', onSignal)
  }
}

/** Creates the bridge and `count` namespaces; throws NetnsUnavailable (one line) when the machine does not allow it. */
export function createNetns(count: number): Netns {
  const why = netnsUnavailable()
  if (why) throw new NetnsUnavailable(why)
  if (count < 1 || count > 200) throw new NetnsUnavailable('a netns network holds 1..200 nodes')
  sweepDead()
  const id = runId(seq++)
  const bridge = BRIDGE + id
  const nodes: NetnsNode[] = []
  const cuts: [string, string][] = []
  let k = 0
  let gone = false
  const net: Netns = {
    id, bridge, nodes,
    get hostAddr() { return `10.77.${k}.1` },
    cut(a, b) {
      for (const [from, to] of [[a, b], [b, a]] as const) {
        for (const i of from) {
          for (const j of to) {
            // An unreachable route: connecting fails at once; then reset what was connected (a cut cable would leave it to time out).
            ip(['-n', nodes[i]!.ns, 'route', 'add', 'unreachable', `${nodes[j]!.addr}/32`])
            cuts.push([nodes[i]!.ns, nodes[j]!.addr])
            quietly(() => execFileSync('ip', ['netns', 'exec', nodes[i]!.ns, 'ss', '-K', 'dst', nodes[j]!.addr], { stdio: 'ignore' }))
          }
        }
      }
    },
    heal() {
      for (const [ns, addr] of cuts.splice(0)) quietly(() => ip(['-n', ns, 'route', 'del', 'unreachable', `${addr}/32`]))
    },
    destroy() {
      if (gone) return
      gone = true
      for (const n of nodes) removeNamespace(n.ns)
      for (const n of nodes) quietly(() => ip(['link', 'del', n.veth]))
      quietly(() => ip(['link', 'del', bridge]))
      live.delete(net)
      watch(false)
    },
  }
  live.add(net)
  watch(true)
  try {
    ip(['link', 'add', bridge, 'type', 'bridge'])
    for (let attempt = 0; ; attempt++) {
      k = freeSubnet()
      ip(['addr', 'add', `10.77.${k}.1/24`, 'dev', bridge])
      // Another run may have picked the same /24 at the same moment: the first to check keeps it.
      const holders = ip(['-4', '-o', 'addr', 'show']).split('\n').filter((l) => l.includes(`inet 10.77.${k}.`))
      if (holders.length === 1 || attempt >= 5) break
      ip(['addr', 'del', `10.77.${k}.1/24`, 'dev', bridge])
    }
    ip(['link', 'set', bridge, 'up'])
    for (let i = 0; i < count; i++) {
      const n: NetnsNode = { ns: `${NS}${id}${i.toString(36)}`, veth: `${VETH}${id}${i.toString(36)}`, addr: `10.77.${k}.${i + 10}` }
      nodes.push(n)
      ip(['netns', 'add', n.ns])
      ip(['link', 'add', n.veth, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', n.ns])
      ip(['link', 'set', n.veth, 'master', bridge, 'up'])
      ip(['-n', n.ns, 'addr', 'add', `${n.addr}/24`, 'dev', 'eth0'])
      ip(['-n', n.ns, 'link', 'set', 'eth0', 'up'])
      ip(['-n', n.ns, 'link', 'set', 'lo', 'up'])
    }
  } catch (e) {
    net.destroy()
    throw e instanceof NetnsUnavailable ? e : new NetnsUnavailable(`could not build the netns network: ${firstLine(e)}`)
  }
  return net
}
