/**
 * What openJob (workers/crypto-jobs.ts) costs besides the signature equation,
 * in process, one thread (docs/performance.md, issue 24):
 *
 *   npx tsx testnet/bench/open-job-rest.ts [rounds]
 *
 * Runs the job over the ceilings' 4,080 bench entries (ceilings.ts) with the Ed25519 backend's equation
 * replaced by `true` (every pre-check of protocol/ed25519.ts still runs), and
 * prints the min and the median of the rounds, per record. The same entries
 * verified for real by the backend alone give the signature's share.
 */
import { ed25519Backend } from '../../protocol/ed25519.ts'
import { openJob } from '../../workers/crypto-jobs.ts'
import { ceilingEntries, ORIGIN } from './ceilings.ts'

function perRecord(rounds: number, step: () => void): { min: number; median: number } {
  const times: number[] = []
  for (let r = 0; r < rounds; r++) {
    const t = performance.now()
    step()
    times.push(((performance.now() - t) * 1000) / ENTRIES)
  }
  times.sort((a, b) => a - b)
  return { min: times[0]!, median: times[times.length >> 1]! }
}

const rounds = Number(process.argv[2] ?? 60)
if (!Number.isInteger(rounds) || rounds < 1) throw new Error(`rounds is a whole number from 1, not ${process.argv[2]}`)
const { publicKey, entries, decoded, messages } = ceilingEntries()
const ENTRIES = entries.length

const equation = perRecord(Math.max(3, Math.round(rounds / 10)), () => {
  for (let i = 0; i < ENTRIES; i++) if (!ed25519Backend.verify(publicKey, messages[i]!, decoded[i]!.signature)) throw new Error(`entry ${i} does not verify`)
})
const real = ed25519Backend.verify
ed25519Backend.verify = () => true
try {
  const rest = perRecord(rounds, () => {
    const { result } = openJob({ origin: ORIGIN, start: 0, entries, keys: [{ publicKey, from: 0 }] })
    if (result.error) throw new Error(`${result.error.code}: ${result.error.message}`)
  })
  console.log(`openJob without the equation: min ${rest.min.toFixed(2)} µs, median ${rest.median.toFixed(2)} µs a record (${rounds} rounds of ${ENTRIES})`)
  console.log(`the equation alone (${ed25519Backend.name}): min ${equation.min.toFixed(2)} µs, median ${equation.median.toFixed(2)} µs a record`)
} finally {
  ed25519Backend.verify = real
}
