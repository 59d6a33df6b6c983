/**
 * Which node a CLI command talks to: base URL and token, either given
 * (--node, --token) or read from a node directory (--dir: node.url written at
 * start, operator.token written once).
 */
import { readFileSync, existsSync } from 'node:fs'
import { join } from 'node:path'
import { LedgerError } from '../protocol/errors.ts'
import type { Endpoint } from '../client/http.ts'

/** A rate-limited request's retry, said on stderr so a waiting command is not silent. */
const sayRetry = (message: string) => process.stderr.write(`${message}\n`)

export function resolveTarget(o: { node?: string; token?: string; dir?: string }): Endpoint {
  if (o.node) return { url: o.node.replace(/\/$/, ''), token: o.token ?? process.env.CAIRN_TOKEN, onRetry: sayRetry }
  const dir = o.dir ?? process.env.CAIRN_DIR
  if (!dir) throw new LedgerError('BAD_CONFIG', 'say which node: --dir <node directory> (on the node\'s machine) or --node <url> --token <token>')
  const urlFile = join(dir, 'node.url')
  if (!existsSync(urlFile)) throw new LedgerError('BAD_CONFIG', `${urlFile} is missing: is the node running? (cairn node start --dir ${dir})`)
  const tokenFile = join(dir, 'operator.token')
  return {
    url: readFileSync(urlFile, 'utf8').trim(),
    token: o.token ?? (existsSync(tokenFile) ? readFileSync(tokenFile, 'utf8').trim() : undefined),
    onRetry: sayRetry,
  }
}
