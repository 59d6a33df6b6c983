import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'

const protocolDir = new URL('../protocol', import.meta.url).pathname
const FORBIDDEN = /from\s+['"](?:node:)?(?:fs|fs\/promises|net|http|https|http2|dgram|child_process|worker_threads|cluster|tls|dns)['"]|from\s+['"](?:level|classic-level|libp2p|@libp2p\/[^'"]+|hono|@hono\/[^'"]+)['"]/
const CLOCK = /\bDate\.now\(|new Date\(\)|performance\.now\(|Math\.random\(/

test('protocol/ imports no I/O modules and reads no clock', () => {
  const files = readdirSync(protocolDir).filter((f) => f.endsWith('.ts'))
  assert.ok(files.length > 0)
  for (const f of files) {
    const src = readFileSync(join(protocolDir, f), 'utf8')
    assert.not.match(src, FORBIDDEN, `${f} imports an I/O module`)
    assert.not.match(src, CLOCK, `${f} reads the clock or Math.random`)
  }
})

test('every protocol module loads without side effects on I/O', async () => {
  const files = readdirSync(protocolDir).filter((f) => f.endsWith('.ts'))
  for (const f of files) await import(join(protocolDir, f))
})

test.run()
