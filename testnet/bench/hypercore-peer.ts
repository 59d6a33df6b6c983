/**
 * The replicating side of hypercore_replicate_per_s (testnet/bench/hypercore.ts),
 * run as its own process: opens an empty hypercore of the writer's key in
 * `dir`, connects to the writer over TCP on 127.0.0.1:`port`, downloads
 * blocks [0, length) (hypercore verifies each batch against the writer's
 * signed tree), checks the last block's SHA-256, and prints one JSON line:
 * { seconds, length, byte_length } (seconds from the TCP connection to the
 * last block stored), or { error }.
 *
 *   node --import tsx testnet/bench/hypercore-peer.ts <dir> <port> <key hex> <length> <sha256 of the last block, hex>
 */
import { connect } from 'node:net'
import { createHash } from 'node:crypto'
import Hypercore from 'hypercore'

async function main(): Promise<void> {
  const [dir, port, keyHex, lengthArg, lastHash] = process.argv.slice(2)
  const length = Number(lengthArg)
  if (!dir || !port || !keyHex || !(length > 0) || !lastHash) throw new Error('usage: hypercore-peer.ts <dir> <port> <key hex> <length> <last block sha256>')
  const core = new Hypercore(dir, Buffer.from(keyHex, 'hex'))
  await core.ready()
  const socket = connect(Number(port), '127.0.0.1')
  await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject))
  const t0 = performance.now()
  const stream = core.replicate(true)
  socket.pipe(stream).pipe(socket)
  await core.update({ wait: true })
  if (core.length !== length) throw new Error(`the writer's core has ${core.length} blocks, expected ${length}`)
  await core.download({ start: 0, end: length }).done()
  const seconds = (performance.now() - t0) / 1000
  if (core.contiguousLength !== length) throw new Error(`downloaded ${core.contiguousLength} of ${length} blocks`)
  const last = (await core.get(length - 1, { wait: false })) as Buffer | null
  if (!last || createHash('sha256').update(last).digest('hex') !== lastHash) throw new Error('the last block differs from the one appended')
  process.stdout.write(JSON.stringify({ seconds, length: core.length, byte_length: core.byteLength }) + '\n')
  stream.destroy()
  socket.destroy()
  await core.close()
}

main().then(() => process.exit(0), (e) => {
  process.stdout.write(JSON.stringify({ error: (e as Error)?.message ?? String(e) }) + '\n')
  process.exit(1)
})
