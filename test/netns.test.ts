/**
 * A federation across hosts: three nodes, each in a network namespace of its
 * own (testnet/netns.ts), publish and converge over the bridge; every member
 * is dialled at its namespace's address, never loopback; afterwards nothing
 * of the run is left (namespace, veth, bridge). Skipped, with one line, where
 * the machine does not allow namespaces (not root, no iproute2).
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { execFileSync } from 'node:child_process'
import { mkdtempSync, rmSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createNetns, leftovers, netnsUnavailable, type Netns } from '../testnet/netns.ts'
import { launch, importSamples, waitConverged, type Launched } from '../testnet/launch.ts'
import { checkConvergence } from '../testnet/convergence.ts'

const why = netnsUnavailable()
if (why) {
  console.log(`skip netns.test.ts: ${why}`)
} else {
  test('three nodes in three namespaces publish, converge, and leave nothing behind', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cairn-netns-test-'))
    let net: Netns | undefined
    let fed: Launched | undefined
    try {
      net = createNetns(3)
      assert.is(leftovers(net.id).length, 7, 'a bridge, three veths and three namespaces')
      fed = await launch(dir, ['a', 'b', 'c'], 'netns.cairn', {}, net)
      const expected = await importSamples(fed, 30)
      const urls = fed.procs.map((p) => p.url)
      await waitConverged(urls, expected, 60_000)
      assert.ok((await checkConvergence(urls, expected)).done)

      const genesis = JSON.parse(readFileSync(join(dir, 'genesis.json'), 'utf8')) as { members: { name: string; addrs: string[] }[] }
      for (const [i, n] of net.nodes.entries()) {
        assert.equal(genesis.members[i]!.addrs, [`/ip4/${n.addr}/tcp/4001`], `${genesis.members[i]!.name}'s member address`)
        assert.is(fed.procs[i]!.url, `http://${n.addr}:8080`)
        // Replication really crosses the bridge: an established libp2p connection to another namespace's address.
        const conns = execFileSync('ip', ['netns', 'exec', n.ns, 'ss', '-Htn', 'state', 'established'], { encoding: 'utf8' })
        const others = net.nodes.filter((o) => o !== n).map((o) => `${o.addr}:`)
        assert.ok(others.some((o) => conns.includes(o)), `${n.ns} has no connection to another node: ${conns}`)
        assert.not.ok(/127\.0\.0\.1:4001/.test(conns), 'no member connection over loopback')
      }
    } finally {
      await fed?.stop()
      net?.destroy()
      rmSync(dir, { recursive: true, force: true })
    }
    assert.equal(leftovers(net!.id), [], 'nothing of the run remains')
  })
}

test.run()
