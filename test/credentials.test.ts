/**
 * Credentials every member accepts (spec/credentials.md): the vectors, the
 * verifier against a roster whose member's key is compromised, and a
 * federation of three nodes: a credential issued by A reads /feed from B
 * and C, B's access log names A as issuer, a revocation at A reaches B and
 * C (and C after it was down), and bad credentials and statements are
 * refused and counted.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { readFileSync, existsSync } from 'node:fs'
import { join } from 'node:path'
import { fromHex, sha256 } from '../protocol/bytes.ts'
import { isLedgerError } from '../protocol/errors.ts'
import { verifyCredential, signCredential, type Credential, type IssuerLookup } from '../protocol/credential.ts'
import { verifyRevocation, signRevocation } from '../protocol/credential-revocation.ts'
import { signEntry } from '../protocol/entry.ts'
import { openEntryWithKeys } from '../protocol/log-keys.ts'
import { Roster } from '../protocol/roster.ts'
import type { CairnRecord } from '../protocol/records.ts'
import { CredentialVerifier } from '../node/credentials/verifier.ts'
import { PROTO_CREDENTIAL_REVOCATIONS } from '../node/credentials/relay.ts'
import { encodeCanonical } from '../protocol/cbor.ts'
import { credentialCases } from '../spec/gen/credentials.ts'
import type { CairnNode } from '../node/node.ts'
import { startCluster, waitFor, type Cluster } from './support/cluster.ts'
import { runCairn } from './support/cli.ts'
import { threeMembers } from './support/three-members.ts'
import { vectorFolder, assertGenerated, codeOf } from './helpers.ts'

// ------------------------------------------------------------------ vectors

interface CredentialVector {
  description: string
  kind: 'credential' | 'revocation'
  now: number
  issuers: { origin: string; active: boolean; keys: { public_key: string; compromised: boolean }[] }[]
  text: string
  valid: boolean
  payload?: Record<string, unknown>
  error?: string
}

const vectorDir = new URL('../spec/vectors/credentials', import.meta.url).pathname
const { files, load } = vectorFolder<CredentialVector>(vectorDir)

const lookup = (v: CredentialVector): IssuerLookup => (origin) => {
  const m = v.issuers.find((x) => x.origin === origin)
  return m && { active: m.active, keys: m.keys.map((k) => ({ publicKey: fromHex(k.public_key), compromised: k.compromised })) }
}

test('the credential vectors are what spec/gen writes', () => {
  assertGenerated(vectorDir, files, credentialCases())
  assert.ok(files.length >= 20)
})

for (const f of files) {
  test(`vector ${f}`, () => {
    const v = load(f)
    const check = () => v.kind === 'credential' ? verifyCredential(v.text, lookup(v), v.now) : verifyRevocation(v.text, lookup(v))
    if (v.valid) assert.equal({ ...check() }, v.payload, v.description)
    else assert.is(codeOf(check), v.error, v.description)
  })
}

// ------------------------------------------------------------------ the verifier and the roster

test('a credential of a member whose log key the roster marks compromised is refused, whatever its dates', () => {
  const { log, origin, genesis, header, next } = threeMembers('cred.cairn')
  const roster = new Roster(genesis)
  const revoked = new Set<string>()
  const nowMs = Date.now()
  const verifier = new CredentialVerifier(roster, { has: (i, id) => revoked.has(`${i} ${id}`) }, () => nowMs)
  const iat = Math.floor(nowMs / 1000) - 3600
  const cred = (seed: Uint8Array, over: Partial<Credential> = {}) => signCredential(seed, { v: 1, issuer: origin('a'), holder: 'P', role: 'provider', id: 'ab'.repeat(16), iat, exp: iat + 86_400, ...over })
  const before = cred(log.a!.seed)
  assert.is(verifier.checkOrThrow(before).issuer, origin('a'))
  assert.ok(verifier.known(before), 'cached once verified')
  // b proposes a compromise of a's log key, c confirms: threshold 2.
  const leaf = (e: Uint8Array) => sha256(new Uint8Array([0, ...e]))
  const proposal = signEntry(log.b!.seed, { ...header('b', 0), type: 'roster', change: 'compromise', member: 'a', from: 0, key: next.publicKey } as CairnRecord)
  const confirm = signEntry(log.c!.seed, { ...header('c', 0), type: 'attestation', target: leaf(proposal), opinion: 'confirm' } as CairnRecord)
  roster.observe(origin('b'), leaf(proposal), openEntryWithKeys(proposal, roster.logKeys(origin('b')), origin('b'), 0).record)
  assert.ok(roster.observe(origin('c'), leaf(confirm), openEntryWithKeys(confirm, roster.logKeys(origin('c')), origin('c'), 0).record))
  assert.is(verifier.known(before), undefined, 'the cache is emptied when a roster change applies')
  let code = ''
  try { verifier.checkOrThrow(before) } catch (e) { code = isLedgerError(e) ? e.code : String(e) }
  assert.is(code, 'KEY_COMPROMISED')
  // The new key issues again; a revocation of it is then honoured.
  const after = cred(next.seed, { id: 'cd'.repeat(16) })
  assert.is(verifier.checkOrThrow(after).name, 'P')
  revoked.add(`${origin('a')} ${'cd'.repeat(16)}`)
  assert.is(verifier.known(after), undefined)
  code = ''
  try { verifier.checkOrThrow(after) } catch (e) { code = isLedgerError(e) ? e.code : String(e) }
  assert.is(code, 'CREDENTIAL_REVOKED')
  assert.equal(verifier.stats.rejected, { KEY_COMPROMISED: 1, CREDENTIAL_REVOKED: 1 })
})

// ------------------------------------------------------------------ a federation of three

let cluster: Cluster
let A: CairnNode, B: CairnNode, C: CairnNode

async function call(node: CairnNode, token: string | undefined, method: string, path: string, body?: unknown) {
  const res = await fetch(node.url + path, {
    method,
    headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    body: body === undefined ? undefined : JSON.stringify(body),
  })
  const text = await res.text()
  let json: any
  try { json = JSON.parse(text) } catch { json = text }
  return { status: res.status, json }
}
const op = (i: number) => cluster.operatorTokens[i]!
const feedStatus = async (node: CairnNode, token: string) => (await call(node, token, 'GET', '/feed?limit=1')).status

test('federation: start three members', async () => {
  cluster = await startCluster(3, {})
  ;[A, B, C] = cluster.nodes as [CairnNode, CairnNode, CairnNode]
  await waitFor('every node connected to the two others', () => cluster.nodes.every((n) => n.peer.connectedPeers().length >= 2), 30_000)
})

test('a credential issued by A (POST /credentials) reads /feed from B and C; B\'s access log names A as the issuer', async () => {
  const r = await call(A, op(0), 'POST', '/credentials', { holder: 'Example Platform', role: 'provider', days: 30 })
  assert.is(r.status, 201, JSON.stringify(r.json))
  assert.match(r.json.credential, /^cairn1\./)
  assert.is(r.json.issuer, A.origin)
  const cred = r.json.credential as string
  assert.is(await feedStatus(A, cred), 200)
  assert.is(await feedStatus(B, cred), 200)
  assert.is(await feedStatus(C, cred), 200)
  const rows = (await B.accessLog.query({ name: 'Example Platform' })).rows
  assert.ok(rows.length >= 1)
  assert.equal([rows[0]!.role, rows[0]!.issuer, rows[0]!.status], ['provider', A.origin, 200])
  // A provider credential is not an operator token, on any node.
  assert.is((await call(B, cred, 'GET', '/status')).status, 403)
  const list = await call(A, op(0), 'GET', '/credentials')
  assert.equal(list.json.map((x: any) => [x.id, x.holder, x.role, x.revoked]), [[r.json.id, 'Example Platform', 'provider', undefined]])
  assert.not.ok(JSON.stringify(list.json).includes(cred.split('.')[2]!), 'the list never holds the credential itself')
})

test('forged, tampered, expired, unknown-issuer and operator-role credentials are refused with 401 and counted', async () => {
  const seed = cluster.nodes[0]!.keys.logSeed
  const iat = Math.floor(Date.now() / 1000) - 3600
  const base: Credential = { v: 1, issuer: A.origin, holder: 'Mallory', role: 'provider', id: 'ef'.repeat(16), iat, exp: iat + 86_400 }
  const good = signCredential(seed, base)
  const [, payload, sig] = good.split('.')
  const other = signCredential(B.keys.logSeed, base) // forged: signed by B's key in A's name
  const tampered = `cairn1.${signCredential(seed, { ...base, holder: 'Someone Else' }).split('.')[1]}.${sig}`
  const expired = signCredential(seed, { ...base, iat: iat - 86_400, exp: iat })
  const stranger = signCredential(seed, { ...base, issuer: 'nowhere.cairn/x' })
  const operator = `cairn1.${Buffer.from(encodeCanonical({ ...base, role: 'operator' })).toString('base64url')}.${sig}`
  assert.is(await feedStatus(B, good), 200, `control: ${payload!.length}`)
  const before = { ...B.status().credentials!.accepted.rejected }
  for (const bad of [other, tampered, expired, stranger, operator]) {
    const r = await call(B, bad, 'GET', '/feed?limit=1')
    assert.is(r.status, 401, bad)
    assert.is(r.json.error.code, 'UNAUTHORIZED')
  }
  const after = B.status().credentials!.accepted.rejected
  const delta = (k: string) => (after[k] ?? 0) - (before[k] ?? 0)
  assert.equal([delta('BAD_SIGNATURE'), delta('CREDENTIAL_EXPIRED'), delta('UNKNOWN_ISSUER'), delta('ROLE_FORBIDDEN')], [2, 1, 1, 1])
  const unauth = (await B.accessLog.query({ role: 'unauthenticated' })).rows
  assert.ok(unauth.length >= 5, 'every 401 is in the access log')
})

test('revoked at A: refused at B and at C, and at a node that was down during the revocation once it is back', async () => {
  const issued = await call(A, op(0), 'POST', '/credentials', { holder: 'Revoked Platform', role: 'auditor', days: 10 })
  const cred = issued.json.credential as string
  assert.is(await feedStatus(B, cred), 200)
  assert.is(await feedStatus(C, cred), 200)
  await cluster.stop(2)
  const r = await call(A, op(0), 'POST', `/credentials/${issued.json.id}/revoke`)
  assert.is(r.status, 200, JSON.stringify(r.json))
  assert.ok(r.json.revoked)
  assert.is(await feedStatus(A, cred), 401)
  await waitFor('B to refuse the revoked credential', async () => (await feedStatus(B, cred)) === 401, 10_000)
  assert.ok(B.status().credentials!.revocations.stored >= 1)
  C = await cluster.start(2)
  await waitFor('C, back, to refuse the revoked credential', async () => (await feedStatus(C, cred)) === 401, 20_000)
  assert.ok(C.status().credentials!.relay.received >= 1)
  const again = await call(C, cred, 'GET', '/feed?limit=1')
  assert.match(again.json.error.message, /revoked/)
  // Kept across a restart of the node (the file is read back).
  assert.ok(existsSync(join(cluster.planned[2]!.dir, 'credential-revocations.jsonl')))
  const listed = await call(A, op(0), 'GET', '/credentials')
  assert.ok(listed.json.find((x: any) => x.id === issued.json.id).revoked)
})

test('hostile revocation statements from a member are refused, counted and never stored', async () => {
  const iat = Math.floor(Date.now() / 1000)
  const forged = signRevocation(C.keys.logSeed, { v: 1, issuer: A.origin, id: '12'.repeat(16), exp: iat + 3600, time: iat }) // C signs in A's name
  const stranger = signRevocation(C.keys.logSeed, { v: 1, issuer: 'nowhere.cairn/x', id: '34'.repeat(16), exp: iat + 3600, time: iat })
  const oversized = 'cairn1r.' + 'A'.repeat(600) + '.' + 'A'.repeat(86)
  const peerIdB = B.keys.peerId
  const before = { ...B.status().credentials!.relay.peer_rejected }
  const stored = B.status().credentials!.revocations.stored
  await C.peer.requestAll(peerIdB, PROTO_CREDENTIAL_REVOCATIONS, [encodeCanonical({ t: 'push', s: [forged, stranger, oversized] })], { timeoutMs: 5000, maxResponseFrames: 0 })
  const delta = (k: string) => (B.status().credentials!.relay.peer_rejected[k] ?? 0) - (before[k] ?? 0)
  await waitFor('B to count the three statements', () => delta('BAD_SIGNATURE') + delta('UNKNOWN_ISSUER') + delta('TOO_LARGE') >= 3, 5000)
  assert.equal([delta('BAD_SIGNATURE'), delta('UNKNOWN_ISSUER'), delta('TOO_LARGE')], [1, 1, 1])
  assert.is(B.status().credentials!.revocations.stored, stored)
  const file = join(cluster.planned[1]!.dir, 'credential-revocations.jsonl')
  const text = existsSync(file) ? readFileSync(file, 'utf8') : ''
  for (const s of [forged, stranger]) assert.not.ok(text.includes(s))
})

test('cairn credential issue (offline) makes a credential B accepts; the CLI lists and revokes it', async () => {
  const dir = cluster.planned[0]!.dir
  const issued = await runCairn(['credential', 'issue', '--dir', dir, '--holder', 'CLI Platform', '--role', 'provider', '--days', '5'])
  assert.is(issued.code, 0, issued.stderr)
  const cred = issued.stdout.trim()
  assert.is(await feedStatus(B, cred), 200)
  const id = /credential ([0-9a-f]{32})/.exec(issued.stderr)![1]!
  const bad = await runCairn(['credential', 'issue', '--dir', dir, '--holder', 'X', '--role', 'operator'])
  assert.is(bad.code, 1)
  assert.match(bad.stderr, /^error ROLE_FORBIDDEN: /)
  assert.not.match(bad.stderr, /\n\s+at /)
  const list = await runCairn(['credential', 'list', '--node', A.url, '--token', op(0)])
  assert.match(list.stdout, new RegExp(`${id}  provider CLI Platform`))
  const rev = await runCairn(['credential', 'revoke', '--id', id, '--node', A.url, '--token', op(0)])
  assert.is(rev.code, 0, rev.stderr)
  await waitFor('B to refuse the credential revoked by the CLI', async () => (await feedStatus(B, cred)) === 401, 10_000)
  const sync = await runCairn(['sync', '--node', C.url, '--token', cred, '--dir', join(cluster.dir, 'copy')])
  assert.is(sync.code, 1)
  assert.match(sync.stderr, /UNAUTHORIZED/)
})

test('cairn sync --node <another member> --token <credential> works', async () => {
  const r = await call(A, op(0), 'POST', '/credentials', { holder: 'Sync Platform', role: 'provider' })
  const out = await runCairn(['sync', '--node', C.url, '--token', r.json.credential, '--dir', join(cluster.dir, 'copy2')])
  assert.is(out.code, 0, out.stderr)
  const rows = (await C.accessLog.query({ name: 'Sync Platform' })).rows
  assert.ok(rows.length >= 1 && rows.every((x) => x.issuer === A.origin))
})

test.after(async () => {
  await cluster?.close()
})

test.run()
