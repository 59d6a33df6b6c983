/** The vector topics of DESIGN §6 (plus redactions/ and rosters/) and the generator of each. */
import type { VectorCase } from './seeds.ts'
import { entryCases } from './entries.ts'
import { treeCases } from './trees.ts'
import { checkpointCases } from './checkpoints.ts'
import { proofCases } from './proofs.ts'
import { redactionCases } from './redactions.ts'
import { rosterCases } from './rosters.ts'
import { ed25519Cases } from './ed25519.ts'
import { credentialCases } from './credentials.ts'

export function allTopics(): { topic: string; cases: VectorCase[] }[] {
  return [
    { topic: 'entries', cases: entryCases() },
    { topic: 'trees', cases: treeCases() },
    { topic: 'checkpoints', cases: checkpointCases() },
    { topic: 'proofs', cases: proofCases() },
    { topic: 'redactions', cases: redactionCases() },
    { topic: 'rosters', cases: rosterCases() },
    { topic: 'ed25519', cases: ed25519Cases() },
    { topic: 'credentials', cases: credentialCases() },
  ]
}
