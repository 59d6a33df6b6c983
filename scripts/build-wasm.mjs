#!/usr/bin/env node
/**
 * `npm run build:wasm`: compiles PDQ's kernels (wasm/pdq-kernels.ts,
 * AssemblyScript) and writes the module, base64, into
 * protocol/pdq-kernels-wasm.ts, so protocol/ loads it without file I/O and
 * dist/ needs no copy of it. `--out FILE` writes that module elsewhere (the
 * test that the committed one is what the source builds).
 */
import { spawnSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const at = process.argv.indexOf('--out')
const out = at > 0 ? process.argv[at + 1] : join(root, 'protocol/pdq-kernels-wasm.ts')
const tmp = mkdtempSync(join(tmpdir(), 'cairn-wasm-'))
try {
  const wasm = join(tmp, 'pdq-kernels.wasm')
  const asc = spawnSync(process.execPath, [join(root, 'node_modules/assemblyscript/bin/asc.js'), join(root, 'wasm/pdq-kernels.ts'),
    '-O3', '--runtime', 'stub', '--noAssert', '--enable', 'simd', '--outFile', wasm], { cwd: root, stdio: 'inherit' })
  if (asc.status !== 0) process.exit(1)
  const b64 = readFileSync(wasm).toString('base64')
  const lines = b64.match(/.{1,100}/g)
  writeFileSync(out, `/**
 * PDQ's WebAssembly kernels, compiled from wasm/pdq-kernels.ts by
 * \`npm run build:wasm\` (AssemblyScript, -O3, SIMD); generated, do not edit.
 * test/pdq-wasm.test.ts checks that this is what the source builds.
 */
export const PDQ_KERNELS_WASM_BASE64 =
${lines.map((l, i) => `  '${l}'${i === lines.length - 1 ? '' : ' +'}`).join('\n')}
`)
} finally {
  rmSync(tmp, { recursive: true, force: true })
}
