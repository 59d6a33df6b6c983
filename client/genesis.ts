/**
 * Reads a genesis roster file (protocol/genesis.ts): what a provider's sync
 * and an auditor's verifier trust, given `--genesis`.
 */
import { readFileSync } from 'node:fs'
import { LedgerError } from '../protocol/errors.ts'
import { parseGenesis, type Genesis } from '../protocol/genesis.ts'

export function readGenesisFile(path: string): Genesis {
  let text: string
  try {
    text = readFileSync(path, 'utf8')
  } catch (e) {
    throw new LedgerError('BAD_CONFIG', `cannot read genesis roster at ${path}: ${(e as Error).message}`)
  }
  return parseGenesis(text, path)
}
