/**
 * Node processes for the bench: testnet/processes.ts spawnNode, or — when the
 * bench was asked to profile nodes — the same `cairn node start` with
 * `--cpu-prof` on the command line (node refuses it in NODE_OPTIONS). The
 * profile is written when the node exits on SIGTERM.
 */
import { spawn } from 'node:child_process'
import { existsSync, readFileSync, rmSync, openSync } from 'node:fs'
import { join } from 'node:path'
import { spawnNode, type NodeProcess } from '../processes.ts'

const root = new URL('../..', import.meta.url).pathname

export async function startNodeProcess(dir: string, timeoutMs: number, profileDir?: string): Promise<NodeProcess> {
  if (!profileDir) return spawnNode(dir, { timeoutMs })
  rmSync(join(dir, 'node.url'), { force: true })
  const log = openSync(join(dir, 'node.log'), 'a')
  const proc = spawn(process.execPath, ['--cpu-prof', `--cpu-prof-dir=${profileDir}`, '--import', 'tsx', join(root, 'cli/main.ts'), 'node', 'start', '--dir', dir], {
    cwd: root,
    stdio: ['ignore', log, log],
    env: { ...process.env, CAIRN_LOG_LEVEL: process.env.CAIRN_LOG_LEVEL ?? 'warn' },
  })
  const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)))
  let dead = false
  void exited.then(() => { dead = true })
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline && !dead) {
    if (existsSync(join(dir, 'node.url'))) {
      const url = readFileSync(join(dir, 'node.url'), 'utf8').trim()
      try {
        if ((await fetch(`${url}/logs`)).ok) return { dir, proc, url, operatorToken: readFileSync(join(dir, 'operator.token'), 'utf8').trim(), exited }
      } catch {
        // not listening yet
      }
    }
    await new Promise((r) => setTimeout(r, 100))
  }
  proc.kill('SIGKILL')
  throw new Error(`node in ${dir} did not start; see ${join(dir, 'node.log')}`)
}
