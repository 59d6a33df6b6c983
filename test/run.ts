/**
 * Runs every `*.test.ts` under test/ (or the files/patterns given) in its own
 * process with uvu, then prints one closing line `N passed, N failed` that CI
 * counts. Each file gets a time limit so a hung test cannot stall CI.
 */
import { spawn } from 'node:child_process'
import { readdirSync, statSync } from 'node:fs'
import { join, relative } from 'node:path'

const root = new URL('..', import.meta.url).pathname
const FILE_TIMEOUT_MS = Number(process.env.CAIRN_TEST_TIMEOUT_MS ?? 15 * 60_000)

function findTests(dir: string): string[] {
  const out: string[] = []
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name)
    if (statSync(p).isDirectory()) out.push(...findTests(p))
    else if (name.endsWith('.test.ts')) out.push(p)
  }
  return out
}

const filters = process.argv.slice(2)
const files = findTests(join(root, 'test')).filter((f) => filters.length === 0 || filters.some((x) => f.includes(x)))

const ANSI = /\x1b\[[0-9;]*m/g

function runFile(file: string): Promise<{ passed: number; failed: number; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', file], {
      cwd: root,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, FORCE_COLOR: '0' },
    })
    let output = ''
    child.stdout.on('data', (d) => { output += d; process.stdout.write(d) })
    child.stderr.on('data', (d) => { output += d; process.stderr.write(d) })
    const timer = setTimeout(() => {
      output += `\n${relative(root, file)}: timed out after ${FILE_TIMEOUT_MS} ms\n`
      child.kill('SIGKILL')
    }, FILE_TIMEOUT_MS)
    child.on('close', (code) => {
      clearTimeout(timer)
      const plain = output.replace(ANSI, '')
      let total = 0, passed = 0
      for (const m of plain.matchAll(/Total:\s+(\d+)/g)) total += Number(m[1])
      for (const m of plain.matchAll(/Passed:\s+(\d+)/g)) passed += Number(m[1])
      let failed = total - passed
      // A file that crashed or timed out before uvu reported counts as one failure.
      if (code !== 0 && failed === 0) failed = 1
      resolve({ passed, failed, output: plain })
    })
  })
}

let passed = 0, failed = 0
const failedFiles: string[] = []
for (const file of files) {
  console.log(`\n# ${relative(root, file)}`)
  const r = await runFile(file)
  passed += r.passed
  failed += r.failed
  if (r.failed > 0) failedFiles.push(relative(root, file))
}
if (failedFiles.length) console.log(`\nfailing files: ${failedFiles.join(', ')}`)
console.log(`\n${passed} passed, ${failed} failed`)
process.exit(failed > 0 ? 1 : 0)
