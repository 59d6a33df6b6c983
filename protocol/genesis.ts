/**
 * The genesis roster (DESIGN §2): the federation's members, their log and
 * witness verifier keys, libp2p peer ids, roles and the threshold, the same
 * file on every node and in every provider's and auditor's hands. Parsed
 * strictly: a typo is a clear BAD_CONFIG, never a crash later.
 */
import { z } from 'zod'
import { LedgerError } from './errors.ts'
import { parseVerifierKey } from './note.ts'
import { isValidOrigin, ROLES } from './records.ts'

export const GenesisMember = z.object({
  name: z.string().regex(/^[A-Za-z0-9._-]+$/),
  origin: z.string().refine(isValidOrigin, 'must be <federation>/<member>'),
  vkey: z.string(),
  witness_vkey: z.string(),
  peer_id: z.string().regex(/^[A-Za-z0-9]{1,128}$/),
  roles: z.array(z.enum(ROLES)),
  addrs: z.array(z.string()).default([]),
}).strict()
export type GenesisMember = z.infer<typeof GenesisMember>

export const Genesis = z.object({
  federation: z.string().regex(/^[A-Za-z0-9._-]+$/),
  threshold: z.number().int().min(1),
  members: z.array(GenesisMember).min(1).max(100),
}).strict()
export type Genesis = z.infer<typeof Genesis>

/** Parses the text of a genesis file (`where` names it in errors) and checks it. */
export function parseGenesis(text: string, where: string): Genesis {
  let raw: unknown
  try {
    raw = JSON.parse(text)
  } catch (e) {
    throw new LedgerError('BAD_CONFIG', `cannot read genesis roster at ${where}: ${(e as Error).message}`)
  }
  const r = Genesis.safeParse(raw)
  if (!r.success) {
    const issue = r.error.issues[0]!
    throw new LedgerError('BAD_CONFIG', `genesis roster at ${where}: ${issue.path.join('.') || '(root)'}: ${issue.message}`)
  }
  checkGenesis(r.data)
  return r.data
}

/** Unique names, origins and peers; keys that parse, of the right types, named for their origin; a threshold the members can reach. */
export function checkGenesis(g: Genesis): void {
  const seen = new Set<string>()
  for (const m of g.members) {
    for (const k of [`name:${m.name}`, `origin:${m.origin}`, `peer:${m.peer_id}`]) {
      if (seen.has(k)) throw new LedgerError('BAD_CONFIG', `genesis roster lists ${k} twice`)
      seen.add(k)
    }
    if (m.origin !== `${g.federation}/${m.name}`) throw new LedgerError('BAD_CONFIG', `member ${m.name}: origin must be ${g.federation}/${m.name}`)
    const v = parseVerifierKey(m.vkey)
    const w = parseVerifierKey(m.witness_vkey)
    if (v.name !== m.origin || w.name !== m.origin) throw new LedgerError('BAD_CONFIG', `member ${m.name}: verifier key names must equal the origin ${m.origin}`)
    if (v.type !== 0x01 || w.type !== 0x04) throw new LedgerError('BAD_CONFIG', `member ${m.name}: vkey must be type 0x01 and witness_vkey type 0x04`)
  }
  if (g.threshold > g.members.length) throw new LedgerError('BAD_CONFIG', `threshold ${g.threshold} exceeds the ${g.members.length} members`)
}

