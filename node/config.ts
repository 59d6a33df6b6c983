/**
 * On-disk configuration of a node: its keys, its settings and the genesis
 * roster every member starts from. All JSON, validated with zod so a typo in a
 * file is a clear BAD_CONFIG error, not a crash later.
 *
 *   <dir>/keys.json     (0600) log, witness and libp2p seeds, and the keys rotated in since
 *   <dir>/node.json     member name, origin, listen addresses, bootstrap peers
 *   <dir>/genesis.json  the federation's genesis roster (same file on every node)
 *   <dir>/case-ref.key  (0600) the secret under which case references become pseudonyms
 *   <dir>/db/           the level store
 *
 * The directory is 0700 and every file 0600, whatever the umask (privateDir, writePrivate).
 */
import { readFileSync, existsSync, mkdirSync, chmodSync } from 'node:fs'
import { join } from 'node:path'
import { z } from 'zod'
import { LedgerError } from '../protocol/errors.ts'
import { fromHex, toHex } from '../protocol/bytes.ts'
import { REF_SECRET_BYTES } from '../protocol/case-ref.ts'
import { randomBytes } from 'node:crypto'
import { generateKeyPair } from '../protocol/ed25519.ts'
import { verifierKey, parseVerifierKey, SIG_TYPE_ED25519 } from '../protocol/note.ts'
import { witnessVerifierKey } from '../protocol/cosignature.ts'
import { isValidOrigin } from '../protocol/records.ts'
import { checkGenesis, Genesis, type GenesisMember } from '../protocol/genesis.ts'
import { trustedProxies } from './http/client-address.ts'
import { replaceFileSync } from '../client/durable-file.ts'

const hex32 = z.string().regex(/^[0-9a-f]{64}$/, 'must be 64 lowercase hex digits')

/** Keys made by `cairn roster rotate-key` (or for a compromise), oldest first; the node signs with whichever the roster says is valid. */
const RotatedKeys = z.object({ log_seed: hex32.optional(), witness_seed: hex32.optional() }).strict()
export const KeysFile = z.object({ log_seed: hex32, witness_seed: hex32, p2p_seed: hex32, rotations: z.array(RotatedKeys).max(1000).optional() }).strict()
export type KeysFile = z.infer<typeof KeysFile>

/** The HTTP API's abuse limits when node.json does not set them. */
export const LIMIT_DEFAULTS = {
  token: { rate_per_s: 500, burst: 1000 },
  address: { rate_per_s: 50, burst: 500 },
  auth_failure_cost: 10,
  max_connections: 1000,
  connections_per_address: 100,
  headers_timeout_s: 10,
  request_timeout_s: 30,
}

/** A token bucket: credits per second (0: no limit) and the most it holds. */
const bucket = (d: { rate_per_s: number; burst: number }) =>
  z.object({ rate_per_s: z.number().min(0).max(1_000_000).default(d.rate_per_s), burst: z.number().int().min(1).max(10_000_000).default(d.burst) }).strict().default(d)

export const NodeFile = z.object({
  name: z.string().regex(/^[A-Za-z0-9._-]+$/),
  origin: z.string().refine(isValidOrigin, 'must be <federation>/<member> without spaces or +'),
  http: z.object({
    host: z.string().default('127.0.0.1'),
    port: z.number().int().min(0).max(65535).default(0),
    /** Serve HTTPS with this certificate chain and private key (PEM files; relative paths are from the node directory). */
    tls: z.object({ cert: z.string().min(1), key: z.string().min(1) }).strict().optional(),
    /** Reverse proxies (addresses or CIDR ranges) whose X-Forwarded-For names the caller (node/http/client-address.ts). */
    trusted_proxies: z.array(z.string().refine(isProxyRange, 'must be an IPv4 or IPv6 address or CIDR range, e.g. 10.0.0.0/8 or ::1')).max(1000).optional(),
  }).strict().default({ host: '127.0.0.1', port: 0 }),
  listen: z.array(z.string()).default(['/ip4/127.0.0.1/tcp/0']),
  /** Multiaddrs other members dial (a public address or DNS name: /ip4/…, /ip6/…, /dns4/…, /dns6/…, /dns/… with /tcp/<port>); empty: the listen addresses. */
  advertise: z.array(z.string().refine(isDialable, 'must be /ip4/, /ip6/, /dns4/, /dns6/ or /dns/ <host> /tcp/<port>, and not an unspecified address (0.0.0.0, ::)')).default([]),
  /** Multiaddrs (with /p2p/<peer id>) of other members to keep connected to. */
  bootstrap: z.array(z.string()).default([]),
  /** Publishing batches, one signed checkpoint each: at most max_records records; a batch starts at most max_ms after its first record arrived (at once when the log was idle) and at least max_ms after the batch before, unless full. */
  batch: z.object({ max_records: z.number().int().min(1).max(100_000).default(2000), max_ms: z.number().int().min(5).max(60_000).default(100) }).default({ max_records: 2000, max_ms: 100 }),
  /** Sign the own log at start without asking the other members how far it goes (replication/own-log.ts). */
  alone: z.boolean().default(false),
  /** A static mirror of the logs (node/mirror/): a directory or an S3-compatible bucket, exactly one. */
  mirror: z.object({
    dir: z.string().min(1).optional(),
    s3: z.object({
      endpoint: z.string().url().optional(),
      bucket: z.string().regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, 'must be an S3 bucket name: 3–63 lowercase letters, digits, dots and dashes'),
      prefix: z.string().max(512).regex(/^(?!\/)[A-Za-z0-9._\/-]*$/, 'must be letters, digits, ".", "_", "-" and "/" (not first)').default(''),
      region: z.string().min(1).max(64).default('us-east-1'),
      force_path_style: z.boolean().default(false),
    }).strict().optional(),
    snapshot_minutes: z.number().int().min(1).max(10_080).default(10),
  }).strict().refine((m) => (m.dir === undefined) !== (m.s3 === undefined), 'set exactly one of mirror.dir and mirror.s3').optional(),
  /** The store's disk: writes are refused (507 STORAGE_FULL) while it has less than min_free_mib free, so LevelDB never meets a full disk (node/storage/kv.ts). */
  storage: z.object({ min_free_mib: z.number().int().min(0).max(1_048_576).default(256) }).strict().default({ min_free_mib: 256 }),
  /** Abuse limits of the HTTP API (node/http/guard.ts, node/http/server.ts); docs/reference.md gives each field's meaning. */
  limits: z.object({
    token: bucket(LIMIT_DEFAULTS.token),
    address: bucket(LIMIT_DEFAULTS.address),
    auth_failure_cost: z.number().int().min(1).max(1000).default(LIMIT_DEFAULTS.auth_failure_cost),
    max_connections: z.number().int().min(1).max(100_000).default(LIMIT_DEFAULTS.max_connections),
    connections_per_address: z.number().int().min(1).max(100_000).default(LIMIT_DEFAULTS.connections_per_address),
    headers_timeout_s: z.number().int().min(1).max(300).default(LIMIT_DEFAULTS.headers_timeout_s),
    request_timeout_s: z.number().int().min(1).max(3600).default(LIMIT_DEFAULTS.request_timeout_s),
  }).strict().default(LIMIT_DEFAULTS),
}).strict()
export type NodeFile = z.infer<typeof NodeFile>

function isProxyRange(item: string): boolean {
  try {
    trustedProxies([item])
    return true
  } catch {
    return false
  }
}

const UNSPECIFIED = new Set(['0.0.0.0', '::', '0:0:0:0:0:0:0:0'])

/** Whether a multiaddr is one another member can dial: a host (IP or DNS name, not 0.0.0.0 or ::) and a TCP port. */
export function isDialable(addr: string): boolean {
  const m = /^\/(ip4|ip6|dns4|dns6|dns)\/([^/]+)\/tcp\/(\d{1,5})(\/p2p\/[1-9A-HJ-NP-Za-km-z]+)?$/.exec(addr)
  if (!m || UNSPECIFIED.has(m[2]!) || Number(m[3]) < 1 || Number(m[3]) > 65535) return false
  if (m[1] === 'ip4') return /^(\d{1,3})(\.\d{1,3}){3}$/.test(m[2]!) && m[2]!.split('.').every((o) => Number(o) <= 255)
  if (m[1] === 'ip6') return m[2]!.includes(':')
  return /^[A-Za-z0-9]([A-Za-z0-9-]{0,62}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,62}[A-Za-z0-9])?)*$/.test(m[2]!)
}

export interface NodeKeys {
  /** The first log key (genesis); every log key the file holds is in logSeeds. */
  logSeed: Uint8Array
  logPublicKey: Uint8Array
  /** Every log and witness seed in keys.json, the first ones first, then the rotations in order. */
  logSeeds: Uint8Array[]
  witnessSeeds: Uint8Array[]
  witnessSeed: Uint8Array
  witnessPublicKey: Uint8Array
  p2pSeed: Uint8Array
  peerId: string
}

/** Creates `dir` (and missing parents) and makes it 0700: a node directory holds secrets. */
export function privateDir(dir: string): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 })
  chmodSync(dir, 0o700)
}

/** Writes a file of a node directory, mode 0600 whatever the umask (a crash leaves the old file or the new one, fsynced). */
export function writePrivate(path: string, data: string | Uint8Array): void {
  replaceFileSync(path, data, 0o600)
}

/**
 * The centre's case-reference secret (<dir>/case-ref.key, 64 hex digits,
 * 0600), made at keygen or, for a directory made before, at first start.
 * Backups carry it (a top-level file); losing it means the pseudonyms of
 * new records no longer match those of the old ones.
 */
export function loadOrCreateRefSecret(dir: string): Uint8Array {
  const path = join(dir, 'case-ref.key')
  if (!existsSync(path)) writePrivate(path, toHex(randomBytes(REF_SECRET_BYTES)) + '\n')
  const text = readFileSync(path, 'utf8').trim()
  if (!/^[0-9a-f]{64}$/.test(text)) throw new LedgerError('BAD_CONFIG', `${path} must hold the case-reference secret: 64 lowercase hex digits (restore it from a backup; a new one changes every pseudonym)`)
  return fromHex(text)
}

export function parseJsonFile<T>(path: string, schema: z.ZodType<T>, what: string): T {
  let raw: unknown
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'))
  } catch (e) {
    throw new LedgerError('BAD_CONFIG', `cannot read ${what} at ${path}: ${(e as Error).message}`)
  }
  const r = schema.safeParse(raw)
  if (!r.success) {
    const issue = r.error.issues[0]!
    throw new LedgerError('BAD_CONFIG', `${what} at ${path}: ${issue.path.join('.') || '(root)'}: ${issue.message}`)
  }
  return r.data
}

export async function loadKeys(dir: string): Promise<NodeKeys> {
  const k = parseJsonFile(join(dir, 'keys.json'), KeysFile, 'key file')
  const log = generateKeyPair(fromHex(k.log_seed))
  const witness = generateKeyPair(fromHex(k.witness_seed))
  const p2pSeed = fromHex(k.p2p_seed)
  const { logSeeds, witnessSeeds } = loadKeySeeds(dir)
  return { logSeed: log.seed, logPublicKey: log.publicKey, witnessSeed: witness.seed, witnessPublicKey: witness.publicKey, logSeeds, witnessSeeds, p2pSeed, peerId: await (await import('./replication/peer.ts')).peerIdFromSeed(p2pSeed) } // libp2p loads only here, not with every CLI command
}

/** Every log and witness seed keys.json holds now (a running node re-reads it after `cairn roster rotate-key`). */
export function loadKeySeeds(dir: string): { logSeeds: Uint8Array[]; witnessSeeds: Uint8Array[] } {
  const k = parseJsonFile(join(dir, 'keys.json'), KeysFile, 'key file')
  const rotations = k.rotations ?? []
  return {
    logSeeds: [k.log_seed, ...rotations.flatMap((r) => r.log_seed ? [r.log_seed] : [])].map((h) => fromHex(h)),
    witnessSeeds: [k.witness_seed, ...rotations.flatMap((r) => r.witness_seed ? [r.witness_seed] : [])].map((h) => fromHex(h)),
  }
}

/**
 * Adds fresh keys to keys.json (kept beside the old ones, which still sign
 * the log's earlier checkpoints' proofs of history) and returns their public
 * halves. Written to a temporary file and renamed, so a crash leaves the old
 * file or the new one.
 */
export function addRotationKeys(dir: string, which: { log: boolean; witness: boolean }): { logPublicKey?: Uint8Array; witnessPublicKey?: Uint8Array } {
  const path = join(dir, 'keys.json')
  const k = parseJsonFile(path, KeysFile, 'key file')
  const entry: z.infer<typeof RotatedKeys> = {}
  const out: { logPublicKey?: Uint8Array; witnessPublicKey?: Uint8Array } = {}
  if (which.log) {
    const pair = generateKeyPair()
    entry.log_seed = toHex(pair.seed)
    out.logPublicKey = pair.publicKey
  }
  if (which.witness) {
    const pair = generateKeyPair()
    entry.witness_seed = toHex(pair.seed)
    out.witnessPublicKey = pair.publicKey
  }
  const next: KeysFile = { ...k, rotations: [...(k.rotations ?? []), entry] }
  writePrivate(path, JSON.stringify(next, null, 2) + '\n')
  return out
}

/** The public half of a member, as it goes into the genesis roster. */
export function memberEntry(origin: string, keys: NodeKeys, roles: readonly string[], addrs: string[] = []): GenesisMember {
  const name = origin.split('/')[1]!
  return {
    name,
    origin,
    vkey: verifierKey(origin, keys.logPublicKey, SIG_TYPE_ED25519),
    witness_vkey: witnessVerifierKey(origin, keys.witnessPublicKey),
    peer_id: keys.peerId,
    roles: [...roles] as GenesisMember['roles'],
    addrs,
  }
}

/** Creates a node directory with fresh keys and node.json; refuses to overwrite existing keys. */
export async function initNodeDir(dir: string, origin: string, settings: Partial<NodeFile> = {}): Promise<{ keys: NodeKeys; node: NodeFile }> {
  if (!isValidOrigin(origin)) throw new LedgerError('BAD_CONFIG', `origin ${origin} must look like <federation>/<member>`)
  privateDir(dir)
  const keysPath = join(dir, 'keys.json')
  if (existsSync(keysPath)) throw new LedgerError('CONFLICT', `${keysPath} already exists; refusing to overwrite a node's keys`)
  const seeds: KeysFile = {
    log_seed: toHex(generateKeyPair().seed),
    witness_seed: toHex(generateKeyPair().seed),
    p2p_seed: toHex(generateKeyPair().seed),
  }
  writePrivate(keysPath, JSON.stringify(seeds, null, 2) + '\n')
  loadOrCreateRefSecret(dir)
  const node = NodeFile.parse({ name: origin.split('/')[1], origin, ...settings })
  writePrivate(join(dir, 'node.json'), JSON.stringify(node, null, 2) + '\n')
  return { keys: await loadKeys(dir), node }
}

export function loadNodeFile(dir: string): NodeFile {
  return parseJsonFile(join(dir, 'node.json'), NodeFile, 'node settings')
}

export function saveNodeFile(dir: string, node: NodeFile): void {
  writePrivate(join(dir, 'node.json'), JSON.stringify(NodeFile.parse(node), null, 2) + '\n')
}

/** Loads and checks a genesis roster: unique names/origins/peers, keys that parse and match their origin. */
export function loadGenesis(path: string): Genesis {
  const g = parseJsonFile(path, Genesis, 'genesis roster')
  checkGenesis(g)
  return g
}

export function writeGenesis(path: string, g: Genesis): void {
  checkGenesis(g)
  writePrivate(path, JSON.stringify(g, null, 2) + '\n')
}
