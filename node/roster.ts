/**
 * The federation's membership as this node currently knows it. The rules
 * (quorum, key ranges, cut-overs, compromise) live in protocol/roster.ts so
 * that clients apply roster changes exactly as nodes do; the node feeds it
 * every roster record and confirmation it stores, and reads its gates:
 * which peers may connect, which logs are accepted, which record types a log
 * may write, which key is valid at an index.
 */
export { Roster, cosigners, witnessKeyAt, type Member, type WitnessKey, type PendingRotation, type RosterListener } from '../protocol/roster.ts'
